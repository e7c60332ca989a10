"""The lab server's FastAPI app: predict, feedback, health, model card, metrics, log, admin reload."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException

from opslab.serve import responses as r
from opslab.serve.docs import add_offline_docs
from opslab.serve.drift import DriftMonitor, DriftSettings, input_problems
from opslab.serve.group_commit import GroupCommit
from opslab.serve.metrics import MetricsMiddleware, ServerMetrics
from opslab.serve.model_store import Follower, LoadedModel, ModelLoadError, ModelStore, SharedChoice
from opslab.serve.prediction_log import PredictionLog, PredictionLogError, utc_now
from opslab.serve.retention import DEFAULT_MAX_ROWS, SAFETY_PAGES, LogKeeper
from opslab.serve.schema import (
    CustomerRecord,
    FeedbackRequest,
    ReloadRequest,
    parse_records,
    read_json,
    validate,
)

FOLLOW_SECONDS = 1.0  # how often each worker looks whether another worker's /admin/reload chose a model
RETRY_MAX_SECONDS = 30.0  # a worker whose load of that choice failed retries after 2, 4, 8 ... s, at most this


def default_data_dir() -> Path:
    from opslab.env import labs_home

    return labs_home() / "serve"


@dataclass
class ServeSettings:
    """Everything the server is configured with; ``from_env`` reads the OPSLAB_* variables."""

    model_uri: str = ""
    data_dir: Path = field(default_factory=default_data_dir)
    admin_token: str | None = None
    max_batch: int = 1000
    max_body_bytes: int = 1_000_000
    threshold: float = 0.5
    metrics_dir: Path | None = None  # shared by the workers; None: a private temporary folder
    drift_metrics: bool = True
    drift: DriftSettings = field(default_factory=DriftSettings)
    log_timeout: float = 10.0  # seconds a prediction waits for another writer's lock on the log
    log_max_rows: int | None = DEFAULT_MAX_ROWS  # the log's bounded history (None: unbounded)
    log_max_days: float | None = None  # and, if set, no prediction older than this
    public: bool = False  # a public server (the Space): no /predictions, whose log holds every visitor's input

    @classmethod
    def from_env(cls) -> "ServeSettings":
        """Raises SettingsError (a ValueError) naming each variable whose value does not fit, and its value."""
        from opslab.registry import champion_uri
        from opslab.serve.settings import read_env

        env = read_env()
        return cls(
            model_uri=env.model_uri or champion_uri(),
            data_dir=env.data_dir or default_data_dir(),
            admin_token=env.admin_token,
            max_batch=env.max_batch,
            max_body_bytes=env.max_body_bytes,
            metrics_dir=env.metrics_dir,
            drift_metrics=env.drift_metrics,
            drift=DriftSettings(
                window=env.drift_window,
                min_records=env.drift_min_records,
                feedback_window=env.feedback_window,
                min_labels=env.feedback_min_labels,
            ),
            log_timeout=env.log_timeout,
            log_max_rows=env.log_max_rows or None,  # 0: unbounded
            log_max_days=env.log_max_days or None,  # 0: no age limit
        )


class SafeJSONResponse(JSONResponse):
    """JSON with non-ASCII escaped, so any text a client sent (even a lone surrogate) can be echoed."""

    def render(self, content) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode()


# Request bodies are read by schema.read_json, not by FastAPI's typed body parameters: the same
# checks (413 while streaming, 415, 400 for bad JSON, a named 422 for an integer too long for Python)
# for every endpoint, and for /predict a measurably faster path (see book/m3/serving.md). The
# documented schemas come from the same pydantic models that validate, so they cannot drift apart.
def _openapi_body(schema: dict, required: bool = True) -> dict:
    return {"requestBody": {"required": required, "content": {"application/json": {"schema": schema}}}}


RECORD_SCHEMA = CustomerRecord.model_json_schema()
PREDICT_BODY = _openapi_body(
    {"anyOf": [RECORD_SCHEMA, {"type": "array", "items": RECORD_SCHEMA, "minItems": 1}]}
)


def create_app(settings: ServeSettings) -> FastAPI:
    """A lab server for ``settings``; the model loads when the app starts (its lifespan)."""
    store = ModelStore()
    drift = DriftMonitor(Path(settings.data_dir) / "predictions.db", settings.drift)
    metrics = ServerMetrics(settings.metrics_dir, [drift] if settings.drift_metrics else [])
    reload_lock = asyncio.Lock()

    bearer = HTTPBearer(auto_error=False, description="OPSLAB_ADMIN_TOKEN")

    choice = SharedChoice(metrics.path)  # what /admin/reload chose, for every worker of this server

    follower = Follower()  # what this worker has not yet managed to load of the shared choice, and why

    async def load(uri: str) -> bool:
        try:
            await run_in_threadpool(store.load_and_swap, uri)
        except ModelLoadError as err:  # stay up: /ready says why, /admin/reload can fix it
            print(f"opslab serve: no model in service: {err}", flush=True)
            follower.error = str(err)
            return False
        follower.error = None
        return True

    async def follow_once() -> None:
        """Load what another worker's /admin/reload chose; a failed load is retried, with a growing wait."""
        chosen = choice.newer()
        if chosen is None:
            follower.pending = None
            return
        generation, uri = chosen
        follower.pending = uri
        if time.monotonic() < follower.next_try:
            return
        async with reload_lock:
            loaded = await load(uri)
        if loaded:
            choice.follow(generation)
            follower.pending, follower.attempts, follower.next_try = None, 0, 0.0
        else:
            follower.attempts += 1
            follower.next_try = time.monotonic() + min(RETRY_MAX_SECONDS, FOLLOW_SECONDS * 2**follower.attempts)

    async def follow_reloads() -> None:
        """Every FOLLOW_SECONDS, follow the shared choice; nothing ends this loop but the server's end."""
        while True:
            await asyncio.sleep(FOLLOW_SECONDS)
            try:
                await follow_once()
            except Exception as err:  # noqa: BLE001 - logged, and the next round tries again
                follower.error = f"{type(err).__name__}: {err}"
                print(f"opslab serve: following the shared model choice failed: {follower.error}", flush=True)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.log = PredictionLog(Path(settings.data_dir) / "predictions.db", timeout=settings.log_timeout)
        keeper = LogKeeper(app.state.log.path, settings.log_max_rows, settings.log_max_days,
                           timeout=settings.log_timeout)  # retention and checkpoints, in its own thread
        app.state.log.defer_checkpoints(SAFETY_PAGES)
        app.state.committer, app.state.keeper = GroupCommit(app.state.log, keeper.written), keeper.start()
        chosen = choice.newer()  # a worker started after a reload serves its model
        if chosen is not None and await load(chosen[1]):
            choice.follow(chosen[0])
        else:
            await load(settings.model_uri)
        task = asyncio.create_task(follow_reloads())
        yield
        task.cancel()
        keeper.stop()
        app.state.log.close()
        drift.close()
        metrics.close()

    app = FastAPI(
        title="opslab lab server",
        description="Churn predictions from the course's model, with a prediction log and metrics.",
        version="1.0",
        lifespan=lifespan,
        default_response_class=SafeJSONResponse,
        docs_url=None,  # /docs is served from local files by add_offline_docs; no /redoc (it needs a CDN)
        redoc_url=None,
    )
    add_offline_docs(app)
    app.state.store, app.state.metrics, app.state.settings = store, metrics, settings

    @app.exception_handler(StarletteHTTPException)
    async def http_errors(request: Request, err: StarletteHTTPException):
        return SafeJSONResponse({"detail": err.detail}, status_code=err.status_code, headers=err.headers)

    @app.exception_handler(RequestValidationError)
    async def query_errors(request: Request, err: RequestValidationError):
        details = [
            {
                "loc": list(e["loc"]),
                "field": str(e["loc"][-1]),
                "type": e["type"],
                "msg": f"{e['loc'][0]} parameter '{e['loc'][-1]}': {e['msg']}",
            }
            for e in err.errors()
        ]
        return SafeJSONResponse({"detail": details}, status_code=422)

    def model_in_service() -> LoadedModel:
        model = store.current
        if model is None:
            raise HTTPException(503, f"no model loaded: {store.error or 'still starting'}")
        return model

    def log_unwritable(err: PredictionLogError) -> HTTPException:
        return HTTPException(
            503, f"the prediction log cannot be written, so the request was not served: {err}; try again"
        )

    async def feedback_body(request: Request) -> FeedbackRequest:
        return validate(FeedbackRequest, await read_json(request, settings.max_body_bytes))

    # Nothing that may block runs on the event loop, or /health would stall with it. /predict is
    # async for speed (a hop to the thread pool costs more than the numpy fast path itself): that
    # predictor runs on the loop, any other in the thread pool, and the log write is first tried
    # without waiting; only if another writer holds the lock does it wait, in the thread pool.
    # /feedback and /predictions are plain ``def`` endpoints, which FastAPI runs in its thread pool.
    @app.post(
        "/predict",
        openapi_extra=PREDICT_BODY,
        summary="Predict churn for one record or a batch",
        responses=r.answers(r.Predictions, **r.BODY_ERRORS, e503=f"no model is loaded, or {r.LOG_UNWRITABLE}"),
    )
    async def predict(request: Request):  # no dependencies: resolving them costs time on every request
        model = model_in_service()  # one model for the whole request, even if a reload happens now
        payload = await read_json(request, settings.max_body_bytes)
        try:
            batch = parse_records(payload, settings.max_batch)
        except HTTPException as refused:  # count the refused values by field and problem
            metrics.observe_problems(input_problems(getattr(refused, "problems", refused.detail)))
            raise
        if getattr(model.predictor, "fast", False):
            probabilities = model.predictor.predict_proba(batch)
        else:
            probabilities = await run_in_threadpool(model.predictor.predict_proba, batch)
        churned = (probabilities >= settings.threshold).astype(int)
        ids, n, churned, probabilities = new_ids(len(batch)), len(batch), churned.tolist(), probabilities.tolist()
        rows = list(zip(ids, [utc_now()] * n, [model.name] * n, [model.version] * n, batch.records, churned,
                        probabilities, strict=False))
        try:  # committed (with the other requests waiting at this moment) before anyone hears the answer
            await app.state.committer.commit(rows)
        except PredictionLogError as err:
            raise log_unwritable(err) from None
        metrics.observe_predictions(batch, churned, probabilities, model.version, request.scope)
        answers = [
            {"prediction_id": i, "churned": c, "probability": p, "model_name": name, "model_version": version}
            for i, _, name, version, _, c, p in rows
        ]
        return r.FastJSONResponse({"predictions": answers})  # plain JSON types: skip FastAPI's generic encoder

    @app.post(
        "/feedback",
        openapi_extra=_openapi_body(FeedbackRequest.model_json_schema()),
        summary="Record the true outcome of a prediction",
        responses=r.answers(
            r.FeedbackRecorded, **r.BODY_ERRORS, e404="no such prediction_id in the log", e503=r.LOG_UNWRITABLE
        ),
    )
    def feedback(body: FeedbackRequest = Depends(feedback_body)):
        try:
            found = app.state.log.add_feedback(body.prediction_id, body.churned)
        except PredictionLogError as err:
            raise log_unwritable(err) from None
        if not found:
            raise HTTPException(404, f"prediction_id {body.prediction_id} is not in the prediction log")
        metrics.observe_feedback(body.churned)
        return {"prediction_id": body.prediction_id, "status": "recorded"}

    @app.get("/health", summary="Liveness: the process answers", responses=r.answers(r.Health))
    async def health():
        return {"status": "ok"}

    @app.get(
        "/ready",
        summary="Readiness: a model is loaded",
        responses={200: {"model": r.Ready}, 503: {"model": r.NotReady, "description": "no model is loaded"}},
    )
    async def ready():
        model = store.current
        if model is None:
            return SafeJSONResponse({"status": "not ready", "detail": store.error or "still starting"}, 503)
        return {"status": "ready", "model_name": model.name, "model_version": model.version, **follower.describe()}

    @app.get(
        "/model",
        summary="The model in service: name, version, metrics, features, importance",
        responses=r.answers(r.ModelCard, e503="no model is loaded"),
    )
    async def model_card():
        return {**model_in_service().describe(), **follower.describe()}

    @app.get(
        "/metrics",
        summary="Prometheus metrics",
        response_class=PlainTextResponse,  # documents text/plain: Prometheus's text format, not JSON
        responses={200: {"description": "the Prometheus text exposition format"}},
    )
    async def prometheus():
        body, content_type = await run_in_threadpool(metrics.render)  # reads the log: off the event loop
        return Response(body, media_type=content_type)

    async def admin(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
        check_admin(credentials, settings.admin_token)

    if not settings.public:  # the log holds every caller's input: the admin's only, and never on a public server
        @app.get(
            "/predictions",
            summary="The newest logged predictions, newest first (bearer token)",
            dependencies=[Depends(admin)],
            responses=r.answers(r.LoggedPredictions, e401="no bearer token",
                                e403="a wrong token, or the server has no OPSLAB_ADMIN_TOKEN",
                                e422="limit is not a whole number from 1 to 1000"),
        )
        def predictions(limit: int = Query(20, ge=1, le=1000)):
            return {"predictions": app.state.log.recent(limit)}

    @app.post(
        "/admin/reload",
        openapi_extra=_openapi_body(ReloadRequest.model_json_schema(), required=False),
        summary="Load another model (bearer token) and switch to it atomically",
        dependencies=[Depends(admin)],
        responses=r.answers(
            r.Reloaded,
            **{**r.BODY_ERRORS, "e422": f"{r.BODY_ERRORS['e422']}; or the model there cannot be served (the "
                                        "error says why; the model in service stays)"},
            e401="no bearer token",
            e403="a wrong token, or the server has no OPSLAB_ADMIN_TOKEN",
            e404="no model at that URI",
        ),
    )
    async def reload(request: Request):
        body = validate(ReloadRequest, await read_json(request, settings.max_body_bytes, empty={}))
        uri = body.model_uri or settings.model_uri
        async with reload_lock:
            try:  # loads in a worker thread: the event loop keeps answering with the old model
                model, previous = await run_in_threadpool(store.load_and_swap, uri)
            except ModelLoadError as err:
                raise HTTPException(err.status, str(err)) from None
            # the other workers load it too, within FOLLOW_SECONDS (a file lock and a write: off the event loop)
            await run_in_threadpool(choice.publish, uri)
        metrics.model_reloads.inc()
        return {
            "status": "reloaded",
            "model": model.describe(),
            "previous": previous.describe() if previous else None,
        }

    @app.get("/", include_in_schema=False)
    async def index():
        return {
            "service": "opslab lab server",
            "docs": "/docs",
            "endpoints": sorted(
                r.path for r in app.routes if not r.path.startswith(("/docs", "/openapi", "/redoc"))
            ),
        }

    endpoints = {route.path for route in app.routes}
    app.add_middleware(MetricsMiddleware, metrics=metrics, endpoints=endpoints)
    return app


def new_ids(n: int) -> list[str]:
    """``n`` ids of 32 hex digits, time-ordered like UUIDv7: 48 bits of milliseconds, then 80 random
    bits. New ids land at the end of the log's index, so inserts stay cheap as the log grows (random
    ids would touch a random index page per prediction)."""
    prefix = f"{time.time_ns() // 1_000_000:012x}"
    raw = os.urandom(10 * n).hex()
    return [prefix + raw[i : i + 20] for i in range(0, 20 * n, 20)]


def check_admin(credentials: HTTPAuthorizationCredentials | None, token: str | None) -> None:
    """401 without a bearer token, 403 with a wrong one (or when the server has no token set)."""
    given = credentials.credentials if credentials else ""
    if not given.strip():
        raise HTTPException(
            401,
            "admin endpoint: send Authorization: Bearer <OPSLAB_ADMIN_TOKEN>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if token is None:
        raise HTTPException(403, "admin endpoints are disabled: start the server with OPSLAB_ADMIN_TOKEN set")
    if not secrets.compare_digest(given.strip().encode(), token.encode()):
        raise HTTPException(403, "admin endpoint: wrong token")


def app_from_env() -> FastAPI:
    """The uvicorn factory ``opslab serve`` uses (``opslab.serve.app:app_from_env``): settings from env."""
    return create_app(ServeSettings.from_env())


__all__ = ["ServeSettings", "create_app", "app_from_env"]
