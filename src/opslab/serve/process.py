"""Start and stop an ``opslab serve`` process on loopback (for notebooks, tests and benchmarks)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LabServer:
    """``opslab serve`` in a child process of its own group. Use as a context manager, or call
    :meth:`start` and :meth:`stop`. ``url`` is ``http://127.0.0.1:PORT``."""

    def __init__(
        self,
        model_uri: str | None = None,
        port: int | None = None,
        data_dir: str | Path | None = None,
        admin_token: str | None = None,
        workers: int = 1,
        extra_args: list[str] | None = None,
        log_file: str | Path | None = None,
    ):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.command = [
            sys.executable,
            "-m",
            "opslab",
            "serve",
            "--port",
            str(self.port),
            "--workers",
            str(workers),
        ]
        if model_uri:
            self.command += ["--model-uri", str(model_uri)]
        if data_dir:
            self.command += ["--data-dir", str(data_dir)]
        self.command += list(extra_args or [])
        self.env = {**os.environ, "OMP_NUM_THREADS": "1"}
        src = str(Path(__file__).resolve().parents[2])  # this copy of opslab, also in the child
        self.env["PYTHONPATH"] = os.pathsep.join(p for p in [src, os.environ.get("PYTHONPATH", "")] if p)
        if admin_token is not None:
            self.env["OPSLAB_ADMIN_TOKEN"] = admin_token
        self.log_file = Path(log_file) if log_file else None
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 90.0) -> "LabServer":
        """Start the server and return once ``/ready`` answers 200 (raises if it exits or times out)."""
        out = self.log_file.open("w") if self.log_file else subprocess.DEVNULL
        self.process = subprocess.Popen(
            self.command, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = self.log_file.read_text() if self.log_file else "(no log file given)"
                raise RuntimeError(f"opslab serve exited with code {self.process.returncode}: {log}")
            try:
                with urllib.request.urlopen(f"{self.url}/ready", timeout=2) as response:
                    if response.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"opslab serve was not ready on {self.url} within {timeout:.0f} s")

    def kill(self) -> None:
        """SIGKILL, as a crash would: no shutdown code runs."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        """SIGTERM to the server's process group (its workers too); SIGKILL if it lingers."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()

    def __enter__(self) -> "LabServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
