"""The MLflow server helper: a real server that answers, stores runs, and leaves nothing behind."""

from __future__ import annotations

import json
import socket
import urllib.request

import pytest

from opslab.mlflow_server import MlflowServer, ServerError, group_members, port_is_free


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = MlflowServer(tmp_path_factory.mktemp("mlflow") / "store").start()
    yield srv
    srv.stop()


def test_server_answers_health_on_loopback(server):
    assert server.url.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(f"{server.url}/health", timeout=5) as response:
        assert response.status == 200


def test_server_stores_runs_in_sqlite_and_artifacts_locally(server):
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=server.url)
    experiment_id = client.create_experiment("helper-test")
    run = client.create_run(experiment_id)
    client.log_metric(run.info.run_id, "auc", 0.75, step=3)
    client.log_text(run.info.run_id, "hello", "notes/hello.txt")
    client.set_terminated(run.info.run_id)

    assert (server.root / "mlflow.db").stat().st_size > 0
    stored = list(server.artifacts_destination.rglob("hello.txt"))
    assert len(stored) == 1 and stored[0].read_text() == "hello"
    url = f"{server.url}/api/2.0/mlflow/metrics/get-history?run_id={run.info.run_id}&metric_key=auc"
    with urllib.request.urlopen(url, timeout=5) as response:  # the REST API a client in any language uses
        history = json.loads(response.read())["metrics"]
    assert [(m["step"], m["value"]) for m in history] == [(3, 0.75)]


def test_stop_ends_the_process_group_and_frees_the_port(server):
    srv = MlflowServer(server.root).start()  # a second server on the same (already created) store
    pgid, port = srv.process.pid, srv.port
    assert group_members(pgid), "the server's process group should be alive while it runs"
    srv.stop()
    assert group_members(pgid) == []
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5)
    assert port_is_free("127.0.0.1", port)
    srv.stop()  # stopping twice is harmless


def test_a_busy_port_is_refused_before_starting(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        srv = MlflowServer(tmp_path / "store", port=busy.getsockname()[1])
        with pytest.raises(ServerError, match="already in use"):
            srv.start()
    assert srv.process is None


def test_a_server_that_exits_raises_with_the_end_of_its_log(server):
    srv = MlflowServer(server.root, workers="not-a-number")
    with pytest.raises(ServerError, match="exited with code") as err:
        srv.start()
    assert "not-a-number" in str(err.value)  # the message carries the server's own complaint
    assert srv.process is None
