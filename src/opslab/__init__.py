"""opslab: the plumbing shared by the MLOps & Deployment course's notebooks.

``import opslab`` is light: the names below are imported on first use (``from opslab import setup_lab``
works as usual), so a process that only needs one submodule (the grader's kernel, ``opslab serve``, a
test's subprocess) does not pay for pandas.
"""

from __future__ import annotations

import importlib

# each name this package re-exports, and the submodule that defines it
_HOMES = {"FEATURES": "opslab.data", "TARGET": "opslab.data", "make_customers": "opslab.data",
          "make_traffic": "opslab.data", "setup_lab": "opslab.env"}

__all__ = ["FEATURES", "TARGET", "make_customers", "make_traffic", "setup_lab"]
__version__ = "0.1.0"


def __getattr__(name: str):
    if name not in _HOMES:  # an AttributeError lets `from opslab import data` import the submodule
        raise AttributeError(f"module 'opslab' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES[name]), name)
    globals()[name] = value  # found once: later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
