"""The interactive docs (/docs) of the lab server and of Lab 3.1's own app work offline: the page
loads only what that server serves.

The unit tests read the HTML with FastAPI's TestClient; the browser tests open /docs of a real
lab server (uvicorn), and of the app as Lab 3.1 builds it, in a real headless Chromium and record
every request the page makes (Swagger UI's script could ask other hosts that no HTML attribute names).
"""

from __future__ import annotations

import sys

import nbformat
import pytest
from fastapi.testclient import TestClient

from browser import RequestLog, browser, is_local  # noqa: F401  (fixture)
from conftest import REPO
from opslab.background import BackgroundServer, free_port
from opslab.serve.app import ServeSettings, create_app
from opslab.serve.docs import referenced_urls
from servers import lab_server_url  # noqa: F401  (fixture)


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    settings = ServeSettings(model_uri="models:/nothing-here@champion", data_dir=tmp_path_factory.mktemp("docs"))
    with TestClient(create_app(settings)) as client:  # no model needed: the docs describe the API
        yield client


def test_docs_page_references_only_this_server(client):
    response = client.get("/docs")
    assert response.status_code == 200 and "text/html" in response.headers["content-type"]
    urls = referenced_urls(response.text)
    assert len(urls) >= 4, f"/docs references too little: {urls}"  # script, stylesheet, icon, schema
    assert all(url.startswith("/") for url in urls), f"/docs loads from elsewhere: {urls}"
    for url in urls:  # and this server has each of them
        assert client.get(url).status_code == 200, url


def test_redoc_is_off(client):  # its bundle always loads its logo from a CDN
    assert client.get("/redoc").status_code == 404


def test_swagger_ui_does_not_ask_the_online_validator(client):
    assert '"validatorUrl": null' in client.get("/docs").text


def test_the_index_lists_endpoints_not_the_docs_assets(client):
    endpoints = client.get("/").json()["endpoints"]
    assert "/predict" in endpoints and not [e for e in endpoints if e.startswith("/docs")]


def test_is_local_tells_loopback_from_other_hosts():  # the request recorder must be able to say no
    assert is_local("http://127.0.0.1:8000/docs") and is_local("ws://localhost:1/x") and is_local("data:,x")
    assert not is_local("https://fonts.googleapis.com/css?family=Roboto")
    assert not is_local("http://127.0.0.1.example.com/")


@pytest.fixture
def page(browser):  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 1400})
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.mark.browser
def test_swagger_ui_renders_and_runs_a_request_offline(page, lab_server_url):  # noqa: F811
    from playwright.sync_api import expect

    with RequestLog(page) as requests:
        page.goto(f"{lab_server_url}/docs", wait_until="networkidle")
        predict = page.locator(".opblock-post .opblock-summary-path[data-path='/predict']")
        expect(predict).to_be_visible(timeout=30_000)
        expect(page.locator(".info .title")).to_contain_text("opslab lab server")
        health = page.locator(".opblock-get", has=page.locator(".opblock-summary-path[data-path='/health']"))
        health.locator(".opblock-summary").click()
        health.get_by_role("button", name="Try it out").click()
        health.get_by_role("button", name="Execute").click()
        live = health.locator(".live-responses-table .response")
        expect(live.locator(".response-col_status")).to_have_text("200", timeout=30_000)
        expect(live.locator(".response-col_description")).to_contain_text('"status": "ok"')
    assert requests.foreign() == [], f"/docs asked other hosts: {requests.foreign()}"



def lab_app_source() -> str:
    """Lab 3.1's cell that creates its FastAPI app, as a module (the schema's BaseModel imported)."""
    notebook = nbformat.read(REPO / "solutions" / "m3_rest_api.ipynb", as_version=4)
    [cell] = [c for c in notebook.cells if c.cell_type == "code" and "FastAPIOffline(" in c.source]
    return "from pydantic import BaseModel\n" + cell.source


@pytest.fixture
def lab_app_url(tmp_path):
    """Lab 3.1's app, from its own cell, under a real uvicorn on a free port."""
    (tmp_path / "lab_app.py").write_text(lab_app_source())
    port = free_port()
    args = [sys.executable, "-m", "uvicorn", "lab_app:app", "--app-dir", str(tmp_path), "--port", str(port)]
    with BackgroundServer(args, f"http://127.0.0.1:{port}/health", name="lab 3.1 app") as server:
        yield server.ready_url.removesuffix("/health")


@pytest.mark.browser
def test_lab_3_1_app_renders_its_docs_offline(page, lab_app_url):  # noqa: F811
    from playwright.sync_api import expect

    with RequestLog(page) as requests:
        page.goto(f"{lab_app_url}/docs", wait_until="networkidle")
        expect(page.locator(".info .title")).to_contain_text("Churn API (lab 3.1)", timeout=30_000)
        expect(page.locator(".opblock-get .opblock-summary-path[data-path='/health']")).to_be_visible()
        page.goto(f"{lab_app_url}/redoc")
    assert any(url.endswith("swagger-ui-bundle.js") for url in requests.urls), requests.urls
    assert requests.foreign() == [], f"Lab 3.1's /docs asked other hosts: {requests.foreign()}"
