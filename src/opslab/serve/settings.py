"""The lab server's environment (the OPSLAB_* variables ``opslab serve`` hands to its workers), read
and checked by pydantic-settings: a bad value is an error naming the variable and the value."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

PREFIX = "OPSLAB_"


class SettingsError(ValueError):
    """An OPSLAB_* variable has a value the server cannot use; the message names each one."""


class ServeEnv(BaseSettings):
    """Each field is the variable OPSLAB_<FIELD NAME> (unset or empty: the default)."""

    model_config = SettingsConfigDict(env_prefix=PREFIX, env_ignore_empty=True, extra="ignore")

    model_uri: str | None = None
    data_dir: Path | None = None
    admin_token: str | None = None
    max_batch: int = Field(1000, ge=1)
    max_body_bytes: int = Field(1_000_000, ge=1)
    metrics_dir: Path | None = None
    drift_metrics: bool = True
    drift_window: int = Field(500, ge=1)
    drift_min_records: int = Field(100, ge=1)
    feedback_window: int = Field(500, ge=1)
    feedback_min_labels: int = Field(50, ge=1)
    log_timeout: float = Field(10.0, ge=0)
    log_max_rows: int = Field(1_000_000, ge=0)  # 0: keep every prediction
    log_max_days: float = Field(0.0, ge=0)  # 0: no age limit


def read_env(environ: dict | None = None) -> ServeEnv:
    """The server's settings from ``environ`` (default: the process's environment); raises
    :class:`SettingsError` naming every variable whose value does not fit, and that value."""
    import os

    env = os.environ if environ is None else environ
    try:
        if environ is None:
            return ServeEnv()
        values = {k.removeprefix(PREFIX).lower(): v for k, v in env.items() if k.startswith(PREFIX) and v != ""}
        return ServeEnv.model_validate({k: v for k, v in values.items() if k in ServeEnv.model_fields})
    except ValidationError as err:
        problems = []
        for e in err.errors():
            variable = PREFIX + str(e["loc"][0]).upper()
            problems.append(f"{variable}={env.get(variable, e.get('input'))!r}: {e['msg']}")
        raise SettingsError("bad lab server setting: " + "; ".join(problems)) from None
