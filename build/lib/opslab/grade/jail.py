"""Start a grading kernel inside its limits: ``python -m opslab.grade.jail [options] -- kernel argv``.

Run as root, it moves into a new network namespace (loopback only), hands the kernel's folders to
the submission's own user id and drops to it. Everywhere it sets the memory, process and file-size
limits. It then replaces itself by the kernel, so the kernel's pid is this process's pid.
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


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None) -> None:
    def enc(value: str | None) -> bytes | None:
        return value.encode() if value is not None else None

    if _libc().mount(enc(source), enc(target), enc(fstype), flags, enc(data)) != 0:
        raise OSError(ctypes.get_errno(), f"mount {source} on {target} failed")


def first_closed_folder(path: str) -> str | None:
    """The outermost folder above ``path`` that other users cannot enter (e.g. /root), or None."""
    current = "/"
    for part in os.path.abspath(path).strip("/").split("/")[:-1]:
        current = os.path.join(current, part)
        if not os.stat(current).st_mode & 0o001:
            return current
    return None


def private_mounts() -> bool:
    """Give this process its own mount table (changes below are invisible to the host)."""
    if _libc().unshare(CLONE_NEWNS) != 0:
        return False
    _mount(None, "/", None, MS_REC | MS_PRIVATE, None)
    return True


def expose(paths: list[str]) -> None:
    """Let the sandbox user reach ``paths`` (the interpreter, the venv) that sit in a closed folder:
    the closed folder becomes an empty tmpfs holding only those paths, so the rest of it (root's
    home, say) stays out of sight. Needs private_mounts() first."""
    paths = [p for p in dict.fromkeys(os.path.abspath(p) for p in paths) if os.path.exists(p)]
    closed = {p: first_closed_folder(p) for p in paths}
    for folder in sorted({c for c in closed.values() if c}):
        inside = [p for p in paths if closed[p] == folder]
        handles = [os.open(p, os.O_PATH) for p in inside]
        _mount("tmpfs", folder, "tmpfs", 0, "mode=0755")
        for path, handle in zip(inside, handles):
            if os.path.isdir(f"/proc/self/fd/{handle}"):
                os.makedirs(path, exist_ok=True)
            else:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                open(path, "a").close()
            _mount(f"/proc/self/fd/{handle}", path, None, MS_BIND | MS_REC, None)
            os.close(handle)


def hide(folders: list[str]) -> None:
    """Cover each folder (the solutions, the other submissions) with an empty, read-only tmpfs."""
    for folder in folders:
        if os.path.isdir(folder):
            _mount("tmpfs", folder, "tmpfs", MS_RDONLY, "mode=0555")


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


def drop_to(uid: int, owned: list[str]) -> None:
    """Give ``owned`` paths to ``uid`` and become it (no groups, no way back to root)."""
    for path in owned:
        os.chown(path, uid, uid)
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m opslab.grade.jail")
    parser.add_argument("--uid", type=int, default=0, help="user id to run as (root only; 0: stay)")
    parser.add_argument("--own", action="append", default=[], help="path handed to --uid (repeatable)")
    parser.add_argument("--memory-mb", type=int, default=0)
    parser.add_argument("--processes", type=int, default=0)
    parser.add_argument("--file-mb", type=int, default=1024)
    parser.add_argument("--no-network", action="store_true")
    parser.add_argument("--expose", action="append", default=[], help="path the --uid must reach (repeatable)")
    parser.add_argument("--hide", action="append", default=[], help="folder the kernel must not see (repeatable)")
    parser.add_argument("kernel", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    kernel = args.kernel[1:] if args.kernel[:1] == ["--"] else args.kernel
    if args.no_network:
        new_network_namespace()
    if args.uid and os.geteuid() == 0:
        if private_mounts():
            hide(args.hide)
            expose(args.expose)
        drop_to(args.uid, args.own)
    set_limits(args.memory_mb, args.processes if args.uid else 0, args.file_mb)
    os.execv(kernel[0], kernel)


if __name__ == "__main__":
    main(sys.argv[1:])
