"""Start a real ``mlflow server`` on a free loopback port, and always stop it and its children."""

from __future__ import annotations

import os
from pathlib import Path

from opslab.background import PortServer, ServerError, venv_bin

__all__ = ["MlflowServer", "ServerError"]


class MlflowServer(PortServer):
    """An ``mlflow server`` with a SQLite backend store and a local artifact folder.

    Use it as a context manager, or call :meth:`start` and :meth:`stop` yourself::

        with MlflowServer("mlflow-store") as server:
            mlflow.set_tracking_uri(server.url)

    The database is ``<root>/mlflow.db`` and artifacts go to ``<root>/artifacts`` (the server
    proxies uploads and downloads, as a team server would). The process runs in its own process
    group, so :meth:`stop` ends the server together with every worker it spawned.
    """

    name = "mlflow server"

    def __init__(self, root: str | Path = "mlflow-store", host: str = "127.0.0.1", port: int | None = None,
                 workers: int | str = 1, timeout: float = 120.0):
        self.root = Path(root).resolve()
        self.host = host
        self.port = port
        self.workers = workers
        env = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1",
               # the job runner (a pool of huey workers for GenAI jobs) is not needed to track experiments
               "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        super().__init__([], "", timeout, env, cwd=self.root, log_path=self.root / "server.log")
        self.env["PATH"] = str(Path(venv_bin("mlflow")).parent) + os.pathsep + self.env.get("PATH", "")

    @property
    def backend_store_uri(self) -> str:
        return f"sqlite:///{self.root / 'mlflow.db'}"

    @property
    def artifacts_destination(self) -> Path:
        return self.root / "artifacts"

    def command(self) -> list[str]:
        return [
            venv_bin("mlflow"), "server",
            "--backend-store-uri", self.backend_store_uri,
            "--artifacts-destination", str(self.artifacts_destination),
            "--host", self.host, "--port", str(self.port), "--workers", str(self.workers),
        ]

    def prepare(self) -> tuple[list[str], str]:
        self.artifacts_destination.mkdir(parents=True, exist_ok=True)
        return self.command(), f"{self.url}/health"

    def __repr__(self) -> str:
        state = "running" if self.process is not None and self.process.poll() is None else "stopped"
        where = self.url if self.port else "no port"
        return f"MlflowServer({where}, {state}, store={self.backend_store_uri})"
