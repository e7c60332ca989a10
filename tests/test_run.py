import subprocess
import sys

import nbformat
import pytest

from opslab.run import NotebookResult, _parse_parameter, execute_notebook, find_notebooks, format_table


def write_notebook(path, *sources, parameters=None):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    if parameters:
        cell = nbformat.v4.new_code_cell(parameters)
        cell.metadata["tags"] = ["parameters"]
        nb.cells.append(cell)
    nb.cells += [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(nb, path)
    return path


def test_find_notebooks_searches_folders_and_rejects_other_paths(tmp_path):
    (tmp_path / "a").mkdir()
    write_notebook(tmp_path / "a" / "x.ipynb", "1")
    write_notebook(tmp_path / "b.ipynb", "1")
    (tmp_path / "a" / ".ipynb_checkpoints").mkdir()
    write_notebook(tmp_path / "a" / ".ipynb_checkpoints" / "x-checkpoint.ipynb", "1")
    assert find_notebooks([tmp_path / "a", tmp_path / "b.ipynb"]) == [tmp_path / "a" / "x.ipynb", tmp_path / "b.ipynb"]
    with pytest.raises(FileNotFoundError, match="not a notebook"):
        find_notebooks([tmp_path / "missing.txt"])


def test_parameters_are_read_as_yaml():
    assert _parse_parameter("SEED=3") == ("SEED", 3)
    assert _parse_parameter("NAME=churn") == ("NAME", "churn")
    with pytest.raises(ValueError, match="KEY=VALUE"):
        _parse_parameter("SEED")


def test_table_lists_every_notebook():
    table = format_table([NotebookResult("a.ipynb", "ok", 1.25), NotebookResult("b.ipynb", "failed", 3.0, "x")])
    assert "a.ipynb" in table and "ok" in table and "1.2" in table and "failed" in table


@pytest.mark.notebooks
def test_opslab_run_executes_reports_and_names_the_failing_cell(tmp_path):
    good = write_notebook(tmp_path / "good.ipynb", "print(SEED * 2)", parameters="SEED = 0")
    bad = write_notebook(tmp_path / "bad.ipynb", "x = 1", "raise ValueError('broken on purpose')")
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "opslab", "run", str(good), str(bad), "--out", str(out), "-p", "SEED=21"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "good.ipynb" in result.stdout and "bad.ipynb" in result.stdout
    assert "ValueError: broken on purpose" in result.stdout
    assert f"FAILED {bad}: cell 2" in result.stdout
    executed = nbformat.read(out / "good.ipynb", as_version=4)
    assert executed.cells[-1].outputs[0]["text"].strip() == "42"  # the injected SEED=21 was used


@pytest.mark.notebooks
def test_opslab_run_exits_zero_when_all_pass(tmp_path):
    good = write_notebook(tmp_path / "good.ipynb", "print('fine')")
    result = subprocess.run(
        [sys.executable, "-m", "opslab", "run", str(good), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 of 1 notebooks ran" in result.stdout


@pytest.mark.notebooks
def test_errors_in_cells_tagged_raises_exception_are_expected(tmp_path):
    nb = write_notebook(tmp_path / "lab.ipynb", "raise NotImplementedError('exercise')", "print('after')", "1 / 0")
    notebook = nbformat.read(nb, as_version=4)
    notebook.cells[0].metadata["tags"] = ["raises-exception"]
    nbformat.write(notebook, nb)
    failed = execute_notebook(nb, tmp_path / "out")
    assert failed.status == "failed" and failed.error == "cell 3: ZeroDivisionError: division by zero"

    notebook.cells.pop()  # without the unexpected error, the lab runs as designed
    nbformat.write(notebook, nb)
    assert execute_notebook(nb, tmp_path / "out").status == "ok"
