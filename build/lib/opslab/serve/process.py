"""Start and stop an ``opslab serve`` process on loopback (for notebooks, tests and benchmarks)."""

from __future__ import annotations

from pathlib import Path

from opslab.background import BackgroundServer, free_port, opslab_command


class LabServer(BackgroundServer):
    """``opslab serve`` on a free port (or ``port``), ready once ``/ready`` answers 200.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`; ``url`` is
    ``http://127.0.0.1:PORT`` and :meth:`kill` crashes it on purpose (SIGKILL).
    """

    name = "opslab serve"

    def __init__(
        self,
        model_uri: str | None = None,
        port: int | None = None,
        data_dir: str | Path | None = None,
        admin_token: str | None = None,
        workers: int = 1,
        extra_args: list[str] | None = None,
        log_file: str | Path | None = None,
        timeout: float = 90,
    ):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = opslab_command("serve", "--port", str(self.port), "--workers", str(workers))
        if model_uri:
            command += ["--model-uri", str(model_uri)]
        if data_dir:
            command += ["--data-dir", str(data_dir)]
        env = {"OMP_NUM_THREADS": "1"}
        if admin_token is not None:
            env["OPSLAB_ADMIN_TOKEN"] = admin_token
        super().__init__(command + list(extra_args or []), f"{self.url}/ready", timeout, env, log_path=log_file)
