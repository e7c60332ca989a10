"""Start a real ``mlflow server`` on a free loopback port, and always stop it and its children."""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


class ServerError(RuntimeError):
    """The MLflow server did not come up; the message carries the end of its log."""


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


class MlflowServer:
    """An ``mlflow server`` with a SQLite backend store and a local artifact folder.

    Use it as a context manager, or call :meth:`start` and :meth:`stop` yourself::

        with MlflowServer("mlflow-store") as server:
            mlflow.set_tracking_uri(server.url)

    The database is ``<root>/mlflow.db`` and artifacts go to ``<root>/artifacts`` (the server
    proxies uploads and downloads, as a team server would). The process runs in its own process
    group, so :meth:`stop` ends the server together with every worker it spawned.
    """

    def __init__(self, root: str | Path = "mlflow-store", host: str = "127.0.0.1", port: int | None = None,
                 workers: int | str = 1, timeout: float = 120.0):
        self.root = Path(root).resolve()
        self.host = host
        self.port = port
        self.workers = workers
        self.timeout = timeout
        self.process: subprocess.Popen | None = None

    @property
    def backend_store_uri(self) -> str:
        return f"sqlite:///{self.root / 'mlflow.db'}"

    @property
    def artifacts_destination(self) -> Path:
        return self.root / "artifacts"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.root / "server.log"

    def command(self) -> list[str]:
        return [
            venv_bin("mlflow"), "server",
            "--backend-store-uri", self.backend_store_uri,
            "--artifacts-destination", str(self.artifacts_destination),
            "--host", self.host, "--port", str(self.port), "--workers", str(self.workers),
        ]

    def start(self) -> MlflowServer:
        """Launch the server and return once ``/health`` answers (raises :class:`ServerError` if not)."""
        if self.process is not None:
            return self
        self.root.mkdir(parents=True, exist_ok=True)
        self.artifacts_destination.mkdir(exist_ok=True)
        if self.port and not port_is_free(self.host, self.port):
            raise ServerError(f"port {self.port} on {self.host} is already in use; "
                              "pass port=None to pick a free one")
        self.port = self.port or free_port(self.host)
        env = dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="1")
        # The job runner (a pool of huey workers for GenAI jobs) is not needed to track experiments.
        env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
        env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, env=env,
                                            cwd=self.root, start_new_session=True)
        atexit.register(self.stop)  # a notebook that fails half-way still leaves no server behind
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                code = self.process.returncode
                raise ServerError(f"mlflow server exited with code {code}:\n{self._log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.25)
        raise ServerError(f"mlflow server did not answer on {self.url} within {self.timeout:.0f} s:\n"
                          f"{self._log_tail()}")

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, grace: float = 10.0) -> None:
        """Stop the server and all its children (SIGTERM to the group, SIGKILL after ``grace`` s)."""
        process, self.process = self.process, None
        if process is None:
            return
        atexit.unregister(self.stop)
        pgid = process.pid  # start_new_session made the server the leader of its own group
        _signal_group(pgid, signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
        deadline = time.monotonic() + grace
        while _group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _group_alive(pgid):
            _signal_group(pgid, signal.SIGKILL)
        if process.poll() is None:
            process.wait(timeout=grace)

    def __enter__(self) -> MlflowServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.process is not None else "stopped"
        where = self.url if self.port else "no port"
        return f"MlflowServer({where}, {state}, store={self.backend_store_uri})"


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _group_alive(pgid: int) -> bool:
    """Whether any process of group ``pgid`` still exists (zombies of our own child excluded)."""
    return bool(group_members(pgid))


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
