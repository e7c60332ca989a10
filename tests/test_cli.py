"""The ``opslab`` command: one verb per ``opslab/<verb>/cli.py``, and the installed console script."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import opslab
from opslab.cli import VERBS, main


def test_every_verb_lives_in_its_own_cli_module_with_configure_and_command():
    import importlib

    for verb, (module_name, _) in VERBS.items():
        assert module_name == f"opslab.{verb}.cli", f"{verb}: verbs live in opslab/{verb}/cli.py"
        module = importlib.import_module(module_name)
        assert callable(module.configure) and callable(module.command), verb


def test_no_module_imports_another_modules_private_names():
    """What two modules share is public in one home (``from opslab.x import _y`` is a smell)."""
    offenders = []
    for path in Path(opslab.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("opslab"):
                offenders += [f"{path.name}: {node.module}.{a.name}" for a in node.names if a.name.startswith("_")]
    assert not offenders, offenders


def test_no_verb_prints_the_overview_and_fails(capsys):
    assert main([]) == 2
    out = capsys.readouterr().out
    assert all(verb in out for verb in VERBS), out


def test_an_unknown_verb_fails_naming_the_choices(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["frobnicate"])
    assert exit_.value.code == 2
    assert "invalid choice: 'frobnicate'" in capsys.readouterr().err


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "opslab"  # what `pip install` puts next to the interpreter
    assert script.is_file(), f"no console script at {script}: is opslab installed in this environment?"
    result = subprocess.run([str(script), "run", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "papermill" in result.stdout, result.stdout + result.stderr
    result = subprocess.run([str(script)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "streamlit" in result.stdout


def test_run_with_a_missing_path_is_a_clear_error(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.ipynb")]) == 2
    assert "not a notebook or a folder" in capsys.readouterr().out
