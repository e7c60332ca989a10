"""Module 4's project template: shipped as package data, its CI command, its workflow under act, DVC."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from opslab.projects import STANDINS, act_command, copy_project, run_act

REPO = Path(__file__).resolve().parents[1]


def run(command: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
           "DVC_SITE_CACHE_DIR": str(cwd.parent / "dvc-site-cache"), "DVC_NO_ANALYTICS": "1",
           "ITERATIVE_DO_NOT_TRACK": "1"}
    result = subprocess.run(command, shell=True, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    if check:
        assert result.returncode == 0, f"`{command}` exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """The template as a learner sets it up: git, DVC, the snapshot tracked and pushed to a local remote."""
    root = tmp_path_factory.mktemp("m4")
    repo = copy_project("churn_ci", root / "churn-ci")
    run("git init -q -b main && git config user.name T && git config user.email t@example.org", repo)
    run("dvc init -q && dvc config core.check_update false", repo)
    run(f"python src/extract.py && dvc add -q data/raw/customers.csv && dvc remote add -q -d storage {root / 'remote'}"
        " && dvc push -q && git add -A && git commit -q -m start", repo)
    return repo


@pytest.fixture
def clone(project, tmp_path) -> Path:
    """A fresh copy of the set-up project (with its DVC cache), to change freely."""
    target = tmp_path / "churn-ci"
    shutil.copytree(project, target, symlinks=True)
    return target


def test_the_template_ships_every_file_as_package_data(tmp_path):
    repo = copy_project("churn_ci", tmp_path / "p")
    for name in ["params.yaml", "dvc.yaml", "Makefile", "Jenkinsfile", "MLproject", "requirements.txt", ".gitignore",
                 ".github/workflows/train.yml", "ci/run.py", "ci/gate.py", "ci/promote.py", "ci/promotion.py",
                 "src/extract.py", "src/prepare.py", "src/train.py", "src/evaluate.py", "tests/test_data.py",
                 "tests/test_model.py"]:
        assert (repo / name).is_file(), f"{name} is not shipped"
    for caller in ["Makefile", "Jenkinsfile", "MLproject", ".github/workflows/train.yml"]:
        assert "python ci/run.py" in (repo / caller).read_text(), f"{caller} does not call the one CI command"
    with pytest.raises(ValueError, match="unknown project"):
        copy_project("nope", tmp_path / "q")


def test_the_template_pins_the_course_versions():
    course = {line.split("==")[0].lower(): line for line in (REPO / "requirements.txt").read_text().splitlines()
              if "==" in line}
    template = (REPO / "src/opslab/projects/churn_ci/requirements.txt").read_text().splitlines()
    pins = [line for line in template if line and not line.startswith("#")]
    assert pins, "the template pins nothing"
    for line in pins:
        assert course.get(line.split("==")[0].lower()) == line, f"{line} differs from the course's pin"


def test_the_workflow_and_the_action_standins_match_githubs_schemas():
    projects = REPO / "src/opslab/projects"
    checks = [("vendor.github-workflows", projects / "churn_ci/.github/workflows/train.yml")]
    checks += [("vendor.github-actions", projects / "actions" / name / "action.yml") for name in STANDINS]
    for schema, path in checks:
        result = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, str(path)],
                                capture_output=True, text=True)
        assert result.returncode == 0, f"{path.relative_to(REPO)}: {result.stdout}{result.stderr}"


def test_act_command_replaces_every_action_and_refuses_an_unknown_one(project, tmp_path):
    cmd = act_command(project, tmp_path)
    assert cmd[cmd.index("-P") + 1] == "ubuntu-latest=-self-hosted"
    replaced = {cmd[i + 1].split("=")[0] for i, arg in enumerate(cmd) if arg == "--local-repository"}
    assert replaced == {"actions/checkout@v7", "actions/setup-python@v7", "actions/cache@v5",
                        "actions/upload-artifact@v7"}
    assert all((tmp_path / "action-standins" / name / "action.yml").is_file() for name in STANDINS)
    other = tmp_path / "other"
    (other / ".github/workflows").mkdir(parents=True)
    (other / ".github/workflows/x.yml").write_text("on: push\njobs:\n  j:\n    runs-on: ubuntu-latest\n"
                                                    "    steps:\n      - uses: actions/github-script@v7\n")
    with pytest.raises(ValueError, match="actions/github-script@v7"):
        act_command(other, tmp_path)


def test_ci_command_fails_the_gate_on_a_degraded_change(clone):
    champion = {"version": "1", "metrics": {"roc_auc": 0.7781, "log_loss": 0.3923}}
    (clone / "champion.json").write_text(json.dumps(champion))
    params = (clone / "params.yaml").read_text()
    params = params.replace("drop_features: []", "drop_features: [tenure_months, contract]")
    (clone / "params.yaml").write_text(params)
    result = run("python ci/run.py", clone, check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "ci: the quality gate failed" in result.stderr
    assert "below the champion's 0.7781" in result.stderr and "test_longer_tenure_lowers_churn_risk" in result.stderr
    assert not (clone / "mlruns.db").exists() or "churn-ci" not in run(
        "python -c \"from mlflow import MlflowClient as C; c=C('sqlite:///mlruns.db', registry_uri='sqlite:///mlruns.db');"
        " print([m.name for m in c.search_registered_models()])\"", clone).stdout


def test_ci_command_registers_a_challenger_and_promote_gates_it_once_there_is_a_champion(clone):
    result = run("python ci/run.py", clone)  # the clean template passes and registers a challenger
    assert "ci: the gate passed" in result.stdout
    summary = (clone / "reports/summary.md").read_text()
    assert "Quality gate: passed" in summary and "champion (none yet)" in summary
    from mlflow import MlflowClient

    store = f"sqlite:///{clone / 'mlruns.db'}"
    challenger = MlflowClient(store, registry_uri=store).get_model_version_by_alias("churn-ci", "challenger")
    assert str(challenger.version) == "1"
    run("python ci/promote.py", clone)  # a fresh registry: the first champion, no gate
    # a change within the quality gate's margin is registered, and then refused by the promotion gate
    params = (clone / "params.yaml").read_text()
    (clone / "params.yaml").write_text(params.replace("drop_features: []", "drop_features: [days_since_last_login]"))
    assert "ci: the gate passed" in run("python ci/run.py", clone).stdout  # within the quality gate's margin
    before = (clone / "champion.json").read_text()
    result = run("python ci/promote.py", clone, check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "promote: refused: version 2 stays @challenger, version 1 stays @champion" in result.stderr
    assert "below the champion's 0.7781" in result.stderr  # the shipped gate: AUC on the same holdout
    assert (clone / "champion.json").read_text() == before


def test_promote_names_a_missing_challenger(clone):
    result = run("python ci/promote.py", clone, check=False)
    assert result.returncode == 2 and "promote: no churn-ci@challenger" in result.stderr, result.stderr


def test_ci_command_names_a_failing_test(clone):
    (clone / "tests/test_extra.py").write_text("def test_someone_broke_this():\n    assert 1 == 2\n")
    result = run("python ci/run.py", clone, check=False)
    assert result.returncode == 1
    assert "test failed: test_someone_broke_this" in result.stderr


@pytest.mark.parametrize("params, problem", [
    ("extract: [n: 1\n", "params.yaml is not valid YAML"),
    ("extract: {n: 10, seed: 0}\nprepare: {test_size: 0.2, seed: 0}\ntrain: {C: abc, max_iter: 10}\n"
     "gate: {min_auc: 0.7, max_auc_drop: 0.01}\n", "train.C must be a number, got 'abc'"),
    ("extract: {n: 10, seed: 0}\nprepare: {test_size: 0.2, seed: 0}\ntrain: {C: 1.0, max_iter: 10}\n",
     "gate.min_auc is missing"),
])
def test_ci_command_names_a_broken_params_file(clone, params, problem):
    (clone / "params.yaml").write_text(params)
    result = run("python ci/run.py", clone, check=False)
    assert result.returncode == 2 and problem in result.stderr, result.stderr


def test_ci_command_names_a_missing_data_file(clone):
    (clone / "data/raw/customers.csv").unlink()
    result = run("python ci/run.py", clone, check=False)
    assert result.returncode == 2
    assert "ci: data/raw/customers.csv is missing: get it with `dvc pull`" in result.stderr


def test_dvc_push_and_pull_round_trip_through_a_local_remote(project, tmp_path):
    run("dvc repro -q && dvc push -q && git add -A && git commit -q -m pipeline", project)
    second = tmp_path / "second"
    run(f"git clone -q {project} {second}", tmp_path)
    assert not (second / "models/model.pkl").exists(), "the model should not be in git"
    run("dvc pull -q", second)
    for name in ["data/raw/customers.csv", "data/prepared/test.csv", "models/model.pkl"]:
        assert (second / name).read_bytes() == (project / name).read_bytes(), f"{name} differs after dvc pull"
    assert "up to date" in run("dvc status", second).stdout


def test_the_workflow_runs_with_act_offline(project, tmp_path):
    result = run_act(project, tmp_path / "act", artifacts=tmp_path / "artifacts", timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "Job succeeded" in result.stdout
    assert "Summary - ## Quality gate: passed" in result.stdout, "the job summary was not written"
    store = tmp_path / "artifacts/mlflow-store"
    assert (store / "mlruns.db").is_file() and (store / "reports/summary.md").is_file(), "artifacts were not kept"
    assert not (project / "mlruns.db").exists(), "act should run in a copy of the repository, not in it"
