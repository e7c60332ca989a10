"""What the lab server answers, as pydantic models for its OpenAPI document: every status code an
endpoint can give, with its body and media type, so a client (or schemathesis) can hold it to them.

These models only document: the endpoints build plain dicts (faster than validating their own
output), and ``tests/test_serve_contract.py`` checks the live answers against this document."""

from __future__ import annotations

from typing import Any, Literal

import orjson
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse


class Problem(BaseModel):
    """A request the server cannot serve, said in one sentence."""

    detail: str = Field(description="what is wrong, naming the field or limit concerned")


class FieldProblem(BaseModel):
    """One thing wrong with a request (FastAPI's format plus ``field``)."""

    loc: list[str | int] = Field(description='where: ["body", "age"], ["body", 3, "region"], ["query", "limit"]')
    field: str | None = Field(description="the field concerned (null for a whole record)")
    msg: str = Field(description="the problem in words, naming the field (and the record of a batch)")
    type: str = Field(description="pydantic's error type, e.g. missing, float_type, less_than_equal")
    input: Any = Field(None, description="the offending value, shortened")


class ValidationProblem(BaseModel):
    """422: the request is well-formed JSON but not what the endpoint takes."""

    detail: list[FieldProblem] | str = Field(
        description="one entry per problem; a sentence for a problem with the whole body (an empty batch)"
    )


class Prediction(BaseModel):
    prediction_id: str = Field(pattern=r"^[0-9a-f]{32}$", description="send it back with /feedback")
    churned: Literal[0, 1]
    probability: float = Field(ge=0, le=1, description="P(churn)")
    model_name: str
    model_version: str


class Predictions(BaseModel):
    predictions: list[Prediction] = Field(description="one per record, in the order sent")


class FeedbackRecorded(BaseModel):
    prediction_id: str
    status: Literal["recorded"]


class Health(BaseModel):
    status: Literal["ok"]


class Ready(BaseModel):
    status: Literal["ready"]
    model_name: str
    model_version: str
    pending_reload: str | None = None  # a model another worker chose, which this one has not loaded yet
    reload_error: str | None = None  # why this worker's last load failed (it retries)


class NotReady(BaseModel):
    status: Literal["not ready"]
    detail: str = Field(description="why no model is in service")


class ModelCard(BaseModel):
    name: str
    version: str
    alias: str | None
    uri: str
    metrics: dict[str, float]
    features: list[str]
    feature_importance: dict[str, float]
    predictor: str
    loaded_at: str
    pending_reload: str | None = None  # a model another worker chose, which this one has not loaded yet
    reload_error: str | None = None  # why this worker's last load failed (it retries)


class LoggedPrediction(BaseModel):
    prediction_id: str
    timestamp: str = Field(description="UTC, ISO 8601")
    inputs: dict[str, Any]
    churned: Literal[0, 1]
    probability: float
    model_name: str
    model_version: str
    feedback: Literal[0, 1] | None


class LoggedPredictions(BaseModel):
    predictions: list[LoggedPrediction] = Field(description="newest first")


class Reloaded(BaseModel):
    status: Literal["reloaded"]
    model: ModelCard
    previous: ModelCard | None


def answers(ok: type[BaseModel] | None, **errors: str) -> dict:
    """FastAPI's ``responses=`` for an endpoint: its 200 model, and each error status (``e400="why"``)
    with :class:`Problem`, or :class:`ValidationProblem` for 422."""
    out: dict[int | str, dict] = {200: {"model": ok}} if ok else {}
    for key, description in errors.items():
        status = int(key.removeprefix("e"))
        out[status] = {"model": ValidationProblem if status == 422 else Problem, "description": description}
    return out


BODY_ERRORS = {
    "e400": "the body is empty, not UTF-8 or not JSON",
    "e413": "the body (or the batch) is over the server's limit",
    "e415": "the Content-Type is not application/json",
    "e422": "a field is missing, unknown, of the wrong type or out of range (each one named)",
}
LOG_UNWRITABLE = "the prediction log cannot be written (locked, full): nothing was served; try again"


class FastJSONResponse(JSONResponse):
    """JSON encoded by orjson, for answers of plain JSON types built by the server itself (not text a
    client sent, which may hold a lone surrogate orjson cannot encode: errors echo input through
    ``app.SafeJSONResponse``). FastAPI's own ``ORJSONResponse`` does the same and is deprecated."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
