import os
import random
import subprocess
import sys

import numpy as np

from opslab import env


def test_setup_lab_works_in_its_own_folder_under_the_home(tmp_path, monkeypatch):
    monkeypatch.setenv("OPSLAB_HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    workdir = env.setup_lab("m0_demo")
    assert workdir == tmp_path / "m0_demo" and workdir.is_dir()
    assert os.getcwd() == str(workdir)


def test_setup_lab_fresh_empties_the_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("OPSLAB_HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    (env.setup_lab("m0_demo") / "old.txt").write_text("x")
    assert (env.setup_lab("m0_demo") / "old.txt").exists()
    assert not (env.setup_lab("m0_demo", fresh=True) / "old.txt").exists()


def test_go_offline_switches_telemetry_off(monkeypatch, tmp_path):
    monkeypatch.setenv("OPSLAB_HOME", str(tmp_path))
    for key in env.OFFLINE_ENV:
        monkeypatch.delenv(key, raising=False)
    for key in ["WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR"]:
        monkeypatch.delenv(key, raising=False)
    env.go_offline()
    assert os.environ["WANDB_MODE"] == "offline"
    assert os.environ["MLFLOW_DISABLE_TELEMETRY"] == "true"
    assert os.environ["GRADIO_ANALYTICS_ENABLED"] == "False"
    assert os.environ["DVC_NO_ANALYTICS"] == "1"
    assert os.environ["WANDB_DIR"].startswith(str(tmp_path))


def test_go_offline_keeps_what_the_user_chose(monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "disabled")
    env.go_offline()
    assert os.environ["WANDB_MODE"] == "disabled"


def test_seed_everything_makes_global_generators_repeat():
    env.seed_everything(5)
    first = (random.random(), np.random.rand())
    env.seed_everything(5)
    assert (random.random(), np.random.rand()) == first


def test_seed_everything_fixes_string_hashing_in_child_processes_not_in_this_one(monkeypatch):
    """PYTHONHASHSEED is read at interpreter start: it reaches children, not the running process."""
    monkeypatch.delenv("PYTHONHASHSEED", raising=False)
    before = hash("opslab")
    code = [sys.executable, "-c", "print(hash('opslab'))"]
    unseeded = {subprocess.run(code, capture_output=True, text=True, check=True).stdout for _ in range(3)}
    env.seed_everything(5)
    assert hash("opslab") == before, "the running interpreter's hash seed cannot change"
    seeded = {subprocess.run(code, capture_output=True, text=True, check=True).stdout for _ in range(3)}
    assert len(seeded) == 1, f"children of a seeded process hash differently: {seeded}"
    assert len(unseeded) > 1, "without the variable, children should get random hash seeds"


def test_a_lab_started_by_a_runner_with_mplbackend_agg_still_shows_its_figures(tmp_path, monkeypatch):
    """Runners (pytest, opslab run, the grader) export MPLBACKEND=Agg; setup_lab puts figures back in the notebook."""
    import nbformat

    from opslab.run import execute_notebook

    monkeypatch.setenv("OPSLAB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell('from opslab import setup_lab\nsetup_lab("m0_figures")'),
        nbformat.v4.new_code_cell("import matplotlib.pyplot as plt\nplt.plot([0, 1], [1, 0])\nplt.show()"),
    ])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    source = tmp_path / "figures.ipynb"
    nbformat.write(notebook, source)
    result = execute_notebook(source, tmp_path / "out", timeout=120)
    assert result.status == "ok", result.error
    outputs = nbformat.read(result.executed, as_version=4).cells[1].outputs
    assert any("image/png" in o.get("data", {}) for o in outputs), outputs
