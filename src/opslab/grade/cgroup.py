"""A memory and process limit for a submission as a whole: one cgroup per running submission.

Per-process limits (``RLIMIT_AS``) let a submission that starts many processes, or fills a tmpfs,
use far more than its share; a cgroup counts them all. Needs root and a writable cgroup hierarchy
(v2, or v1's ``memory`` and ``pids`` controllers); where there is none, :func:`available` says so
and the grader's summary reports per-process limits only.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
PARENT = "opslab-grade"


def _v2() -> bool:
    return (ROOT / "cgroup.controllers").exists()


def _parents() -> list[Path]:
    if _v2():
        return [ROOT / PARENT]
    return [ROOT / "memory" / PARENT, ROOT / "pids" / PARENT]


def _prepare() -> None:
    for parent in _parents():
        parent.mkdir(exist_ok=True)
    if _v2():  # children of opslab-grade may limit memory and processes
        (ROOT / "cgroup.subtree_control").write_text("+memory +pids")
        (ROOT / PARENT / "cgroup.subtree_control").write_text("+memory +pids")


def available() -> bool:
    """Whether this process can create limited cgroups (tried once, for real)."""
    if os.geteuid() != 0:
        return False
    try:
        group = create(f"probe-{os.getpid()}", 64 * 2**20, 16)
    except OSError:
        return False
    remove(group)
    return True


def create(name: str, memory_bytes: int, processes: int) -> list[str]:
    """New cgroup folders named ``name`` with the limits; the kernel's launcher joins them."""
    _prepare()
    folders = []
    try:
        for parent in _parents():
            folder = parent / name
            folder.mkdir()
            folders.append(str(folder))
            if _v2():
                (folder / "memory.max").write_text(str(memory_bytes))
                if (folder / "memory.swap.max").exists():
                    (folder / "memory.swap.max").write_text("0")
                (folder / "pids.max").write_text(str(processes))
            elif parent.parent.name == "memory":
                (folder / "memory.limit_in_bytes").write_text(str(memory_bytes))
                if (folder / "memory.memsw.limit_in_bytes").exists():  # no swapping past the limit either
                    (folder / "memory.memsw.limit_in_bytes").write_text(str(memory_bytes))
                if (folder / "memory.swappiness").exists():
                    (folder / "memory.swappiness").write_text("0")
            else:
                (folder / "pids.max").write_text(str(processes))
    except OSError:
        remove(folders)
        raise
    return folders


def remove(folders: list[str], wait: float = 5.0) -> None:
    """Remove the cgroups once their processes are gone (they were killed; the kernel reaps them)."""
    deadline = time.monotonic() + wait
    for folder in folders:
        while True:
            try:
                os.rmdir(folder)
                break
            except FileNotFoundError:
                break
            except OSError:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.05)
