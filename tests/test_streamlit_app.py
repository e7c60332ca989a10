"""The Streamlit mini project, run by streamlit.testing.v1.AppTest against a real lab server, for
real by ``opslab streamlit``, and once by ``streamlit run`` in Chromium, to see that its page asks no
other host."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import requests
from streamlit.testing.v1 import AppTest  # noqa: E402

import opslab
from browser import RequestLog, browser  # noqa: F401  (fixture)
from opslab.background import BackgroundServer, free_port, opslab_command
from opslab.data import TARGET, make_customers
from opslab.streamlit import app_path
from servers import lab_server_url  # noqa: F401  (fixture)

APP = app_path()


def test_the_app_ships_inside_the_package():
    assert APP.is_file() and APP.is_relative_to(Path(opslab.__file__).parent)
    printed = subprocess.run([sys.executable, "-m", "opslab.streamlit"], capture_output=True, text=True, check=True)
    assert Path(printed.stdout.strip()) == APP


@pytest.fixture
def run_app(monkeypatch):
    """Run the app with OPSLAB_SERVER_URL set, optionally upload a CSV; returns the AppTest."""

    def run(server_url: str, csv: bytes | None = None):
        monkeypatch.setenv("OPSLAB_SERVER_URL", server_url)
        app = AppTest.from_file(str(APP), default_timeout=60).run()
        assert app.sidebar.text_input[0].value == server_url
        if csv is not None:
            app.file_uploader[0].set_value(("customers.csv", csv, "text/csv"))
            app.run()
        assert not app.exception, app.exception
        return app

    return run


def customers_csv(n: int = 30, seed: int = 4, drop: tuple = (), empty_cell: tuple | None = None) -> bytes:
    """A CSV of simulated customers, optionally without some columns or with one empty cell."""
    frame = make_customers(n, seed=seed).drop(columns=[TARGET, *drop])
    if empty_cell:
        frame.loc[empty_cell] = None
    return frame.to_csv(index=False).encode()


def test_before_upload_the_app_names_the_model_and_asks_for_a_file(run_app, lab_server_url):  # noqa: F811
    app = run_app(lab_server_url)
    assert "churn-classifier" in app.sidebar.success[0].value
    assert "Upload a CSV" in app.info[0].value


def test_upload_predicts_through_the_server_and_visualises(run_app, lab_server_url):  # noqa: F811
    app = run_app(lab_server_url, customers_csv())
    assert not app.error, [e.value for e in app.error]
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["customers scored"] == "30"
    table = app.dataframe[0].value
    assert len(table) == 30 and table["probability"].between(0, 1).all()
    assert int(metrics["predicted to churn"]) == int(table["churned"].sum())
    assert table["prediction_id"].str.fullmatch(r"[0-9a-f]{32}").all()
    charts = app.get("vega_lite_chart")  # st.bar_chart draws a Vega-Lite chart
    assert len(charts) == 2, "expected the probability histogram and the feature-drivers chart"


def test_a_file_missing_a_column_is_explained(run_app, lab_server_url):  # noqa: F811
    app = run_app(lab_server_url, customers_csv(drop=("region",)))
    assert "region" in app.error[0].value and not app.dataframe


def test_the_servers_4xx_answer_is_shown(run_app, lab_server_url):  # noqa: F811
    app = run_app(lab_server_url, customers_csv(empty_cell=(3, "age")))
    assert "answered 4" in app.error[0].value and "age" in app.error[0].value


def test_server_down_is_said_clearly(run_app):
    app = run_app(f"http://127.0.0.1:{free_port()}", customers_csv())
    assert "not reachable" in app.sidebar.error[0].value
    assert "not reachable" in app.error[0].value and not app.dataframe


def test_opslab_streamlit_serves_the_app_on_the_given_port(lab_server_url):  # noqa: F811
    port = free_port()
    command = opslab_command("streamlit", "--server-url", lab_server_url, "--port", str(port))
    health = f"http://127.0.0.1:{port}/_stcore/health"
    with BackgroundServer(command, health, timeout=90, name="opslab streamlit") as app:
        assert requests.get(health, timeout=10).text == "ok"
        assert "<title>Streamlit</title>" in requests.get(f"http://127.0.0.1:{port}/", timeout=10).text
        assert f"--server-url {lab_server_url}" in app.output()  # the app was given the lab server


@pytest.mark.browser
def test_the_page_asks_no_other_host(browser, lab_server_url):  # noqa: F811
    """`streamlit run` on the packaged app with no flags: the app's own config
    (.streamlit/config.toml next to it) keeps the page from sending usage statistics anywhere."""
    import sys

    from playwright.sync_api import expect

    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.headless", "true",
               "--server.address", "127.0.0.1", "--server.port", str(port), "--", "--server-url", lab_server_url]
    app = BackgroundServer(command, f"http://127.0.0.1:{port}/_stcore/health", timeout=120, name="streamlit")
    for name in [n for n in app.env if n.startswith("STREAMLIT_")]:  # the test session's go_offline() set
        del app.env[name]  # these; a learner's shell has none of them
    with app:
        page = browser.new_page()
        with RequestLog(page) as requests:
            page.goto(f"http://127.0.0.1:{port}/", wait_until="networkidle")
            expect(page.get_by_text("churn-classifier").first).to_be_visible(timeout=60_000)
            page.wait_for_load_state("networkidle")
        page.close()
    assert requests.urls and requests.foreign() == [], f"the app asked other hosts: {requests.foreign()}"
