"""The grader's side of ``opslab.grade.execute``: a long-lived executor process per worker."""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time


class ExecutorProcess:
    """Sends jobs to one ``python -m opslab.grade.execute`` and waits for each answer (with a limit).

    Starting Python and importing papermill costs about a second; a worker pays it once, not once
    per submission. An executor that dies or overruns is killed and replaced for the next job.
    """

    def __init__(self, log_path):
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def _start(self) -> None:
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen([sys.executable, "-m", "opslab.grade.execute"], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=log, start_new_session=True)
        log.close()

    def run(self, job: dict, timeout: float) -> dict | None:
        """The executor's answer, or None when it died or overran ``timeout`` seconds (then it is killed)."""
        if self.process is None or self.process.poll() is not None:
            self._start()
        try:
            self.process.stdin.write((json.dumps(job) + "\n").encode())
            self.process.stdin.flush()
            line = self._read_line(timeout)
            answer = json.loads(line) if line else None
        except (OSError, ValueError):
            answer = None
        if answer is None:
            self.stop()
        return answer

    def log_tail(self, lines: int = 3) -> str:
        """The last lines the executor wrote to its log (why it died), for the gradebook's detail."""
        try:
            text = open(self.log_path, errors="replace").read().strip().splitlines()
        except OSError:
            return ""
        return " | ".join(text[-lines:])[:500]

    def _read_line(self, timeout: float) -> bytes:
        deadline, data = time.monotonic() + timeout, b""
        fd = self.process.stdout.fileno()
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while not data.endswith(b"\n"):
                left = deadline - time.monotonic()
                if left <= 0 or not selector.select(left):
                    return b""
                chunk = os.read(fd, 65536)
                if not chunk:
                    return b""
                data += chunk
        return data

    def stop(self) -> None:
        if self.process is not None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except OSError:
                pass
            self.process.wait()
            self.process = None
