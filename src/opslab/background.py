"""Run a server as a child process in its own process group: wait until it answers, always stop it.

The one home for starting and stopping the course's servers (the lab server, MLflow, the demo,
Streamlit, `make serve`): :class:`BackgroundServer`, plus the port and process-group helpers.
"""

from __future__ import annotations

import atexit
import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

__all__ = [
    "BackgroundServer",
    "PortServer",
    "ServerError",
    "free_port",
    "group_members",
    "opslab_command",
    "port_is_free",
    "venv_bin",
]


class ServerError(RuntimeError):
    """A server did not come up; the message carries the end of its log."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on right now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_is_free(host: str, port: int) -> bool:
    """Whether ``host:port`` can be bound right now (nothing listens there)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do: TIME_WAIT is no obstacle
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def venv_bin(name: str) -> str:
    """The path of console script ``name`` next to this Python (the venv's bin), else ``name``."""
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


def opslab_command(*verb_args: str) -> list[str]:
    """``python -m opslab VERB ...`` with this interpreter, so children use the same environment."""
    return [sys.executable, "-m", "opslab", *verb_args]


def group_members(pgid: int) -> list[int]:
    """The live (non-zombie) processes of process group ``pgid``, read from /proc (Linux)."""
    if not Path("/proc").is_dir():  # macOS and friends: ask the kernel whether the group exists
        try:
            os.killpg(pgid, 0)
            return [pgid]
        except (ProcessLookupError, PermissionError):
            return []
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": state, ppid, pgrp, ...
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _answers(url: str) -> bool:
    """Whether ``url`` answers 2xx now; any other answer, garbage or silence is a no."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - a readiness URL of ours
            return 200 <= response.status < 300
    except (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError, OSError, ValueError):
        return False


def listeners(port: int) -> set[int] | None:
    """The processes that hold a listening TCP socket on ``port`` (any address), read from /proc (Linux);
    None where that cannot be told (no /proc)."""
    if not Path("/proc/net/tcp").exists():
        return None
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{fields[9]}]")
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                if os.readlink(fd) in inodes:
                    found.add(int(entry.name))
                    break
        except OSError:
            continue
    return found


class BackgroundServer:
    """A child process serving ``ready_url``; use it as a context manager so it is always stopped.

    ``BackgroundServer(opslab_command("serve", "--port", "8000"), "http://127.0.0.1:8000/ready")``
    starts the process in its own process group, waits up to ``timeout`` seconds for
    ``ready_url`` to answer 2xx, and raises :class:`ServerError` (with the end of the process's
    log) if it exits first, or :class:`TimeoutError` if it never answers. :meth:`stop` ends the
    whole group, so workers the server spawned go too. ``log_path`` keeps the log in a file.
    """

    name = "server"

    def __init__(
        self,
        args: list[str],
        ready_url: str,
        timeout: float = 90,
        env: dict | None = None,
        cwd: str | Path | None = None,
        log_path: str | Path | None = None,
        name: str | None = None,
    ):
        self.args, self.ready_url, self.timeout = list(args), ready_url, timeout
        self.name = name or self.name
        self.env = {**os.environ, **(env or {})}
        self.cwd = cwd
        self.log_path = Path(log_path) if log_path else None
        self.process: subprocess.Popen | None = None
        self._log = None  # the open log file while the process may write to it
        self._last_output = b""  # the end of the log, kept when the file is closed

    def start(self) -> BackgroundServer:
        """Launch the process and wait until it is ready."""
        return self.launch().wait_until_ready()

    def launch(self) -> BackgroundServer:
        """Launch the process without waiting (start several, then wait for each)."""
        if self.process is not None and self.process.poll() is None:
            return self
        self._close_log()  # a relaunch after a crash: the previous log file is done with
        self._log = self.log_path.open("ab+") if self.log_path else tempfile.TemporaryFile()
        try:
            self.process = subprocess.Popen(
                self.args,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
            )
        except OSError:
            self._close_log()
            raise
        atexit.register(self.stop)  # a kernel or test run that ends early still stops its servers
        return self

    def wait_until_ready(self) -> BackgroundServer:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                code = self.process.returncode
                self.stop()
                raise ServerError(f"{self.name} ({' '.join(self.args)}) exited with code {code}:\n{self.output()}")
            if _answers(self.ready_url):
                self._check_identity()
                return self
            time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"{self.ready_url} did not answer within {self.timeout:g} s:\n{self.output()}")

    def _check_identity(self) -> None:
        """The answer must come from this server's own process group, not from something else on the port
        (a learner's own server, a leftover of another run): ServerError, never "ready", if it does not."""
        port = urllib.parse.urlsplit(self.ready_url).port
        holders = listeners(port) if port else None
        if not holders:  # cannot be told here (no /proc), or the socket belongs to another user's namespace
            return
        ours = set(group_members(self.process.pid)) | {self.process.pid}
        if holders & ours:
            return
        self.stop()
        raise ServerError(f"{self.ready_url} answers, but not from {self.name} ({' '.join(self.args)}): another "
                          f"process (pid {', '.join(map(str, sorted(holders)))}) listens on port {port}. Stop it, "
                          f"or use another port")

    # How much of the end of the log is kept once the process is stopped and its log file closed.
    KEPT_OUTPUT_BYTES = 256 * 1024

    def output(self, lines: int = 40) -> str:
        """The last ``lines`` lines the process printed (also after :meth:`stop`)."""
        data = self._log_tail() if self._log is not None else self._last_output
        return "\n".join(data.decode(errors="replace").splitlines()[-lines:])

    def _log_tail(self) -> bytes:
        self._log.flush()
        size = self._log.seek(0, os.SEEK_END)
        self._log.seek(max(0, size - self.KEPT_OUTPUT_BYTES))
        return self._log.read()

    def _close_log(self) -> None:
        """Keep the end of the log and close the file (a stopped process writes no more)."""
        if self._log is not None:
            try:
                self._last_output = self._log_tail()
            finally:
                self._log.close()
                self._log = None

    def kill(self) -> None:
        """SIGKILL the whole group, as a crash would: no shutdown code runs."""
        if self.process is not None and self.process.poll() is None:
            _signal_group(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self, grace: float = 10) -> None:
        """SIGTERM to the process group; SIGKILL to whatever is left of it after ``grace`` seconds.
        Never raises (a process stuck in the kernel is left to it), and always closes the log."""
        if self.process is None:
            return
        atexit.unregister(self.stop)
        pgid = self.process.pid  # start_new_session made the process the leader of its own group
        try:
            if self.process.poll() is None or group_members(pgid):
                _signal_group(pgid, signal.SIGTERM)
                try:
                    self.process.wait(timeout=grace)
                except subprocess.TimeoutExpired:
                    pass
                deadline = time.monotonic() + grace
                while group_members(pgid) and time.monotonic() < deadline:
                    time.sleep(0.1)
                if group_members(pgid):
                    _signal_group(pgid, signal.SIGKILL)
                try:
                    self.process.wait(timeout=grace)
                except subprocess.TimeoutExpired:
                    pass
        finally:
            self._close_log()

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class PortServer(BackgroundServer):
    """A :class:`BackgroundServer` that listens on ``host:port`` (``port=None``: a free one, picked at start).

    The shared start-up of the course's servers (MLflow, Prometheus, Alertmanager, the webhook
    receiver): :meth:`start` returns at once if the server runs, refuses a port that is taken
    (:class:`ServerError` saying so), calls :meth:`prepare` for the command and the URL to wait for,
    and reports a server that never answers as :class:`ServerError`. After :meth:`stop`, ``process``
    is None. Subclasses set ``host`` and ``port`` and define :meth:`prepare`.
    """

    host: str = "127.0.0.1"
    port: int | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def prepare(self) -> tuple[list[str], str]:
        """Check what the server needs and write its files; return its command and its readiness URL."""
        raise NotImplementedError

    def start(self) -> PortServer:
        if self.process is not None and self.process.poll() is None:
            return self
        if self.port and not port_is_free(self.host, self.port):
            raise ServerError(f"cannot start {self.name}: port {self.port} on {self.host} is already in use "
                              f"(another {self.name}?); stop it or pass port=None for a free one")
        self.port = self.port or free_port(self.host)
        self.args, self.ready_url = self.prepare()
        try:
            super().start()
        except TimeoutError as err:
            raise ServerError(str(err)) from None
        return self

    def stop(self, grace: float = 10) -> None:
        super().stop(grace)
        self.process = None
