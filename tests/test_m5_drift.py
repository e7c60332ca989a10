"""Module 5's drift chapters: an Evidently report like the lab's (which runs twice in one home in
tests/test_grade_labs_m5.py) opens offline in a real Chromium, and the chapters' figure script draws what it says."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"


def _sudden_report(path: Path) -> Path:
    """A data drift report like the lab's (sudden scenario, PSI), saved as HTML."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    from opslab.data import CATEGORICAL_FEATURES, FEATURES, NUMERIC_FEATURES, make_customers, production_day

    definition = DataDefinition(numerical_columns=NUMERIC_FEATURES, categorical_columns=CATEGORICAL_FEATURES)
    reference = Dataset.from_pandas(make_customers(500, seed=0)[FEATURES], data_definition=definition)
    current = Dataset.from_pandas(production_day(15, "sudden", n=500)[FEATURES], data_definition=definition)
    Report([DataDriftPreset(columns=FEATURES, method="psi")], include_tests=True).run(current, reference).save_html(
        str(path)
    )
    return path


@pytest.mark.browser
def test_saved_evidently_report_renders_without_any_request_to_another_host(tmp_path):
    """The book embeds a saved report: it must draw from the file alone (scripts, styles, fonts inline)."""
    from playwright import sync_api

    assert Path(CHROMIUM).exists(), f"no Chromium at {CHROMIUM}: scripts/setup.sh installs Debian's chromium"
    report = _sudden_report(tmp_path / "drift.html")
    requested = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1400})
            page.on("request", lambda request: requested.append(request.url))
            errors = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(report.as_uri())
            sync_api.expect(page.get_by_text("monthly_charges").first).to_be_visible(timeout=60_000)
            sync_api.expect(page.get_by_text("Dataset Drift", exact=False).first).to_be_visible()
        finally:
            browser.close()
    assert requested and all(url.startswith(("file:", "data:", "blob:", "about:")) for url in requested), [
        url for url in requested if not url.startswith(("file:", "data:", "blob:", "about:"))
    ]
    assert errors == []


def test_figure_script_psi_is_a_drift_statistic():
    from figures_m5 import psi

    rng = np.random.default_rng(0)
    a = rng.normal(0, 1, 2000)
    assert psi(a, a) == 0
    small, large = psi(a, rng.normal(0.2, 1, 2000)), psi(a, rng.normal(1.0, 1, 2000))
    assert 0 < small < large
    assert psi(a, np.full(100, 99.0)) > 5, "all mass in one outer bin is a huge shift"


def test_figure_script_draws_every_chapter_figure(tmp_path):
    from figures_m5 import main

    assert main(["--out", str(tmp_path), "--repeats", "8"]) == 0
    drawn = sorted(p.name for p in tmp_path.glob("*.png"))
    assert drawn == sorted(p.name for p in (REPO / "book" / "m5" / "figures").glob("*.png")), \
        "the script and the committed figures should be the same set"
    for name in drawn:
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for chapter in ("decay.md", "drift.md"):
        for line in (REPO / "book" / "m5" / chapter).read_text().splitlines():
            if line.startswith("```{figure} figures/"):
                assert line.split("figures/")[1] in drawn, f"{chapter} shows a figure the script does not draw"
