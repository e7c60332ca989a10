"""A real headless Chromium (Debian's) opens the demo, uploads a CSV and sees the predictions; the
page asks no host but this machine.

Set OPSLAB_SCREENSHOT_DIR to keep the screenshot of the scored page (default: the test's tmp folder).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from browser import RequestLog, browser  # noqa: F401  (fixture)
from opslab.data import TARGET, make_customers
from serve_support import AUTH
from servers import demo_url, lab_server_url  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser
from playwright import sync_api  # noqa: E402


@pytest.fixture(scope="module")
def page(browser):  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 1400})
    try:
        yield context.new_page()
    finally:
        context.close()


def test_the_page_asks_no_other_host(page, demo_url):  # noqa: F811
    """Offline means no fonts, scripts or analytics from elsewhere: every request stays on this machine."""
    with RequestLog(page) as requests:
        page.goto(demo_url, wait_until="networkidle")
        sync_api.expect(page.locator("#server-status")).to_contain_text("churn-classifier", timeout=30_000)
        page.get_by_role("tab", name="One customer").click()  # the second tab renders too
        sync_api.expect(page.locator("#predict-one")).to_be_visible()
        page.wait_for_load_state("networkidle")
    assert requests.urls and requests.foreign() == [], f"the demo asked other hosts: {requests.foreign()}"


def test_upload_a_csv_and_see_predictions(page, demo_url, tmp_path):  # noqa: F811
    csv = tmp_path / "customers.csv"
    make_customers(40, seed=5).drop(columns=[TARGET]).to_csv(csv, index=False)
    expect = sync_api.expect

    with RequestLog(page) as requests:  # the components that scoring shows load nothing from elsewhere
        page.goto(demo_url)
        expect(page.locator("#server-status")).to_contain_text("churn-classifier", timeout=30_000)
        page.locator("#csv-upload input[type=file]").set_input_files(str(csv))
        # Gradio shows the name as stem and extension in separate elements ("customers .csv")
        expect(page.locator("#csv-upload")).to_contain_text(re.compile(r"customers\s*\.csv"), timeout=30_000)
        page.locator("#predict-csv").click()
        expect(page.locator("#batch-status")).to_contain_text("Scored 40 customers", timeout=60_000)
        table = page.locator("#predictions")
        expect(table).to_contain_text("probability")
        expect(table).to_contain_text("prediction_id")
        expect(table).to_contain_text(re.compile(r"\b[0-9a-f]{32}\b"))  # a prediction id in a cell
        assert table.get_by_role("gridcell").count() >= 5 * 15  # the grid renders at least the rows in view
        expect(page.locator("img[src^='data:image/png']")).to_have_count(2, timeout=30_000)  # both plots drawn
    assert requests.foreign() == [], f"the demo asked other hosts: {requests.foreign()}"

    shot = Path(os.environ.get("OPSLAB_SCREENSHOT_DIR", tmp_path)) / "demo.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def test_one_customer_prediction_and_feedback_in_the_browser(page, demo_url, lab_server_url):  # noqa: F811
    import requests

    expect = sync_api.expect
    page.goto(demo_url)
    expect(page.locator("#server-status")).to_contain_text("churn-classifier", timeout=30_000)
    page.get_by_role("tab", name="One customer").click()
    page.locator("#predict-one").click()
    expect(page.locator("#single-status")).to_contain_text("P(churn)", timeout=30_000)
    prediction_id = page.locator("#prediction-id textarea, #prediction-id input").first.input_value()
    assert re.fullmatch(r"[0-9a-f]{32}", prediction_id), prediction_id
    page.get_by_label("stayed").check()
    page.locator("#send-feedback").click()
    expect(page.locator("#feedback-status")).to_contain_text("recorded", timeout=30_000)
    log = requests.get(f"{lab_server_url}/predictions", params={"limit": 20}, headers=AUTH, timeout=10).json()[
        "predictions"
    ]
    assert [p["feedback"] for p in log if p["prediction_id"] == prediction_id] == [0]
