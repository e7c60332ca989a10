"""Find the Prometheus tools on PATH, or say which Debian package installs them."""

from __future__ import annotations

import shutil

from opslab.background import ServerError
from opslab.needs import PACKAGES as NEEDS_PACKAGES

# binary -> the Debian package that ships it (bookworm: prometheus 2.42, prometheus-alertmanager 0.25):
# one table for the labs' needs and these servers
PACKAGES = NEEDS_PACKAGES


class MissingBinary(ServerError):
    """A Prometheus tool is not installed; the message names the Debian package to install."""


def binary(name: str) -> str:
    """The path of ``name`` on PATH, or :class:`MissingBinary` naming its Debian package."""
    path = shutil.which(name)
    if path is None:
        package = PACKAGES.get(name, name)
        raise MissingBinary(f"`{name}` is not installed (not found on PATH): install the Debian package "
                            f"`{package}` (sudo apt-get install {package}; on Binder it is in apt.txt)")
    return path
