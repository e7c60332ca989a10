"""A fresh virtual environment that has every installed distribution of this one but opslab: for installing
opslab the way a learner's machine or the Hub would (from a wheel, a folder, a git URL) with no network."""

from __future__ import annotations

import re
import subprocess
import sys
import sysconfig
from pathlib import Path

COURSE_ONLY = re.compile(r"^(opslab|opslab-.*|__editable__.*opslab.*|.*\.pth|.*\.egg-link)$", re.I)


def fresh_venv(where: Path) -> Path:
    """A new virtual environment under ``where`` (no pip of its own) that sees this environment's installed
    distributions, but not opslab, through a folder of links added by a .pth file; returns its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where / "venv")], check=True, timeout=120)
    python = where / "venv" / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    linked = where / "installed"
    linked.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not COURSE_ONLY.match(entry.name):
            (linked / entry.name).symlink_to(entry)
    (site / "installed-elsewhere.pth").write_text(f"{linked}\n")
    return python
