"""Run a web app (the demo, a Streamlit app) as a child process, wait until it answers, stop it.

The lab server has its own, richer helper: :class:`opslab.serve.process.LabServer`.
"""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from opslab.serve.process import free_port

__all__ = ["BackgroundServer", "free_port", "opslab_command"]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status < 500
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


class BackgroundServer:
    """A child process serving ``ready_url``; use as a context manager so it is always stopped.

    ``BackgroundServer(["opslab", "serve", ...], "http://127.0.0.1:8000/ready")`` starts the process
    in its own process group, waits up to ``timeout`` seconds for ``ready_url`` to answer (below
    500), and raises with the process's log if it exits or never answers.
    """

    def __init__(self, args: list[str], ready_url: str, timeout: float = 90, env: dict | None = None):
        self.args, self.ready_url, self.timeout = list(args), ready_url, timeout
        self.env = {**os.environ, **(env or {})}
        self.log = tempfile.TemporaryFile(mode="w+")
        self.process: subprocess.Popen | None = None

    def start(self) -> BackgroundServer:
        """Launch the process and wait until it is ready."""
        return self.launch().wait_until_ready()

    def launch(self) -> BackgroundServer:
        """Launch the process without waiting (start several, then wait for each)."""
        self.process = subprocess.Popen(
            self.args, stdout=self.log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
        )
        atexit.register(self.stop)  # a kernel or test run that ends early still stops its servers
        return self

    def wait_until_ready(self) -> BackgroundServer:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.stop()
                raise RuntimeError(
                    f"{' '.join(self.args)} exited with {self.process.returncode}:\n{self.output()}"
                )
            if _answers(self.ready_url):
                return self
            time.sleep(0.25)
        self.stop()
        raise TimeoutError(f"{self.ready_url} did not answer within {self.timeout:g} s:\n{self.output()}")

    def output(self) -> str:
        """Everything the process printed so far."""
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self, grace: float = 10) -> None:
        """Ask the process group to stop (SIGTERM), then kill it after ``grace`` seconds."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(grace)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def __enter__(self) -> BackgroundServer:
        return self.start() if self.process is None else self

    def __exit__(self, *exc) -> None:
        self.stop()


def opslab_command(*verb_args: str) -> list[str]:
    """``python -m opslab VERB ...`` with this interpreter, so children use the same environment."""
    return [sys.executable, "-m", "opslab", *verb_args]
