import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from opslab.run import (
    NotebookResult,
    execute_notebook,
    executed_path,
    find_notebooks,
    format_table,
    parse_parameter,
    run_notebooks,
)

TINY = Path(__file__).parent / "fixtures" / "tiny.ipynb"


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


def test_a_notebook_named_twice_is_found_once(tmp_path):
    write_notebook(tmp_path / "x.ipynb", "1")
    assert find_notebooks([tmp_path, tmp_path / "x.ipynb"]) == [tmp_path / "x.ipynb"]


def test_executed_copies_keep_the_path_below_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = Path("out")
    assert executed_path("solutions/m1.ipynb", out) == out / "solutions" / "m1.ipynb"
    assert executed_path(tmp_path / "labs" / "m1.ipynb", out) == out / "labs" / "m1.ipynb"
    outside = executed_path("/elsewhere/labs/m1.ipynb", out)
    assert outside == out / "_outside" / "elsewhere" / "labs" / "m1.ipynb"
    # a folder below the current one that happens to be called _outside cannot meet it
    assert executed_path("_outside/elsewhere/labs/m1.ipynb", out) != outside


def test_parameters_are_read_as_yaml():
    assert parse_parameter("SEED=3") == ("SEED", 3)
    assert parse_parameter("NAME=churn") == ("NAME", "churn")
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_parameter("SEED")


def test_table_lists_every_notebook():
    table = format_table([NotebookResult("a.ipynb", "ok", 1.25), NotebookResult("b.ipynb", "failed", 3.0, "x")])
    assert "a.ipynb" in table and "ok" in table and "1.2" in table and "failed" in table


@pytest.mark.notebooks
def test_opslab_run_executes_reports_and_names_the_failing_cell(tmp_path):
    write_notebook(tmp_path / "good.ipynb", "print(SEED * 2)", parameters="SEED = 0")
    write_notebook(tmp_path / "bad.ipynb", "x = 1", "raise ValueError('broken on purpose')")
    result = subprocess.run(
        [sys.executable, "-m", "opslab", "run", "good.ipynb", "bad.ipynb", "--out", "out", "-p", "SEED=21"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "good.ipynb" in result.stdout and "bad.ipynb" in result.stdout
    assert "ValueError: broken on purpose" in result.stdout
    assert "FAILED bad.ipynb: cell 2" in result.stdout
    executed = nbformat.read(tmp_path / "out" / "good.ipynb", as_version=4)
    assert executed.cells[-1].outputs[0]["text"].strip() == "42"  # the injected SEED=21 was used


def _printed(notebook: Path) -> str:
    return "".join(o.get("text", "") for c in nbformat.read(notebook, as_version=4).cells for o in c.get("outputs", []))


@pytest.mark.notebooks
def test_notebooks_with_one_name_in_two_folders_get_two_executed_copies(tmp_path, monkeypatch):
    """`opslab run solutions labs`: both m1_lifecycle.ipynb run at once, each into its own copy."""
    for folder, greeting in [("solutions", "hello from solutions"), ("labs", "hello from labs")]:
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "tiny.ipynb").write_text(TINY.read_text().replace("hello, MLOps", greeting))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPSLAB_HOME", str(tmp_path / "home"))
    results = run_notebooks(find_notebooks(["solutions", "labs"]), Path("out"), workers=2)
    assert [r.status for r in results] == ["ok", "ok"], [r.error for r in results]
    assert [r.executed for r in results] == [Path("out/solutions/tiny.ipynb"), Path("out/labs/tiny.ipynb")]
    assert "hello from solutions" in _printed(tmp_path / "out/solutions/tiny.ipynb")
    assert "hello from labs" in _printed(tmp_path / "out/labs/tiny.ipynb")
    assert not (tmp_path / "out" / "tiny.ipynb").exists()


@pytest.mark.notebooks
def test_a_notebook_outside_the_current_folder_goes_below_outside(tmp_path, monkeypatch):
    (tmp_path / "here").mkdir()
    shutil.copy(TINY, tmp_path / "tiny.ipynb")
    monkeypatch.chdir(tmp_path / "here")
    monkeypatch.setenv("OPSLAB_HOME", str(tmp_path / "home"))
    [result] = run_notebooks([tmp_path / "tiny.ipynb"], Path("out"), workers=1)
    assert result.status == "ok", result.error
    expected = Path("out", "_outside", *Path(os.path.abspath(tmp_path / "tiny.ipynb")).parts[1:])
    assert result.executed == expected and expected.is_file()


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


def test_earlier_executed_copies_are_not_run_again(tmp_path, monkeypatch, capsys):
    from opslab.cli import main

    (tmp_path / "out" / "solutions").mkdir(parents=True)
    write_notebook(tmp_path / "out" / "solutions" / "old.ipynb", "1")  # what an earlier `opslab run .` wrote
    monkeypatch.chdir(tmp_path)
    assert main(["run", ".", "--out", "out"]) == 2
    assert "no notebooks" in capsys.readouterr().out
