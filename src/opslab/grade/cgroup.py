"""Memory, process and CPU limits for a submission as a whole: one cgroup per running submission.

Per-process limits (``RLIMIT_AS``) let a submission that starts many processes, or fills a tmpfs,
use far more than its share; a cgroup counts them all, and every process the submission starts
(``setsid`` or daemonized included) stays in it, since a child inherits its parent's cgroup. Every
submission's cgroup has the same CPU weight, so under contention each gets the same share however
many processes it runs, and a hog cannot push the others into a timeout; ``cpus`` (``cpu.max``, or
v1's CFS quota) also caps it at that many cores. Needs root and a writable cgroup hierarchy (v2, or
v1's ``memory``, ``pids`` and ``cpu`` controllers); where there is none, :func:`available` says so and
the grader's summary reports per-process limits only.

Each cgroup's name starts with the grader's process id (``<pid>.<name>``): a grader that was killed
leaves its cgroups behind, and the next grader on the machine removes them (and stops what still runs
in them) before it creates its own (:func:`sweep`).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
PARENT = "opslab-grade"
PERIOD_US = 100_000  # the CFS period the CPU quota is measured in
_swept = False


def _v2() -> bool:
    return (ROOT / "cgroup.controllers").exists()


def _parents() -> list[Path]:
    if _v2():
        return [ROOT / PARENT]
    return [ROOT / "memory" / PARENT, ROOT / "pids" / PARENT,  # cpu only where this process may use it
            *([ROOT / "cpu" / PARENT] if (ROOT / "cpu").is_dir() and os.access(ROOT / "cpu", os.W_OK) else [])]


def _prepare() -> None:
    global _swept
    for parent in _parents():
        parent.mkdir(exist_ok=True)
    if _v2():  # children of opslab-grade may limit memory and processes, and control CPU where they can
        for folder in (ROOT, ROOT / PARENT):
            (folder / "cgroup.subtree_control").write_text("+memory +pids")
            try:  # refused, e.g., while a real-time process runs outside a cgroup: no CPU control then
                (folder / "cgroup.subtree_control").write_text("+cpu")
            except OSError:
                pass
    # opslab-grade competes with the machine's other processes as one task would: weigh it as one per
    # core (one submission per core, the default), so grading under a parent costs it no CPU share
    cores = os.cpu_count() or 1
    try:
        if _v2() and (ROOT / PARENT / "cpu.weight").exists():
            (ROOT / PARENT / "cpu.weight").write_text(str(min(10_000, 100 * cores)))
        elif not _v2() and (ROOT / "cpu" / PARENT / "cpu.shares").exists():
            (ROOT / "cpu" / PARENT / "cpu.shares").write_text(str(1024 * cores))
    except OSError:
        pass
    if not _swept:
        _swept = True
        sweep()


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


def cpu_limited() -> bool:
    """Whether the cgroups this machine gives the grader limit CPU too (v2 with ``cpu``, or v1's ``cpu``)."""
    if _v2():
        try:
            return "cpu" in (ROOT / PARENT / "cgroup.subtree_control").read_text().split()
        except OSError:
            return False
    return ROOT / "cpu" / PARENT in _parents()


def create(name: str, memory_bytes: int, processes: int, cpus: float = 0) -> list[str]:
    """New cgroup folders ``<this pid>.<name>`` with the limits (``cpus``: cores, 0 for no CPU limit);
    the kernel's launcher joins them."""
    _prepare()
    folders = []
    name = f"{os.getpid()}.{name}"
    quota = max(1000, int(cpus * PERIOD_US)) if cpus > 0 else 0
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
                if quota and (folder / "cpu.max").exists():
                    (folder / "cpu.max").write_text(f"{quota} {PERIOD_US}")
            elif parent.parent.name == "memory":
                (folder / "memory.limit_in_bytes").write_text(str(memory_bytes))
                if (folder / "memory.memsw.limit_in_bytes").exists():  # no swapping past the limit either
                    (folder / "memory.memsw.limit_in_bytes").write_text(str(memory_bytes))
                if (folder / "memory.swappiness").exists():
                    (folder / "memory.swappiness").write_text("0")
            elif parent.parent.name == "pids":
                (folder / "pids.max").write_text(str(processes))
            elif quota:
                (folder / "cpu.cfs_period_us").write_text(str(PERIOD_US))
                (folder / "cpu.cfs_quota_us").write_text(str(quota))
    except OSError:
        remove(folders)
        raise
    return folders


def kill(folders: list[str]) -> None:
    """SIGKILL every process in the cgroups (``cgroup.kill`` where the kernel has it, else one by one)."""
    for folder in folders:
        killer = Path(folder, "cgroup.kill")
        if killer.exists():
            try:
                killer.write_text("1")
                continue
            except OSError:
                pass
        for _ in range(50):  # a process may fork while it is being killed: until the cgroup is empty
            try:
                pids = [int(p) for p in Path(folder, "cgroup.procs").read_text().split()]
            except (OSError, ValueError):
                break
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.02)


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


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stale() -> list[str]:
    """Cgroups of graders that are no longer running (their name starts with a pid that is gone)."""
    found = []
    for parent in _parents():
        try:
            children = [c for c in parent.iterdir() if c.is_dir()]
        except OSError:
            continue
        for child in children:
            owner, dot, _ = child.name.partition(".")
            if dot and owner.isdigit() and not _alive(int(owner)):  # never one of a running grader's
                found.append(str(child))
    return found


def sweep(wait: float = 5.0) -> list[str]:
    """Stop what runs in the cgroups a killed grader left, and remove them; return what was removed."""
    left = stale()
    kill(left)
    remove(left, wait)
    return [folder for folder in left if not os.path.exists(folder)]
