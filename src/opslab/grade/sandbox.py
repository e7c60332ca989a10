"""Where and as whom a submission runs: its folders, its user id, its kernel, and how to stop it all."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from opslab.env import OFFLINE_ENV
from opslab.grade.answers import ANSWERS_ENV

FIRST_UID = 61000  # submissions run as FIRST_UID + slot when the grader is root
KERNEL_NAME = "opslab-grading"
RUNTIME = Path("/run/opslab-grade")  # root's uid locks (only used when the grader is root)


@dataclass(frozen=True)
class Isolation:
    """What this machine lets the grader do, found by trying it; printed in the summary and the
    gradebook so nobody assumes more."""

    own_user: bool  # each running submission has its own user id (needs root)
    no_network: bool  # kernels run in an empty network namespace
    sandbox: bool = False  # bubblewrap runs: only the environment and the submission's folders in sight
    hidden: bool = False  # a folder given to hide was empty inside the sandbox (tried, not assumed)
    private_tmp: bool = False  # /tmp and /dev/shm are the submission's own
    whole_memory: bool = False  # a cgroup limits the submission's memory and processes as a whole
    problem: str = ""  # why the sandbox could not be made, when it could not

    @property
    def complete(self) -> bool:
        """Hiding, no network and a private /tmp all hold: what grading needs unless the instructor
        accepts less (``opslab grade --allow-weak-isolation``)."""
        return self.sandbox and self.hidden and self.no_network and self.private_tmp

    def describe(self) -> str:
        if not self.complete:
            missing = [what for what, ok in (("hiding of solutions and other submissions", self.hidden),
                                             ("network isolation", self.no_network),
                                             ("private /tmp", self.private_tmp)) if not ok]
            head = f"WEAK: no {', no '.join(missing)} ({self.problem or 'bubblewrap could not run'})"
        else:
            head = "sandbox (bubblewrap): solutions and other submissions hidden, no network, private /tmp"
        user = "own user id per submission" if self.own_user else "same user as the grader (run as root to isolate)"
        memory = ("memory and processes limited per submission (cgroup)" if self.whole_memory
                  else "memory limited per process only (no cgroup)")
        return f"{head}; {user}; {memory}; file-size and time limits"


class IsolationError(RuntimeError):
    """The sandbox cannot be made here and the instructor did not accept weaker isolation."""


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


_PROBE = """import json, os, sys
hidden = sys.argv[1]
try:
    seen = os.listdir(hidden)
except OSError:
    seen = []
devices = [line.split(":")[0].strip() for line in open("/proc/net/dev").read().splitlines()[2:]]
print(json.dumps({"uid": os.getuid(), "hidden_seen": seen, "devices": devices,
                  "tmp_seen": os.path.exists(sys.argv[2])}))
"""


_probed: dict[bool, Isolation] = {}


def probe_isolation() -> Isolation:
    """Run the real sandbox once with a small script and see what it could see: a folder that must
    be hidden, the network devices, a file in the host's /tmp. Cached per process."""
    own_user = os.geteuid() == 0
    if own_user in _probed:
        return _probed[own_user]
    from opslab.grade import cgroup

    whole_memory = cgroup.available()
    canary_dir = Path(tempfile.mkdtemp(prefix="opslab-probe-"))
    claimed: list = []
    try:
        hidden = canary_dir / "hidden"
        hidden.mkdir()
        (hidden / "secret").write_text("the sandbox must not see this")
        canary_dir.chmod(0o755)
        hidden.chmod(0o755)  # readable by anyone: only the sandbox can hide it
        tmp_canary = canary_dir / "in-host-tmp"
        tmp_canary.write_text("")
        claimed.extend(claim_uids(1) if own_user else [])  # never a uid another grader uses
        workspace = Workspace(canary_dir / "ws", claimed[0][0] if claimed else 0)
        workspace.create()
        problem, report = "", None
        if bwrap_path() is None:
            problem = "bubblewrap (bwrap) is not installed: apt-get install bubblewrap"
        else:
            argv = [*jail_argv(workspace, Limits(), True, hidden=(hidden,), connection_file=None),
                    sys.executable, "-S", "-c", _PROBE, str(hidden), str(tmp_canary)]
            done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
            if done.returncode == 0:
                report = json.loads(done.stdout.strip().splitlines()[-1])
            else:
                problem = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1][:300]
        if report is None:
            isolation = Isolation(own_user, False, problem=problem, whole_memory=whole_memory)
        else:
            isolation = Isolation(own_user and report["uid"] == workspace.uid, report["devices"] == ["lo"], True,
                                  report["hidden_seen"] == [], not report["tmp_seen"], whole_memory)
    finally:
        for _, handle in claimed:
            handle.close()
        shutil.rmtree(canary_dir, ignore_errors=True)
    _probed[own_user] = isolation
    return isolation


@dataclass(frozen=True)
class Limits:
    notebook_seconds: int = 600
    cell_seconds: int = 120
    memory_mb: int = 4096
    processes: int = 256
    output_kb: int = 200  # output kept per cell; the rest is dropped with a note
    tmp_mb: int = 512  # size of the submission's private /tmp and /dev/shm (each)


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

    @property
    def answers(self) -> Path:
        """Where the answer cells write plain data for the judge (in ``run``: new for every run)."""
        return self.run / "answers"

    def create(self) -> None:
        self.root.mkdir(parents=True)
        self.root.chmod(0o711)  # whatever the umask: the submission's user must reach work/ and run/
        for folder in (self.work, self.run, self.out):
            folder.mkdir()
            folder.chmod(0o700)
        # IPython's folder exists before the executor (root) looks up kernel specs, which would create it
        # as root's: the kernel would find it unwritable and warn that it falls back to a temp folder
        self.ipython.mkdir()
        if self.uid:
            for folder in (self.work, self.ipython):
                os.chown(folder, self.uid, self.uid)

    def reuse(self) -> None:
        """Make a kept workspace ready for another run: new ``run`` and ``out``, ``work`` as it was left,
        handed to this workspace's user (another slot's user may have written it)."""
        for folder in (self.run, self.out):
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            folder.chmod(0o700)
        if self.ipython.is_symlink() or self.ipython.is_file():  # the last run may have replaced it
            self.ipython.unlink()
        self.ipython.mkdir(exist_ok=True)
        if self.uid and self.work.stat().st_uid != self.uid:
            for folder, dirs, files in os.walk(self.work):
                for name in [folder, *(os.path.join(folder, n) for n in dirs + files)]:
                    os.chown(name, self.uid, self.uid, follow_symlinks=False)
        elif self.uid:
            os.chown(self.ipython, self.uid, self.uid, follow_symlinks=False)

    @property
    def ipython(self) -> Path:
        return self.work / ".ipython"

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def jail_argv(workspace: Workspace, limits: Limits, strong: bool, hidden: tuple[Path, ...] = (),
              connection_file: str | None = "{connection_file}", cgroups: tuple[str, ...] = ()) -> list[str]:
    """The launcher's command line up to the kernel's (opslab.grade.jail, which ends in bubblewrap)."""
    # run as a file with -S: the jail needs only the standard library, so it starts in a few ms
    jail = [sys.executable, "-S", str(Path(__file__).with_name("jail.py")), "--memory-mb", str(limits.memory_mb),
            "--tmp-mb", str(limits.tmp_mb), "--workdir", str(workspace.work)]
    if workspace.uid:
        jail += ["--uid", str(workspace.uid), "--own", str(workspace.run), "--processes", str(limits.processes)]
        if connection_file:
            jail += ["--own", connection_file]
    for folder in cgroups:
        jail += ["--cgroup", folder]
    for path in interpreter_paths():
        jail += ["--expose", path]
    if not strong:
        return [*jail, "--weak", "--no-network", "--"]
    for path in (workspace.work, workspace.run):
        jail += ["--writable", str(path)]
    for folder in hidden:
        jail += ["--hide", str(folder)]
    return [*jail, "--bwrap", bwrap_path() or "bwrap", "--"]


def kernel_spec(workspace: Workspace, isolation: Isolation, limits: Limits,
                hidden: tuple[Path, ...] = (), cgroups: tuple[str, ...] = ()) -> dict:
    """A kernelspec whose kernel (plain ipykernel: it decides nothing) starts through the jail."""
    jail = jail_argv(workspace, limits, isolation.sandbox, hidden, cgroups=cgroups)
    kernel = [*KERNEL_ARGV, "{connection_file}"]
    # interrupts as messages: a signal to bubblewrap would not reach the kernel inside it
    return {"argv": [*jail, *kernel], "display_name": "opslab grading", "language": "python",
            "interrupt_mode": "message"}


KERNEL_ARGV = [sys.executable, "-m", "ipykernel_launcher", "-f"]


def interpreter_paths() -> list[str]:
    """What a kernel needs to read: the interpreter, its prefixes, the import path of opslab, and the
    site-packages folders on the import path (a venv may see another's packages through a .pth file)."""
    import opslab

    paths = [sys.executable, os.path.realpath(sys.executable), sys.prefix, sys.base_prefix, sys.exec_prefix,
             str(Path(opslab.__file__).resolve().parents[1])]
    paths += [p for p in sys.path if p and Path(p).name in ("site-packages", "dist-packages") and os.path.isdir(p)]
    paths += [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return list(dict.fromkeys(os.path.abspath(p) for p in paths))


def write_kernel_spec(workspace: Workspace, isolation: Isolation, limits: Limits,
                      hidden: tuple[Path, ...] = (), cgroups: tuple[str, ...] = ()) -> Path:
    """Install the kernelspec under ``out/jupyter`` (the executor's JUPYTER_PATH) and return that."""
    spec_dir = workspace.out / "jupyter" / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps(kernel_spec(workspace, isolation, limits, hidden, cgroups)))
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
        "IPYTHONDIR": str(workspace.ipython),
        "MPLCONFIGDIR": str(workspace.work / ".matplotlib"),
        "MPLBACKEND": "Agg",
        "JUPYTER_PATH": str(jupyter_path),
        "JUPYTER_RUNTIME_DIR": str(workspace.run),
        "JUPYTER_PLATFORM_DIRS": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        ANSWERS_ENV: str(workspace.answers),
    }


def lock_folder(path: Path = RUNTIME) -> Path:
    """The folder of the uid locks: created by root, 0700, and refused if it is anything else (a
    symlink, another owner, writable by others), so nobody can plant files root would open."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o022:
        raise RuntimeError(f"{path} is not a folder of this user that only it may write: refusing to use it")
    return path


def claim_uids(count: int, locks: Path = RUNTIME) -> list:
    """Reserve ``count`` sandbox user ids for this process (an flock each, held until the returned
    files are closed), so two graders on one machine never share a uid and kill each other's kernels."""
    folder = lock_folder(locks)
    claimed = []
    for uid in range(FIRST_UID, FIRST_UID + 4096):
        handle = os.fdopen(os.open(folder / f"{uid}.lock", os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600), "w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        claimed.append((uid, handle))
        if len(claimed) == count:
            return claimed
    for _, handle in claimed:  # not enough: give back what was claimed
        handle.close()
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
