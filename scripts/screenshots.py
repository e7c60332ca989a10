"""Screenshots of the real pieces the chapters of Modules 2-3 show, taken by a headless Chromium.

    python scripts/screenshots.py [--out book/figures/screens] [--only mlflow,docs,demo,streamlit,tensorboard]

Starts each piece for real, on free ports of 127.0.0.1 and in a throw-away OPSLAB_HOME, offline: the
MLflow tracking server with a run, a registered model and its aliases (`opslab.mlflow_server`), the lab
server (`opslab.serve`) and its `/docs`, the Gradio demo and the Streamlit app scoring a CSV through
it, and TensorBoard reading a few training curves. Debian's Chromium, driven by Playwright as the
browser tests do, writes one PNG per view into ``--out``; the PNGs are committed, so the book needs
neither this script nor any of these servers. Re-run it when a page changes.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from browser import chromium  # noqa: E402  (one home for launching Debian's Chromium: the browser tests')

VIEWPORT = {"width": 1280, "height": 800}
PIECES = ("mlflow", "docs", "demo", "streamlit", "tensorboard")
LONG = 60_000  # ms: a page on a busy 2-core machine may take a while to render


def new_page(browser, height: int = VIEWPORT["height"]):
    return browser.new_context(viewport={**VIEWPORT, "height": height}, device_scale_factor=1).new_page()


def shoot(page, out: Path, name: str, full_page: bool = False) -> Path:
    page.wait_for_timeout(800)  # let charts finish their transitions
    path = out / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    print("wrote", path.relative_to(REPO) if path.is_relative_to(REPO) else path)
    return path


def customers_csv(folder: Path, n: int = 40) -> Path:
    from opslab.data import TARGET, make_customers

    path = folder / "customers.csv"
    make_customers(n, seed=5).drop(columns=[TARGET]).to_csv(path, index=False)
    return path


# --- MLflow: a run with curves, a registered model with two versions and aliases ------------------------------

def log_runs(tracking_url: str) -> tuple[str, str]:
    """Two tracked runs of the churn model, both registered; @champion on the first, @challenger on the
    second. Returns the experiment id and the first run's id."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.models import infer_signature
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.metrics import log_loss, roc_auc_score
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from opslab.data import CATEGORICAL_FEATURES, FEATURES, NUMERIC_FEATURES, TARGET, make_customers
    from opslab.registry import point_mlflow_at
    from opslab.tracking import run_context

    point_mlflow_at(tracking_url)  # this process only: the lab server started later reads the course registry
    experiment_id = mlflow.set_experiment("churn").experiment_id
    data = make_customers(n=3000, seed=0)
    X_train, X_val, y_train, y_val = train_test_split(data[FEATURES], data[TARGET], test_size=0.25,
                                                      random_state=0, stratify=data[TARGET])
    client, first_run = MlflowClient(tracking_url), None
    for version, (depth, rate) in enumerate([(2, 0.1), (3, 0.05)], start=1):
        prep = ColumnTransformer([("numeric", StandardScaler(), NUMERIC_FEATURES),
                                  ("categorical", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL_FEATURES)])
        params = {"max_depth": depth, "learning_rate": rate, "n_estimators": 60, "random_state": 0}
        model = Pipeline([("prep", prep), ("clf", GradientBoostingClassifier(**params))]).fit(X_train, y_train)
        with mlflow.start_run(run_name=f"gbm-depth{depth}") as run:
            mlflow.log_params(params)
            mlflow.set_tags(run_context(data))
            gbm, encoded = model.named_steps["clf"], model.named_steps["prep"].transform(X_val)
            for step, proba in enumerate(gbm.staged_predict_proba(encoded), start=1):
                mlflow.log_metrics({"val_loss": log_loss(y_val, proba[:, 1]),
                                    "val_auc": roc_auc_score(y_val, proba[:, 1])}, step=step)
            proba = model.predict_proba(X_val)[:, 1]
            mlflow.log_metric("val_roc_auc", roc_auc_score(y_val, proba))
            info = mlflow.sklearn.log_model(model, name="model", input_example=X_val.head(3),
                                            signature=infer_signature(X_val, proba),
                                            skops_trusted_types=["sklearn.tree._tree.Tree"])
            first_run = first_run or run.info.run_id
        registered = mlflow.register_model(info.model_uri, "churn-classifier")
        client.set_registered_model_alias("churn-classifier", "champion" if version == 1 else "challenger",
                                          registered.version)
    return experiment_id, first_run


def mlflow_view(page, url: str, text: str) -> None:
    """Open a view of the MLflow UI (a single-page app that keeps polling, so no "network idle"), wait for
    ``text``, and dismiss what covers it: a feature tour's pop-up and the assistant's side panel."""
    page.goto(url, wait_until="load")
    page.get_by_text(text).first.wait_for(timeout=LONG)
    page.keyboard.press("Escape")
    if page.get_by_text("Got it", exact=True).count():
        page.get_by_text("Got it", exact=True).first.click()
    close = page.locator("button[aria-label='Close']")
    if close.count():
        close.first.click()
    page.wait_for_timeout(1500)


def shoot_mlflow(browser, out: Path, work: Path) -> None:
    from opslab.mlflow_server import MlflowServer

    with MlflowServer(work / "mlflow-store") as server:
        experiment, run_id = log_runs(server.url)
        page = new_page(browser)
        mlflow_view(page, f"{server.url}/#/experiments/{experiment}/runs?workflowType=model_training", "gbm-depth2")
        shoot(page, out, "mlflow-runs")
        mlflow_view(page, f"{server.url}/#/experiments/{experiment}/runs/{run_id}/model-metrics", "val_loss")
        shoot(page, out, "mlflow-run-metrics")
        mlflow_view(page, f"{server.url}/#/models/churn-classifier", "champion")
        shoot(page, out, "mlflow-registry-aliases")
        page.context.close()


# --- the lab server, the demo and the Streamlit app -----------------------------------------------------------

def shoot_docs(browser, out: Path, lab_url: str) -> None:
    page = new_page(browser)
    page.goto(f"{lab_url}/docs", wait_until="networkidle")
    page.locator(".opblock").first.wait_for(timeout=LONG)
    page.locator(".opblock-summary-path", has_text="/predict").first.click()  # open POST /predict
    page.get_by_text("Request body").first.wait_for(timeout=LONG)
    shoot(page, out, "lab-server-docs")
    page.context.close()


def shoot_demo(browser, out: Path, lab_url: str, work: Path) -> None:
    import re

    from playwright.sync_api import expect

    from opslab.background import BackgroundServer, free_port, opslab_command

    port = free_port()
    command = opslab_command("demo", "--server-url", lab_url, "--port", str(port))
    with BackgroundServer(command, f"http://127.0.0.1:{port}/", timeout=120, name="opslab demo"):
        page = new_page(browser, height=1300)
        page.goto(f"http://127.0.0.1:{port}/")
        expect(page.locator("#server-status")).to_contain_text("churn-classifier", timeout=LONG)
        page.locator("#csv-upload input[type=file]").set_input_files(str(customers_csv(work)))
        expect(page.locator("#csv-upload")).to_contain_text(re.compile(r"customers\s*\.csv"), timeout=LONG)
        page.locator("#predict-csv").click()
        expect(page.locator("#batch-status")).to_contain_text("Scored 40 customers", timeout=LONG)
        expect(page.locator("img[src^='data:image/png']")).to_have_count(2, timeout=LONG)
        shoot(page, out, "gradio-demo", full_page=True)
        page.context.close()


def shoot_streamlit(browser, out: Path, lab_url: str, work: Path) -> None:
    from playwright.sync_api import expect

    from opslab.background import BackgroundServer, free_port, opslab_command

    port = free_port()
    command = opslab_command("streamlit", "--server-url", lab_url, "--port", str(port))
    with BackgroundServer(command, f"http://127.0.0.1:{port}/_stcore/health", timeout=120, name="opslab streamlit"):
        page = new_page(browser, height=1300)
        page.goto(f"http://127.0.0.1:{port}/", wait_until="networkidle")
        expect(page.get_by_text("churn-classifier").first).to_be_visible(timeout=LONG)
        page.locator("input[type=file]").set_input_files(str(customers_csv(work)))
        page.get_by_text("probability").first.wait_for(timeout=LONG)
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(3000)  # the charts draw after the table
        shoot(page, out, "streamlit-app", full_page=True)
        page.context.close()


# --- TensorBoard -------------------------------------------------------------------------------------------------

def write_events(logdir: Path) -> None:
    """Training curves of a small network at three learning rates, as Lab 2.3 writes them."""
    import numpy as np
    from tensorboardX import SummaryWriter

    rng = np.random.default_rng(0)
    for rate in (0.001, 0.01, 0.1):
        with SummaryWriter(logdir=str(logdir / f"lr={rate}")) as writer:
            for epoch in range(1, 41):
                speed = {0.001: 0.03, 0.01: 0.12, 0.1: 0.5}[rate]
                train = 0.35 + 0.35 * np.exp(-speed * epoch) + rng.normal(0, 0.004)
                val = train + 0.01 + (0.002 * epoch if rate == 0.1 else 0) + rng.normal(0, 0.006)
                writer.add_scalar("loss/train", train, epoch)
                writer.add_scalar("loss/validation", val, epoch)


def shoot_tensorboard(browser, out: Path, work: Path) -> None:
    from opslab.background import BackgroundServer, free_port, venv_bin

    logdir = work / "runs"
    write_events(logdir)
    port = free_port()
    command = [venv_bin("tensorboard"), "--logdir", str(logdir), "--host", "127.0.0.1", "--port", str(port)]
    env = {"PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")}
    with BackgroundServer(command, f"http://127.0.0.1:{port}/data/runs", timeout=120, env=env, name="tensorboard"):
        page = new_page(browser, height=900)
        page.goto(f"http://127.0.0.1:{port}/#timeseries", wait_until="networkidle")
        page.get_by_text("loss/train").first.wait_for(timeout=LONG)
        close = page.locator("button[aria-label='Close side pane']")  # the settings pane, open at first
        if close.count():
            close.first.click()
        page.wait_for_timeout(3000)  # the charts load their data after the cards appear
        shoot(page, out, "tensorboard-scalars")
        page.context.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "book" / "figures" / "screens")
    parser.add_argument("--only", default=",".join(PIECES), help=f"comma-separated subset of {','.join(PIECES)}")
    args = parser.parse_args(argv)
    wanted = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = sorted(set(wanted) - set(PIECES))
    if unknown:
        parser.error(f"unknown pieces: {', '.join(unknown)} (choose from {', '.join(PIECES)})")
    args.out.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory(prefix="opslab-screens-") as tmp:
        work = Path(tmp)
        os.environ["OPSLAB_HOME"] = str(work / "home")
        from opslab.env import go_offline

        go_offline()
        with chromium() as browser, ExitStack() as stack:
            if "mlflow" in wanted:
                shoot_mlflow(browser, args.out, work)
            if {"docs", "demo", "streamlit"} & set(wanted):
                from opslab.serve.process import LabServer
                from opslab.train import train_and_register

                train_and_register(quiet=True)
                lab = stack.enter_context(LabServer(data_dir=work / "serve"))
                if "docs" in wanted:
                    shoot_docs(browser, args.out, lab.url)
                if "demo" in wanted:
                    shoot_demo(browser, args.out, lab.url, work)
                if "streamlit" in wanted:
                    shoot_streamlit(browser, args.out, lab.url, work)
            if "tensorboard" in wanted:
                shoot_tensorboard(browser, args.out, work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
