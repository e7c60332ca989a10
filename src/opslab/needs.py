"""A lab's needs beyond Python: the system tools it starts, provided where the platform allows it.

Each lab declares its needs in its notebook metadata (``{"opslab": {"needs": {"extras": [...], "tools":
[...]}}}``, in ``solutions/``); ``opslab assign`` writes the install cell from them, which ends in
:func:`provide`. A tool is a program on PATH; :data:`PACKAGES` names the Debian/Ubuntu package that ships
it. On Colab (root, ``apt-get``, Ubuntu) the missing packages are installed; anywhere else a missing tool
stops the lab at its first cell with one sentence naming it and where the lab does run (Binder installs
``apt.txt``; a clone runs ``scripts/setup.sh``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

# program -> the Debian/Ubuntu package that ships it (apt.txt and scripts/system-packages.txt list them)
PACKAGES = {
    "prometheus": "prometheus",
    "promtool": "prometheus",
    "prometheus-alertmanager": "prometheus-alertmanager",
    "amtool": "prometheus-alertmanager",
    "curl": "curl",
}
WHERE_IT_RUNS = "on Binder (the lab page's Binder button) or in a clone of the course after `make setup`"


class LabCannotRun(RuntimeError):
    """A tool the lab needs is missing and cannot be installed here; IPython shows just the sentence."""

    def _render_traceback_(self):  # IPython's hook: the message instead of a traceback
        return [f"{type(self).__name__}: {self}"]


def on_colab() -> bool:
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


def missing(tools: list[str]) -> list[str]:
    return [tool for tool in tools if shutil.which(tool) is None]


def apt_install(packages: list[str]) -> bool:
    """``apt-get install`` the packages (root and apt-get needed); True when it succeeded."""
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        return False
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "-qq", "update"], ["apt-get", "-qq", "install", "-y", "--no-install-recommends",
                                                    *packages]):
        if subprocess.run(command, env=env, capture_output=True, timeout=600).returncode != 0:
            return False
    return True


def provide(lab: str, tools: list[str] | tuple[str, ...] = ()) -> list[str]:
    """Make sure the ``tools`` of ``lab`` are on PATH (installing them on Colab); returns those installed.

    Raises :class:`LabCannotRun` with one sentence when a tool is missing and cannot be installed here."""
    unknown = [tool for tool in tools if tool not in PACKAGES]
    if unknown:
        raise ValueError(f"{lab}: no package is known for {', '.join(unknown)} (opslab.needs.PACKAGES)")
    absent = missing(list(tools))
    if not absent:
        return []
    packages = sorted({PACKAGES[tool] for tool in absent})
    if on_colab():
        print(f"{lab}: installing {', '.join(packages)} with apt-get (a minute) ...", flush=True)
        apt_install(packages)
    still = missing(absent)
    if still:
        names = ", ".join(f"`{tool}` (package {PACKAGES[tool]})" for tool in still)
        raise LabCannotRun(f"{lab} needs {names}, which this machine does not have and cannot install here: "
                           f"run the lab {WHERE_IT_RUNS}, or install the package and run this cell again.")
    return [tool for tool in absent if tool not in still]


__all__ = ["PACKAGES", "LabCannotRun", "apt_install", "missing", "on_colab", "provide"]
