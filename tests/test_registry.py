import os
import subprocess
import sys

from opslab import registry


def test_the_course_registry_lives_under_the_labs_home(tmp_path, monkeypatch):
    monkeypatch.setenv("OPSLAB_HOME", str(tmp_path))
    assert registry.tracking_uri() == f"sqlite:///{tmp_path / 'registry' / 'mlflow.db'}"
    assert registry.champion_uri() == "models:/churn-classifier@champion"


def test_pointing_mlflow_at_the_registry_does_not_leak_into_child_processes(tmp_path, monkeypatch):
    monkeypatch.setenv("OPSLAB_HOME", str(tmp_path))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    import mlflow

    registry.use_course_registry()
    assert mlflow.get_registry_uri() == registry.tracking_uri()  # this process uses it
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os; print(os.environ.get('MLFLOW_TRACKING_URI'), os.environ.get('MLFLOW_REGISTRY_URI'))",
        ],
        capture_output=True,
        text=True,
        env=dict(os.environ),
    )
    assert child.stdout.split() == ["None", "None"]  # a kernel or server started now starts clean


def test_a_tracking_uri_the_user_set_is_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("OPSLAB_HOME", str(tmp_path))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    registry.point_mlflow_at(registry.tracking_uri())
    assert os.environ["MLFLOW_TRACKING_URI"] == "http://127.0.0.1:5000"
