"""The one CI command: `python ci/run.py`. The workflow, the Jenkinsfile and `make ci` all call it.

1. check params.yaml and the data;  2. `dvc repro`;  3. the project's tests (data and behaviour);
4. the quality gate against the champion (champion.json);  5. log the run to MLflow (a SQLite
store in the workspace) and, when the gate passes, register the model as `@challenger`;
6. a metrics diff as Markdown, to $GITHUB_STEP_SUMMARY when set, and always to reports/summary.md.

Exit status: 0 when the gate passes, 1 when it fails, 2 when the pipeline cannot run at all.
Every failure prints one line that starts with `ci:` and names the problem.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gate import decide, summary_table  # noqa: E402

MODEL_NAME = "churn-ci"
STORE = "sqlite:///mlruns.db"
OFFLINE = {"DVC_NO_ANALYTICS": "1", "ITERATIVE_DO_NOT_TRACK": "1", "MLFLOW_DISABLE_TELEMETRY": "true",
           "DO_NOT_TRACK": "1", "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}
REQUIRED = {
    ("extract", "n"): int, ("extract", "seed"): int,
    ("prepare", "test_size"): float, ("prepare", "seed"): int,
    ("train", "C"): float, ("train", "max_iter"): int,
    ("gate", "min_auc"): float, ("gate", "max_auc_drop"): float,
}


class Stop(Exception):
    """The pipeline cannot run: the message names the problem."""


def check_params(path: Path = Path("params.yaml")) -> dict:
    import yaml

    if not path.exists():
        raise Stop(f"{path} is missing")
    try:
        params = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise Stop(f"{path} is not valid YAML: {err}".replace("\n", " ")) from None
    if not isinstance(params, dict):
        raise Stop(f"{path} must be a mapping of sections (extract, prepare, train, gate)")
    for (section, key), kind in REQUIRED.items():
        value = (params.get(section) or {}).get(key) if isinstance(params.get(section), (dict, type(None))) else None
        if value is None:
            raise Stop(f"{path}: {section}.{key} is missing")
        if isinstance(value, bool) or not isinstance(value, (int, float) if kind is float else int):
            raise Stop(f"{path}: {section}.{key} must be a{'n integer' if kind is int else ' number'}, got {value!r}")
    if not 0 < params["prepare"]["test_size"] < 1:
        raise Stop(f"{path}: prepare.test_size must be between 0 and 1, got {params['prepare']['test_size']}")
    if params["train"]["C"] <= 0:
        raise Stop(f"{path}: train.C must be positive, got {params['train']['C']}")
    return params


def sh(*cmd: str, **env: str) -> subprocess.CompletedProcess:
    print("$", " ".join(cmd), flush=True)
    return subprocess.run(cmd, env={**os.environ, **{k: os.environ.get(k, v) for k, v in OFFLINE.items()}, **env})


def git_commit() -> str:
    out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 else "unknown"


def log_and_register(params: dict, metrics: dict, passed: bool, reasons: list[str]) -> str | None:
    """Log this run to the workspace's MLflow store; register the model as @challenger if it passed."""
    import pickle

    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(STORE)
    mlflow.set_registry_uri(STORE)
    client = MlflowClient()
    experiment = client.get_experiment_by_name("churn-ci")
    experiment_id = experiment.experiment_id if experiment else client.create_experiment(
        "churn-ci", artifact_location=(Path.cwd() / "mlartifacts").as_uri())
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"ci {git_commit()[:8]}"):
        mlflow.log_params({f"{s}.{k}": v for s in ("train", "prepare") for k, v in params[s].items()})
        mlflow.log_metrics(metrics)
        mlflow.set_tags({"git.commit": git_commit(), "gate.passed": str(passed), "gate.reasons": "; ".join(reasons)})
        if not passed:  # the run stays in the store, so a failed gate can be inspected; no model version
            return None
        with open("models/model.pkl", "rb") as f:
            model = pickle.load(f)
        info = mlflow.sklearn.log_model(model, name="model", pip_requirements=["scikit-learn", "pandas"],
                                        serialization_format="pickle")
    version = mlflow.register_model(info.model_uri, MODEL_NAME, tags={"git.commit": git_commit()})
    client.set_registered_model_alias(MODEL_NAME, "challenger", version.version)
    return version.version


def main() -> int:
    params = check_params()
    raw = Path("data/raw/customers.csv")
    if not raw.exists():
        raise Stop(f"{raw} is missing: get it with `dvc pull` (or `python src/extract.py`)")
    if sh("dvc", "repro").returncode != 0:
        raise Stop("dvc repro failed: the stage that failed is named above")
    # Only the plugins the project names (none today) load: whatever else is installed where CI runs
    # (hypothesis, faker, ... each add seconds of start-up) cannot change or slow the project's tests.
    tests = sh(sys.executable, "-m", "pytest", "tests", "-q", "-p", "no:cacheprovider", "--junitxml=reports/tests.xml",
               PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    failed = failed_tests(Path("reports/tests.xml")) if tests.returncode != 0 else []
    if tests.returncode != 0 and not failed:
        raise Stop(f"pytest could not run the tests (exit {tests.returncode}): see above")
    metrics = json.loads(Path("metrics/scores.json").read_text())
    champion_file = Path("champion.json")
    champion = json.loads(champion_file.read_text()) if champion_file.exists() else None
    passed, reasons = decide(metrics, champion and champion["metrics"], params["gate"], failed)
    version = log_and_register(params, metrics, passed, reasons)
    summary = summary_table(metrics, champion, passed, reasons, version)
    Path("reports").mkdir(exist_ok=True)
    Path("reports/summary.md").write_text(summary)
    if os.environ.get("GITHUB_STEP_SUMMARY"):
        with open(os.environ["GITHUB_STEP_SUMMARY"], "a") as f:
            f.write(summary)
    print(summary)
    if not passed:
        print("ci: the quality gate failed: " + "; ".join(reasons), file=sys.stderr)
        return 1
    print(f"ci: the gate passed; registered {MODEL_NAME} version {version} as @challenger")
    return 0


def failed_tests(junit: Path) -> list[str]:
    """The names of the failed tests in pytest's JUnit XML report."""
    import xml.etree.ElementTree as ET

    if not junit.exists():
        return []
    return [case.get("name") for case in ET.parse(junit).iter("testcase")
            if case.find("failure") is not None or case.find("error") is not None]


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Stop as problem:
        print(f"ci: {problem}", file=sys.stderr)
        sys.exit(2)
