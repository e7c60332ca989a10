import subprocess
import sys

from opslab.cli import VERBS, main


def test_every_verb_has_a_module_with_configure_and_command():
    import importlib

    for verb, (module_name, _) in VERBS.items():
        module = importlib.import_module(module_name)
        assert callable(module.configure) and callable(module.command), verb


def test_no_verb_prints_the_overview_and_fails(capsys):
    try:
        code = main([])
    except SystemExit as exit_:
        code = exit_.code
    assert code in (0, 2)
    assert "run" in capsys.readouterr().out


def test_console_script_is_installed():
    result = subprocess.run([sys.executable, "-m", "opslab", "run", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "papermill" in result.stdout


def test_run_with_a_missing_path_is_a_clear_error(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.ipynb")]) == 2
    assert "not a notebook or a folder" in capsys.readouterr().out
