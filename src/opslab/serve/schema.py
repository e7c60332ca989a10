"""Request models derived from the simulator's feature list, and request-body parsing that says
exactly which field is wrong and how (one home for every 4xx about a request body)."""

from __future__ import annotations

import json
import math
from operator import itemgetter
from typing import Annotated, Any, Literal

import numpy as np
import orjson
from fastapi import HTTPException, Request
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    create_model,
)

from opslab.data import CATEGORICAL_FEATURES, CATEGORIES, EXAMPLE_RECORD, FEATURE_LIMITS, FEATURES, NUMERIC_FEATURES


def number(low: float | None = None, high: float | None = None):
    """A JSON number (int or float), finite, within [low, high]; strings such as "42" and booleans are
    refused, not coerced."""
    return Annotated[float, Field(strict=True, allow_inf_nan=False, ge=low, le=high)]


class HugeNumber(float):
    """A JSON integer with more digits than Python converts (``sys.get_int_max_str_digits()``, 4,300):
    read as an infinite float, so validation refuses it and names its field, remembering its digits
    for the message (``json.loads`` alone raises a bare ValueError that would name nothing)."""

    def __new__(cls, text: str):
        value = super().__new__(cls, "-inf" if text.startswith("-") else "inf")
        value.text = text
        return value


def _parse_int(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        return HugeNumber(text)


def record_model(numeric: list[str] = NUMERIC_FEATURES, categories: dict[str, list[str]] | None = None):
    """A pydantic model with one required field per feature: numbers for ``numeric`` (within
    ``opslab.data.FEATURE_LIMITS``), one of the allowed strings for each categorical feature; unknown
    fields are refused."""
    categories = CATEGORIES if categories is None else categories
    fields: dict[str, Any] = {name: (number(*FEATURE_LIMITS.get(name, (None, None))), ...) for name in numeric}
    fields |= {name: (Literal[tuple(values)], ...) for name, values in categories.items()}
    config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE_RECORD]})
    return create_model("CustomerRecord", __config__=config, **fields)


CustomerRecord = record_model(NUMERIC_FEATURES, {c: CATEGORIES[c] for c in CATEGORICAL_FEATURES})
assert list(CustomerRecord.model_fields) == FEATURES  # noqa: S101 - an import-time invariant of this module


def _integral_float_as_int(value: Any) -> Any:
    # JSON has one kind of number, and JSON Schema's "integer" (what the OpenAPI document promises)
    # admits 1.0: clients that hold labels in a float column (pandas, JavaScript) send 0.0 and 1.0.
    # So those are the integers 0 and 1; 0.5, "1" and true are still refused.
    if type(value) is float and value.is_integer():
        return int(value)
    return value


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prediction_id: str = Field(pattern=r"^[0-9a-f]{32}$", description="the id /predict returned")
    churned: Annotated[int, BeforeValidator(_integral_float_as_int)] = Field(
        strict=True, ge=0, le=1, description="the true outcome: 1 churned, 0 stayed (1.0 and 0.0 too)"
    )


class ReloadRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model_uri: str | None = Field(
        default=None,
        min_length=1,
        description="models:/NAME@ALIAS, models:/NAME/VERSION, a model folder or a .onnx file; "
        "omitted: load the server's configured URI again (re-resolving its alias)",
    )


def _json_safe(value: Any) -> Any:
    """The offending input, short enough to echo back in an error message."""
    if isinstance(value, HugeNumber):
        value = value.text
        digits = value.lstrip("-")
        return f"{value[: len(value) - len(digits)]}{digits[:6]}... ({len(digits)} digits)"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**15:
        digits = str(abs(value))
        return f"{'-' if value < 0 else ''}{digits[:6]}... ({len(digits)} digits)"
    if isinstance(value, str) and len(value) > 80:
        return value[:80] + "..."
    if isinstance(value, (dict, list)):
        return f"<{type(value).__name__}>"
    return value


def describe_errors(
    err: ValidationError, prefix: tuple = ("body",), expected: list[str] | None = None
) -> list[dict]:
    """pydantic errors as FastAPI-style entries whose ``msg`` also names the field in words."""
    details = []
    for e in err.errors(include_url=False):
        loc = tuple(e["loc"])
        field = next((str(p) for p in reversed(loc) if isinstance(p, str)), None)
        where = f"field '{field}'" if field else "body"
        if e["type"] == "extra_forbidden":
            msg = (
                f"{where}: unknown field; allowed fields: {', '.join(expected)}"
                if expected
                else f"{where}: unknown field"
            )
        elif isinstance(e.get("input"), HugeNumber):
            msg = f"{where}: a number of {len(e['input'].text.lstrip('-'))} digits is too large"
        elif e["type"] in ("greater_than_equal", "less_than_equal") and field in FEATURE_LIMITS:
            low, high = FEATURE_LIMITS[field]
            msg = f"{where}: {e['msg']} (allowed range {low:,} to {high:,})"
        else:
            msg = f"{where}: {e['msg']}"
        entry = {"loc": [*prefix, *loc], "field": field, "msg": msg, "type": e["type"]}
        if e["type"] != "missing":
            entry["input"] = _json_safe(e.get("input"))
        details.append(entry)
    return details


def validate(model_or_adapter, payload: Any, prefix: tuple = ("body",)):
    """Validate ``payload``; a failure becomes a 422 whose detail lists every problem."""
    try:
        return (
            model_or_adapter.validate_python(payload)
            if isinstance(model_or_adapter, TypeAdapter)
            else model_or_adapter.model_validate(payload)
        )
    except ValidationError as err:
        raise HTTPException(422, describe_errors(err, prefix)) from None


_REQUIRED = object()


async def read_json(request: Request, max_bytes: int, empty: Any = _REQUIRED) -> Any:
    """The request body as JSON, after checking its content type and size (415, 413, 400). An empty
    body is a 400, or ``empty`` if given (a body of JSON ``null`` is still ``None``)."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > max_bytes:
        raise HTTPException(
            413, f"request body of {int(length)} bytes is over the limit of {max_bytes} bytes"
        )
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise HTTPException(413, f"request body is over the limit of {max_bytes} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    if not body.strip():
        if empty is not _REQUIRED:
            return empty
        raise HTTPException(400, "request body is empty: send JSON")
    if media_type != "application/json":
        shown = media_type or "no Content-Type header"
        raise HTTPException(415, f"Content-Type must be application/json, got {shown}")
    try:
        return orjson.loads(body)  # the fast parser; anything it refuses is read again by json below
    except orjson.JSONDecodeError:
        pass  # NaN, Infinity, huge integers, lone surrogates, UTF-16: json.loads decides, as before
    try:
        try:
            return json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise
        except ValueError:  # an integer over Python's digit limit: read again, marking it (rare, slower)
            return json.loads(body, parse_int=_parse_int)
    except UnicodeDecodeError:
        raise HTTPException(400, "request body is not UTF-8 text") from None
    except json.JSONDecodeError as err:
        raise HTTPException(
            400, f"malformed JSON: {err.msg} at line {err.lineno} column {err.colno}"
        ) from None
    except RecursionError:
        raise HTTPException(400, "malformed JSON: nested too deeply") from None


_record_validator = CustomerRecord.__pydantic_validator__
_N_NUMERIC = len(NUMERIC_FEATURES)
_ROW = itemgetter(*FEATURES)  # a record's values in FEATURES order, in one C call
_NUMBER_TYPES = {int, float}  # what the strict number fields take (bool, str, a huge integer's mark: not)
_LOW = np.array([FEATURE_LIMITS.get(f, (None, None))[0] for f in NUMERIC_FEATURES], dtype=float).reshape(-1, 1)
_HIGH = np.array([FEATURE_LIMITS.get(f, (None, None))[1] for f in NUMERIC_FEATURES], dtype=float).reshape(-1, 1)
_LOW[np.isnan(_LOW)], _HIGH[np.isnan(_HIGH)] = -np.inf, np.inf
_ALLOWED = [frozenset(CATEGORIES[f]) for f in CATEGORICAL_FEATURES]


class Batch:
    """Validated records, held both ways: ``records``, the dicts as the client sent them (what the
    log stores), and by column: ``numeric``, an (n, 8) float array in ``NUMERIC_FEATURES`` order, and
    ``columns``, each feature's values as a tuple (what the predictors read)."""

    __slots__ = ("records", "_numeric", "columns")

    def __init__(self, records: list[dict], numeric: np.ndarray | None, columns: dict[str, tuple]):
        self.records, self._numeric, self.columns = records, numeric, columns

    @property
    def numeric(self) -> np.ndarray:
        if self._numeric is None:  # built on first use (a single record's path never needs it)
            self._numeric = np.array([self.columns[f] for f in NUMERIC_FEATURES], dtype=float).T
        return self._numeric

    def __len__(self) -> int:
        return len(self.records)

    @classmethod
    def of(cls, records: "list[dict] | Batch") -> "Batch":
        """``records`` (valid records, e.g. a predictor's probes) as a Batch; a Batch as it is."""
        if isinstance(records, Batch):
            return records
        columns = list(zip(*map(_ROW, records), strict=False)) if records else [()] * len(FEATURES)
        numeric = np.array(columns[:_N_NUMERIC], dtype=float).reshape(_N_NUMERIC, len(records)).T
        return cls(records, numeric, dict(zip(FEATURES, columns, strict=False)))


_BOUNDS = list(zip(_LOW.ravel().tolist(), _HIGH.ravel().tolist(), strict=False))


def _one_checked(record: dict) -> Batch | None:
    """:func:`_checked_at_once` for a single record, in plain Python (numpy's per-call overhead
    costs more than the checks themselves here)."""
    if len(record) != len(FEATURES):
        return None
    try:
        values = _ROW(record)
    except KeyError:
        return None
    for value, (low, high) in zip(values, _BOUNDS, strict=False):
        if (type(value) is not float and type(value) is not int) or not low <= value <= high:  # NaN fails
            return None
    for value, allowed in zip(values[_N_NUMERIC:], _ALLOWED, strict=False):
        if type(value) is not str or value not in allowed:
            return None
    return Batch([record], None, {f: (v,) for f, v in zip(FEATURES, values, strict=False)})


def _checked_at_once(items: list) -> Batch | None:
    """The whole batch checked column by column with C-level passes (exact field names, number types,
    limits, categories) instead of record by record; None if anything is off, and the caller then
    validates record by record to name every problem."""
    if {*map(type, items)} != {dict} or {*map(len, items)} != {len(FEATURES)}:
        return None
    try:  # twelve names each, all of them features: exactly the features
        names = {name: name for name in items[0]}  # the parser's own key objects: lookups by identity
        columns = list(zip(*map(itemgetter(*[names[f] for f in FEATURES]), items), strict=False))
    except KeyError:
        return None
    for values in columns[:_N_NUMERIC]:
        if not _NUMBER_TYPES.issuperset(map(type, values)):
            return None
    try:
        numeric = np.array(columns[:_N_NUMERIC], dtype=float)
    except OverflowError:  # an integer beyond any float
        return None
    if not ((numeric >= _LOW) & (numeric <= _HIGH)).all():  # NaN fails both comparisons
        return None
    for values, allowed in zip(columns[_N_NUMERIC:], _ALLOWED, strict=False):
        try:
            if not allowed.issuperset(values):
                return None
        except TypeError:  # an unhashable value (a list, an object)
            return None
    return Batch(items, numeric.T, dict(zip(FEATURES, columns, strict=False)))


def parse_records(payload: Any, max_batch: int) -> Batch:
    """One record (a JSON object) or a batch (an array of objects), validated: a :class:`Batch`.
    Valid input is checked a column at a time; the per-record pydantic validation that names every
    problem runs only when that check finds one."""
    if isinstance(payload, dict):
        batch = _one_checked(payload)
        if batch is not None:
            return batch
        try:
            _record_validator.validate_python(payload)
        except ValidationError as err:
            raise HTTPException(422, describe_errors(err, expected=FEATURES)) from None
        return Batch.of([payload])  # valid after all (a case the column check does not know)
    if isinstance(payload, list):
        if not payload:
            raise HTTPException(422, "the batch is empty: send one record (an object) or a non-empty array")
        if len(payload) > max_batch:
            raise HTTPException(413, f"a batch of {len(payload)} records is over the limit of {max_batch}")
        batch = _checked_at_once(payload)
        if batch is not None:
            return batch
        errors = []
        for i, item in enumerate(payload):
            if not isinstance(item, dict):
                errors.append(
                    {
                        "loc": ["body", i],
                        "field": None,
                        "type": "model_type",
                        "input": _json_safe(item),
                        "msg": f"must be a JSON object with the record's fields, got {_kind(item)}",
                    }
                )
                continue
            try:
                _record_validator.validate_python(item)
            except ValidationError as err:
                errors += describe_errors(err, ("body", i), expected=FEATURES)
        if errors:
            for e in errors:  # describe_errors saw the record alone; say which record it was
                e["msg"] = f"record {e['loc'][1]}, {e['msg']}"
            refused = HTTPException(422, errors[:50])
            refused.problems = errors  # every problem, for the metrics; the answer shows the first 50
            raise refused
        return Batch.of(payload)
    raise HTTPException(
        422, f"body must be a JSON object (one record) or an array of objects (a batch), got {_kind(payload)}"
    )


def _kind(value: Any) -> str:
    kinds = {
        bool: "a boolean",
        str: "a string",
        int: "a number",
        float: "a number",
        type(None): "null",
        list: "an array",
        dict: "an object",
    }
    return next((kind for t, kind in kinds.items() if isinstance(value, t)), type(value).__name__)
