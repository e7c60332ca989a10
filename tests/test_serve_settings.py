"""The lab server's settings come from OPSLAB_* variables through pydantic-settings: a value that does not
fit is refused before any worker starts, with an error that names the variable and the value."""

from __future__ import annotations

import pytest

from opslab.cli import main
from opslab.serve.settings import SettingsError, read_env


def test_defaults_and_given_values_are_read():
    env = read_env({"OPSLAB_MAX_BATCH": "50", "OPSLAB_LOG_TIMEOUT": "2.5", "OPSLAB_DRIFT_METRICS": "0",
                    "OPSLAB_UNRELATED": "x"})
    assert (env.max_batch, env.log_timeout, env.drift_metrics, env.max_body_bytes) == (50, 2.5, False, 1_000_000)


@pytest.mark.parametrize("variable, value", [("OPSLAB_MAX_BATCH", "lots"), ("OPSLAB_MAX_BATCH", "0"),
                                             ("OPSLAB_LOG_TIMEOUT", "-1"), ("OPSLAB_DRIFT_METRICS", "maybe")])
def test_a_bad_value_names_the_variable_and_the_value(variable, value):
    with pytest.raises(SettingsError) as refused:
        read_env({variable: value})
    assert f"{variable}={value!r}" in str(refused.value)


def test_opslab_serve_refuses_a_bad_setting_before_it_starts(monkeypatch, tmp_path, capsys):
    import os

    # opslab serve hands its settings to its workers in os.environ: each comes back as it was after the test
    for key in ("OPSLAB_MODEL_URI", "OPSLAB_DATA_DIR", "OPSLAB_MAX_BATCH", "OPSLAB_MAX_BODY_BYTES",
                "OPSLAB_LOG_TIMEOUT", "OPSLAB_LOG_MAX_ROWS", "OPSLAB_LOG_MAX_DAYS", "OPSLAB_METRICS_DIR"):
        monkeypatch.setenv(key, os.environ.get(key, ""))  # recorded as it was (set or not) ...
        monkeypatch.delenv(key)  # ... and unset for the test
    model = tmp_path / "model.onnx"
    model.write_bytes(b"not read: the settings are checked first")
    monkeypatch.setenv("OPSLAB_FEEDBACK_WINDOW", "a week")
    monkeypatch.setenv("OPSLAB_HOME", str(tmp_path))
    assert main(["serve", "--model-uri", str(model), "--data-dir", str(tmp_path / "data")]) == 2
    assert "OPSLAB_FEEDBACK_WINDOW='a week'" in capsys.readouterr().out
