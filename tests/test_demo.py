"""The Gradio demo, launched with ``opslab demo`` against a real lab server, driven by gradio_client."""

from __future__ import annotations

import re
import subprocess

import gradio_client  # noqa: E402
import pandas as pd
import pytest
import requests

from opslab.background import free_port, opslab_command
from opslab.data import FEATURES, TARGET, make_customers
from opslab.demo.records import to_records
from serve_support import AUTH
from servers import lab_server_url, start_demo  # noqa: F401  (fixtures)


@pytest.fixture(scope="module")
def demos(lab_server_url):  # noqa: F811
    """Started together: ``opslab demo`` on the live lab server, and another pointed at a port where
    nothing listens."""
    live, dead = start_demo(lab_server_url), start_demo(f"http://127.0.0.1:{free_port()}")
    with live.launch(), dead.launch():
        live.wait_until_ready(), dead.wait_until_ready()
        yield {"live": live.ready_url, "dead": dead.ready_url}


def client_for(url: str):
    return gradio_client.Client(url, verbose=False, analytics_enabled=False, download_files=False)


@pytest.fixture(scope="module")
def demo(demos):
    return client_for(demos["live"])


@pytest.fixture
def customers_csv(tmp_path):
    path = tmp_path / "customers.csv"
    make_customers(25, seed=3).drop(columns=[TARGET]).to_csv(path, index=False)
    return path


def test_page_says_which_model_serves(demo):
    status = demo.predict(api_name="/server_status")
    assert status.startswith("✔") and "churn-classifier" in status, status


def test_csv_gets_the_servers_predictions_with_plots(demo, customers_csv, lab_server_url):  # noqa: F811
    status, table, histogram, drivers = demo.predict(
        gradio_client.handle_file(str(customers_csv)), api_name="/score_csv"
    )
    assert "Scored 25 customers" in status, status
    frame = pd.DataFrame(table["data"], columns=table["headers"])
    assert list(frame.columns[:3]) == ["probability", "churned", "prediction_id"]
    assert list(frame.columns[3:]) == FEATURES
    assert all(re.fullmatch(r"[0-9a-f]{32}", pid) for pid in frame["prediction_id"])
    # the demo shows what the server answers for the same customers (rounded to 3 places)
    direct = requests.post(
        f"{lab_server_url}/predict", json=to_records(pd.read_csv(customers_csv)), timeout=30
    )
    expected = [round(p["probability"], 3) for p in direct.json()["predictions"]]
    assert frame["probability"].tolist() == pytest.approx(expected, abs=1e-9)
    assert ((frame["probability"] >= 0.5).astype(int) == frame["churned"]).all()
    assert histogram and histogram["type"] == "matplotlib" and histogram["plot"].startswith("data:image/png")
    assert drivers and drivers["type"] == "matplotlib", "no feature-drivers plot"


def test_csv_without_a_feature_is_explained(demo, tmp_path):
    path = tmp_path / "no_tenure.csv"
    make_customers(5, seed=1).drop(columns=["tenure_months"]).to_csv(path, index=False)
    status, table, histogram, _ = demo.predict(gradio_client.handle_file(str(path)), api_name="/score_csv")
    assert status.startswith("⚠") and "tenure_months" in status, status
    assert histogram is None


def test_servers_refusal_is_shown_with_the_field(demo, tmp_path):
    frame = make_customers(5, seed=1).drop(columns=[TARGET])
    frame.loc[2, "monthly_charges"] = None  # an empty cell: the server must refuse it and say where
    path = tmp_path / "hole.csv"
    frame.to_csv(path, index=False)
    status, *_ = demo.predict(gradio_client.handle_file(str(path)), api_name="/score_csv")
    assert status.startswith("⚠") and "answered 4" in status and "monthly_charges" in status, status


def one_customer() -> list:
    """The form's values for a simulated customer, in FEATURES order, as plain Python values."""
    return list(to_records(make_customers(1, seed=11))[0].values())


def test_one_customer_then_feedback_reaches_the_server(demo, lab_server_url):  # noqa: F811
    status, prediction_id = demo.predict(*one_customer(), api_name="/predict_one")
    assert status.startswith("✔") and "P(churn)" in status, status
    assert re.fullmatch(r"[0-9a-f]{32}", prediction_id)
    answer = demo.predict(prediction_id, "churned", api_name="/send_feedback")
    assert answer.startswith("✔") and "recorded" in answer, answer
    logged = requests.get(f"{lab_server_url}/predictions", params={"limit": 50}, headers=AUTH, timeout=10).json()[
        "predictions"
    ]
    mine = [p for p in logged if p["prediction_id"] == prediction_id]
    assert mine and mine[0]["feedback"] == 1, mine


def test_feedback_for_an_unknown_id_says_404(demo):
    answer = demo.predict("0" * 32, "stayed", api_name="/send_feedback")
    assert answer.startswith("⚠") and "404" in answer, answer


def test_feedback_needs_an_outcome(demo):
    assert "Choose what really happened" in demo.predict("0" * 32, None, api_name="/send_feedback")


def test_server_down_is_said_clearly_and_nothing_crashes(demos, customers_csv):
    dead = client_for(demos["dead"])
    assert "not reachable" in dead.predict(api_name="/server_status")
    status, *_ = dead.predict(gradio_client.handle_file(str(customers_csv)), api_name="/score_csv")
    assert status.startswith("⚠") and "not reachable" in status and "opslab serve" in status, status
    status, prediction_id = dead.predict(*one_customer(), api_name="/predict_one")
    assert "not reachable" in status and prediction_id == ""


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"", "Could not read the file as CSV"),
        (",".join(FEATURES).encode() + b"\n", "no customers"),
        (b"\x89PNG\r\n\x1a\n\x00\x00binary", "Could not read the file as CSV"),
        (b"name,score\nada,3\n", "lacks the column(s) age, tenure_months"),
    ],
    ids=["empty", "header-only", "binary", "other-columns"],
)
def test_bad_files_are_explained_without_asking_the_server(tmp_path, content, expected):
    from opslab.demo import handlers
    from opslab.demo.client import LabServerClient

    path = tmp_path / "upload.csv"
    path.write_bytes(content)
    nobody = LabServerClient(f"http://127.0.0.1:{free_port()}")  # a file problem is found before any request
    status, table, histogram, drivers = handlers.score_csv(nobody, str(path))
    assert status.startswith("⚠") and expected in status, status
    assert table.empty and histogram is None and drivers is None


def test_too_many_rows_are_refused(tmp_path):
    from opslab.demo.records import MAX_ROWS, InputProblem, read_customers

    path = tmp_path / "big.csv"
    make_customers(MAX_ROWS + 1, seed=2).to_csv(path, index=False)
    with pytest.raises(InputProblem, match=f"at most {MAX_ROWS}"):
        read_customers(path)


def test_demo_refuses_a_taken_port_with_a_message(demos):
    port = int(demos["live"].rstrip("/").rsplit(":", 1)[1])
    done = subprocess.run(
        opslab_command("demo", "--port", str(port)), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2 and f"cannot serve on 127.0.0.1:{port}" in done.stdout, (
        done.stdout + done.stderr
    )


@pytest.mark.parametrize("url", ["localhost:8000", "127.0.0.1:8000", "http://", "http://localhost:port", "ftp://x"])
def test_a_url_that_is_no_server_url_is_explained(url):
    from opslab.demo import handlers
    from opslab.demo.client import LabServerClient, LabServerError

    client = LabServerClient(url)
    with pytest.raises(LabServerError, match="not a server URL. Write it like http://127.0.0.1:8000"):
        client.model()
    with pytest.raises(LabServerError, match="not reachable"):
        client.predict(to_records(make_customers(2, seed=1)))
    assert handlers.server_status(client).startswith("⚠ The lab server")


class OddServer:
    """A tiny HTTP server on this machine that answers every request with one fixed body (not the lab
    server): for what the demo's client does when something else listens at the URL."""

    def __init__(self):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.status, self.body = 200, b"{}"
        odd = self

        class Handler(BaseHTTPRequestHandler):
            def answer(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(odd.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(odd.body)))
                self.end_headers()
                self.wfile.write(odd.body)

            do_GET = do_POST = answer

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"


@pytest.fixture(scope="module")
def odd_server():
    import threading

    server = OddServer()
    thread = threading.Thread(target=server.httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()


@pytest.mark.parametrize(
    "status, body",
    [
        (200, b"[1, 2]"),
        (200, b'"x"'),
        (200, b"null"),
        (200, b"<html>hello</html>"),
        (200, b'{"predictions": "x"}'),
        (200, b'{"predictions": [1, 2]}'),
        (200, b'{"something": "else"}'),
        (404, b"[1, 2]"),
        (500, b'"x"'),
    ],
    ids=[
        "list", "string", "null", "html", "predictions-string", "predictions-numbers", "other-object",
        "404-list", "500-string",
    ],
)
def test_an_answer_that_is_not_the_lab_servers_is_explained(odd_server, status, body):
    from opslab.demo import handlers
    from opslab.demo.client import LabServerClient, LabServerError

    odd_server.status, odd_server.body = status, body
    client = LabServerClient(odd_server.url)
    records = to_records(make_customers(2, seed=1))
    with pytest.raises(LabServerError) as predicting:
        client.predict(records)
    message = str(predicting.value)
    assert message.startswith(f"The server at {odd_server.url} answered POST /predict") or (
        f"answered {status} to POST /predict" in message
    ), message
    if status == 200:
        assert "is the lab server (`opslab serve`) the one at this URL?" in message
    line = handlers.server_status(client)  # GET /model
    assert line.startswith("⚠") and ("answered GET /model" in line or f"answered {status} to GET" in line), line
    status_line, prediction_id = handlers.predict_one(client, *one_customer())
    assert status_line.startswith("⚠") and prediction_id == "", status_line
