"""Where and as whom a submission runs: its folders, its user id, its kernel, and how to stop it all."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from opslab.env import OFFLINE_ENV

FIRST_UID = 61000  # submissions run as FIRST_UID + slot when the grader is root
KERNEL_NAME = "opslab-grading"


@dataclass(frozen=True)
class Isolation:
    """What this machine lets the grader do; printed in the summary so nobody assumes more."""

    own_user: bool  # each running submission has its own user id (needs root)
    no_network: bool  # kernels run in an empty network namespace (needs root)

    def describe(self) -> str:
        user = "own user id per submission" if self.own_user else "same user as the grader (run as root to isolate)"
        net = "no network" if self.no_network else "network NOT isolated (needs root)"
        return f"{user}; {net}; memory, file-size and time limits"


def probe_isolation() -> Isolation:
    """Root can give each submission a user id and an empty network namespace; try it once."""
    if os.geteuid() != 0:
        return Isolation(False, False)
    ok = subprocess.run([sys.executable, "-c", "import ctypes,sys; sys.exit(ctypes.CDLL(None).unshare(0x40000000))"],
                        capture_output=True).returncode == 0
    return Isolation(True, ok)


@dataclass(frozen=True)
class Limits:
    notebook_seconds: int = 600
    cell_seconds: int = 120
    memory_mb: int = 4096
    processes: int = 256
    output_kb: int = 200  # output kept per cell; the rest is dropped with a note


@dataclass
class Workspace:
    """One submission's folders: ``work`` (its cwd and OPSLAB_HOME) and ``run`` (kernel sockets)
    belong to its user; ``out`` (executed notebook, result) only to the grader."""

    root: Path
    uid: int  # 0: same user as the grader

    @property
    def work(self) -> Path:
        return self.root / "work"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def out(self) -> Path:
        return self.root / "out"

    def create(self) -> None:
        self.root.mkdir(mode=0o711, parents=True)
        for folder in (self.work, self.run, self.out):
            folder.mkdir(mode=0o700)
        if self.uid:
            os.chown(self.work, self.uid, self.uid)

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def kernel_spec(workspace: Workspace, isolation: Isolation, limits: Limits,
                hidden: tuple[Path, ...] = ()) -> dict:
    """A kernelspec whose kernel starts through opslab.grade.jail with this submission's limits."""
    # run as a file with -S: the jail needs only the standard library, so it starts in a few ms
    jail = [sys.executable, "-S", str(Path(__file__).with_name("jail.py")), "--memory-mb", str(limits.memory_mb)]
    if isolation.own_user:
        jail += ["--uid", str(workspace.uid), "--own", str(workspace.run), "--own", "{connection_file}",
                 "--processes", str(limits.processes)]
        needed = interpreter_paths()
        for path in needed:
            jail += ["--expose", path]
        for folder in hidden:  # never a folder that holds what the kernel needs
            if not any(Path(p).is_relative_to(folder) for p in [*needed, str(workspace.root)]):
                jail += ["--hide", str(folder)]
    if isolation.no_network:
        jail.append("--no-network")
    kernel = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    return {"argv": [*jail, "--", *kernel], "display_name": "opslab grading", "language": "python",
            "interrupt_mode": "signal"}


def interpreter_paths() -> list[str]:
    """What a kernel needs to read: the interpreter, its prefixes and the import path of opslab."""
    import opslab

    paths = [sys.executable, os.path.realpath(sys.executable), sys.prefix, sys.base_prefix, sys.exec_prefix,
             str(Path(opslab.__file__).resolve().parents[1])]
    paths += [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return list(dict.fromkeys(os.path.abspath(p) for p in paths))


def write_kernel_spec(workspace: Workspace, isolation: Isolation, limits: Limits,
                      hidden: tuple[Path, ...] = ()) -> Path:
    """Install the kernelspec under ``run/jupyter`` (the executor's JUPYTER_PATH) and return that."""
    spec_dir = workspace.out / "jupyter" / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps(kernel_spec(workspace, isolation, limits, hidden)))
    return workspace.out / "jupyter"


def environment(workspace: Workspace, jupyter_path: Path) -> dict[str, str]:
    """A small, explicit environment: nothing of the grader's own leaks to the learner's code."""
    keep = {k: os.environ[k] for k in ("PATH", "PYTHONPATH", "LANG", "LC_ALL", "VIRTUAL_ENV") if k in os.environ}
    work = str(workspace.work)
    return {
        **keep,
        **OFFLINE_ENV,
        "HOME": work,
        "USER": "learner",  # the sandbox uid has no passwd entry; getpass.getuser() reads these first
        "LOGNAME": "learner",
        "OPSLAB_HOME": work,
        "TMPDIR": work,
        "IPYTHONDIR": str(workspace.work / ".ipython"),
        "MPLCONFIGDIR": str(workspace.work / ".matplotlib"),
        "MPLBACKEND": "Agg",
        "JUPYTER_PATH": str(jupyter_path),
        "JUPYTER_RUNTIME_DIR": str(workspace.run),
        "JUPYTER_PLATFORM_DIRS": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    }


def claim_uids(count: int, locks: Path = Path(tempfile.gettempdir()) / "opslab-grade-uids") -> list:
    """Reserve ``count`` sandbox user ids for this process (an flock each, held until the returned
    files are closed), so two graders on one machine never share a uid and kill each other's kernels."""
    locks.mkdir(mode=0o700, exist_ok=True)
    claimed = []
    for uid in range(FIRST_UID, FIRST_UID + 4096):
        handle = open(locks / f"{uid}.lock", "w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        claimed.append((uid, handle))
        if len(claimed) == count:
            return claimed
    raise RuntimeError("no free sandbox user id")


def kill_user(uid: int) -> None:
    """Kill every process of the sandbox user ``uid`` (never root or the grader's own user)."""
    if uid < FIRST_UID:
        return
    pid = os.fork()
    if pid == 0:  # a child that becomes the user and kills everything that user runs, itself last
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            os.kill(-1, signal.SIGKILL)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
