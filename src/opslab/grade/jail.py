"""Start a grading kernel inside its sandbox: ``python -S jail.py [options] -- kernel argv``.

Run as root, it puts itself in the submission's cgroup (memory and process limits for the submission
as a whole, where the machine has cgroups), makes the folders the kernel needs reachable when they
sit in a folder only root may enter, hands the kernel's own folders to the submission's user id and
drops to it. Then, as that user, it sets per-process limits and replaces itself by bubblewrap
(``bwrap``), which runs the kernel in new mount, PID, IPC and network namespaces with only the
system folders, the Python environment and the submission's own folders in sight, a private ``/tmp``
and ``/dev/shm``, and no way back. ``--weak`` (the instructor accepted weaker isolation) skips
bubblewrap and only keeps the user id, the limits and, as root, an empty network namespace.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import resource
import shutil
import subprocess
import sys

CLONE_NEWNET, CLONE_NEWNS = 0x40000000, 0x00020000
MS_RDONLY, MS_BIND, MS_REC, MS_PRIVATE = 1, 4096, 16384, 1 << 18
MS_NOSUID, MS_NODEV, MNT_DETACH = 2, 4, 2
SYSTEM = ["/usr", "/etc", "/opt", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/sys"]


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None) -> None:
    """mount(2), as the libc call takes it (``data``: the file system's options)."""
    def enc(value: str | None) -> bytes | None:
        return value.encode() if value is not None else None

    if _libc().mount(enc(source), enc(target), enc(fstype), flags, enc(data)) != 0:
        raise OSError(ctypes.get_errno(), f"mount {source} on {target} failed")


def unmount(target: str) -> None:
    """umount2(2) with MNT_DETACH: gone from the tree now, freed when nothing uses it any more."""
    if _libc().umount2(target.encode(), MNT_DETACH) != 0:
        raise OSError(ctypes.get_errno(), f"umount {target} failed")


def first_closed_folder(path: str) -> str | None:
    """The outermost folder above ``path`` that other users cannot enter (e.g. /root), or None."""
    current = "/"
    for part in os.path.abspath(path).strip("/").split("/")[:-1]:
        current = os.path.join(current, part)
        if not os.stat(current).st_mode & 0o001:
            return current
    return None


def expose(paths: list[str]) -> None:
    """Let the sandbox user reach ``paths`` (the interpreter, the venv) that sit in a closed folder:
    in a mount namespace of this process only, the closed folder becomes an empty tmpfs holding only
    those paths, so the rest of it (root's home, a private clone) stays out of sight."""
    paths = [p for p in dict.fromkeys(os.path.abspath(p) for p in paths) if os.path.exists(p)]
    closed = {p: first_closed_folder(p) for p in paths}
    folders = sorted({c for c in closed.values() if c})
    if not folders:
        return
    if _libc().unshare(CLONE_NEWNS) != 0:
        raise OSError(ctypes.get_errno(), "cannot make a mount namespace to expose the Python environment")
    mount(None, "/", None, MS_REC | MS_PRIVATE, None)
    for folder in folders:
        inside = [p for p in paths if closed[p] == folder]
        handles = [os.open(p, os.O_PATH) for p in inside]
        mount("tmpfs", folder, "tmpfs", 0, "mode=0755")
        for path, handle in zip(inside, handles, strict=True):
            if os.path.isdir(f"/proc/self/fd/{handle}"):
                os.makedirs(path, exist_ok=True)
            else:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                open(path, "a").close()
            mount(f"/proc/self/fd/{handle}", path, None, MS_BIND | MS_REC, None)
            os.close(handle)


def new_network_namespace() -> bool:
    """Leave the host's network for an empty namespace with loopback up; False if not allowed."""
    if _libc().unshare(CLONE_NEWNET) != 0:
        return False
    ip = shutil.which("ip") or "/usr/sbin/ip"
    if os.path.exists(ip):
        subprocess.run([ip, "link", "set", "lo", "up"], check=False, capture_output=True)
    return True


def set_limits(memory_mb: int, processes: int, file_mb: int) -> None:
    limits = [(resource.RLIMIT_AS, memory_mb * 2**20), (resource.RLIMIT_FSIZE, file_mb * 2**20),
              (resource.RLIMIT_CORE, 0)]
    if processes:
        limits.append((resource.RLIMIT_NPROC, processes))
    for which, value in limits:
        if value > 0:
            resource.setrlimit(which, (value, value))


def join_cgroups(folders: list[str]) -> None:
    for folder in folders:
        with open(os.path.join(folder, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))


def drop_to(uid: int, owned: list[str]) -> None:
    """Give ``owned`` paths to ``uid`` and become it (no groups, no way back to root)."""
    for path in owned:
        os.chown(path, uid, uid, follow_symlinks=False)
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)


def bwrap_argv(bwrap: str, needed: list[str], writable: list[str], hidden: list[str], tmp_mb: int,
               workdir: str, kernel: list[str]) -> list[str]:
    """bubblewrap's command line: system folders and ``needed`` read-only, ``writable`` read-write,
    every ``hidden`` folder that would show through them covered by an empty tmpfs, nothing else."""
    argv = [bwrap, "--die-with-parent", "--new-session", "--unshare-user", "--disable-userns", "--unshare-pid",
            "--unshare-ipc", "--unshare-net", "--unshare-uts", "--hostname", "grading"]
    for path in SYSTEM:
        if os.path.islink(path):
            argv += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            argv += ["--ro-bind", path, path]
    # fresh tmpfs mounts inside the sandbox, private to it (not the host's /tmp)
    argv += ["--dev", "/dev", "--proc", "/proc", "--size", str(tmp_mb * 2**20), "--tmpfs", "/tmp",  # noqa: S108
             "--size", str(tmp_mb * 2**20), "--tmpfs", "/dev/shm"]  # noqa: S108
    shown = [os.path.abspath(p) for p in dict.fromkeys(needed) if os.path.exists(p)]
    for path in shown:
        argv += ["--ro-bind", path, path]
    for folder in (os.path.abspath(h) for h in hidden):
        visible = any(folder == s or folder.startswith(s.rstrip("/") + "/") for s in [*SYSTEM, *shown])
        holds_needed = any(s.startswith(folder.rstrip("/") + "/") for s in shown)
        if visible and not holds_needed and os.path.isdir(folder):
            argv += ["--tmpfs", folder, "--remount-ro", folder]
    for path in writable:
        argv += ["--bind", path, path]
    return [*argv, "--chdir", workdir, "--", *kernel]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -S jail.py")
    parser.add_argument("--uid", type=int, default=0, help="user id to run as (root only; 0: stay)")
    parser.add_argument("--own", action="append", default=[], help="path handed to --uid (repeatable)")
    parser.add_argument("--memory-mb", type=int, default=0)
    parser.add_argument("--processes", type=int, default=0)
    parser.add_argument("--file-mb", type=int, default=1024)
    parser.add_argument("--tmp-mb", type=int, default=512, help="size of the private /tmp and /dev/shm")
    parser.add_argument("--cgroup", action="append", default=[], help="cgroup folder to join (root only)")
    parser.add_argument("--expose", action="append", default=[], help="path the kernel needs to read (repeatable)")
    parser.add_argument("--writable", action="append", default=[], help="path the kernel may write (repeatable)")
    parser.add_argument("--hide", action="append", default=[], help="folder the kernel must not see (repeatable)")
    parser.add_argument("--workdir", default="/")
    parser.add_argument("--bwrap", default="bwrap")
    parser.add_argument("--weak", action="store_true", help="no bubblewrap (the instructor accepted this)")
    parser.add_argument("--no-network", action="store_true", help="with --weak: an empty network namespace")
    parser.add_argument("kernel", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    kernel = args.kernel[1:] if args.kernel[:1] == ["--"] else args.kernel
    # In the sandbox's PID namespace the kernel's parent is the namespace's init, which ipykernel's parent
    # poller would take for a dead parent. The sandbox ends the kernel with its parent instead.
    os.environ.pop("JPY_PARENT_PID", None)
    root = os.geteuid() == 0
    if root and args.cgroup:
        join_cgroups(args.cgroup)
    if args.weak and args.no_network and root:
        new_network_namespace()
    if args.uid and root:
        try:
            expose([*args.expose, *args.writable])
        except OSError:
            if not args.weak:  # the sandbox needs it; weak isolation goes on (the self-check will tell)
                raise
        drop_to(args.uid, args.own)
    set_limits(args.memory_mb, args.processes if args.uid else 0, args.file_mb)
    if args.weak:
        os.execv(kernel[0], kernel)
    command = bwrap_argv(args.bwrap, args.expose, args.writable, args.hide, args.tmp_mb, args.workdir, kernel)
    os.execv(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
