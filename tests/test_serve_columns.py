"""/predict checks a valid batch a column at a time and runs pydantic only to name the problems of an
invalid one: that shortcut must accept exactly what the pydantic model accepts (one record or a
batch), or bad input could be served. Each case mutates one field of a valid record."""

from __future__ import annotations

import math

import numpy as np
import pytest
from fastapi import HTTPException
from pydantic import ValidationError

from opslab.data import CATEGORICAL_FEATURES, FEATURE_LIMITS, FEATURES, NUMERIC_FEATURES
from opslab.serve.schema import Batch, CustomerRecord, HugeNumber, parse_records
from serve_support import sample_records

NUMERIC_VALUES = [0, 1, 2.5, -1, -0.0, 10**30, -(10**400), 1e308, math.nan, math.inf, -math.inf, True, False,
                  "3", None, [], {}, HugeNumber("9" * 5000)]
CATEGORY_VALUES = ["basic", "premium", "north", "card", "Basic", "", 1, 1.0, True, None, [], {}, ["basic"]]


def mutations():
    base = sample_records(1)[0]
    for feature in NUMERIC_FEATURES:
        low, high = FEATURE_LIMITS[feature]
        for value in [*NUMERIC_VALUES, low, high, high + 1, low - 1e-9, float(high)]:
            yield f"{feature}={value!r}"[:60], {**base, feature: value}
    for feature in CATEGORICAL_FEATURES:
        for value in CATEGORY_VALUES:
            yield f"{feature}={value!r}", {**base, feature: value}
    for feature in FEATURES:
        yield f"without {feature}", {k: v for k, v in base.items() if k != feature}
        renamed = {k if k != feature else feature.upper(): v for k, v in base.items()}
        yield f"{feature} renamed", renamed
    yield "an extra field", {**base, "extra": 1}
    yield "reordered", dict(reversed(list(base.items())))


CASES = list(mutations())


def pydantic_accepts(record) -> bool:
    try:
        CustomerRecord.model_validate(record)
        return True
    except ValidationError:
        return False


@pytest.mark.parametrize("record", [case for _, case in CASES], ids=[name for name, _ in CASES])
def test_the_column_check_accepts_exactly_what_pydantic_accepts(record):
    expected = pydantic_accepts(record)
    valid = sample_records(3, seed=2)
    for payload in (record, [valid[0], record, valid[1]], [record] * 3):
        try:
            batch = parse_records(payload, 1000)
        except HTTPException as refused:
            assert not expected, f"a valid record was refused: {refused.detail}"
            assert refused.status_code == 422
            continue
        assert expected, f"an invalid record was accepted: {record}"
        assert batch.records == (payload if isinstance(payload, list) else [payload])


def test_a_batch_holds_its_columns_in_feature_order():
    records = sample_records(4)
    batch = parse_records(records, 1000)
    assert len(batch) == 4 and batch.records == records
    assert batch.numeric.shape == (4, len(NUMERIC_FEATURES))
    assert np.array_equal(batch.numeric, np.array([[r[f] for f in NUMERIC_FEATURES] for r in records], float))
    assert batch.columns["plan"] == tuple(r["plan"] for r in records)
    one = parse_records(records[0], 1000)
    assert np.array_equal(one.numeric, batch.numeric[:1]) and one.columns["region"] == (records[0]["region"],)
    assert np.array_equal(Batch.of(records).numeric, batch.numeric)
