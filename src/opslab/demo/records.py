"""Customers in, predictions out: read a CSV into JSON records and lay the answers out as a table."""

from __future__ import annotations

import math

import pandas as pd

from opslab.data import CATEGORICAL_FEATURES, FEATURES, NUMERIC_FEATURES

MAX_ROWS = 1000  # a demo scores a sample, not a data warehouse


class InputProblem(ValueError):
    """The uploaded data cannot be scored; the message says why and how to fix it."""


def read_customers(source) -> pd.DataFrame:
    """The customers in the CSV ``source`` (a path or a file object), checked to have every feature
    and at most MAX_ROWS rows."""
    try:
        frame = pd.read_csv(source)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as err:
        raise InputProblem(f"Could not read the file as CSV: {err}") from None
    missing = [f for f in FEATURES if f not in frame.columns]
    if missing:
        raise InputProblem(
            f"The CSV lacks the column(s) {', '.join(missing)}; it needs all of: {', '.join(FEATURES)}."
        )
    if frame.empty:
        raise InputProblem("The CSV has a header but no customers.")
    if len(frame) > MAX_ROWS:
        raise InputProblem(f"The CSV has {len(frame)} rows; the demo scores at most {MAX_ROWS} at a time.")
    return frame


def _json_value(value):
    """NaN becomes null (the server then names the field) and numpy scalars become Python ones."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def to_records(frame: pd.DataFrame) -> list[dict]:
    """The feature columns of ``frame`` as a list of JSON-ready dicts, one per customer."""
    return [{k: _json_value(v) for k, v in row.items()} for row in frame[FEATURES].to_dict("records")]


def customer_record(*values) -> dict:
    """One customer from form values given in FEATURES order (numbers first, then categories)."""
    if len(values) != len(FEATURES):
        raise InputProblem(f"expected {len(FEATURES)} values, got {len(values)}")
    record = dict(zip(FEATURES, values, strict=True))
    empty = [f for f in NUMERIC_FEATURES if record[f] is None] + [
        f for f in CATEGORICAL_FEATURES if not record[f]
    ]
    if empty:
        raise InputProblem(f"Fill in {', '.join(empty)}.")
    return {k: _json_value(v) for k, v in record.items()}


def predictions_table(frame: pd.DataFrame, predictions: list[dict]) -> pd.DataFrame:
    """The predictions first (probability rounded for reading), then the customer's features."""
    answers = pd.DataFrame(predictions)
    table = pd.DataFrame(
        {
            "probability": answers["probability"].round(3),
            "churned": answers["churned"].astype(int),
            "prediction_id": answers["prediction_id"],
        }
    )
    return pd.concat([table, frame[FEATURES].reset_index(drop=True)], axis=1)
