"""``opslab serve``: run the lab server with uvicorn (settings reach every worker through env)."""

from __future__ import annotations

import os
from pathlib import Path


def configure(parser) -> None:
    parser.add_argument(
        "--model-uri",
        default=os.environ.get("OPSLAB_MODEL_URI"),
        help="models:/NAME@ALIAS, models:/NAME/VERSION, a model folder or a .onnx file "
        "(default: models:/churn-classifier@champion in the course registry)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes (default 1); /metrics covers all of them, and a model /admin/reload loads "
        "is loaded by every worker within a second",
    )
    parser.add_argument(
        "--data-dir",
        default=os.environ.get("OPSLAB_DATA_DIR"),
        help="folder of the prediction log (default $OPSLAB_HOME/serve)",
    )
    parser.add_argument(
        "--max-batch",
        type=int,
        default=None,  # $OPSLAB_MAX_BATCH, checked with the other settings in prepare()
        help="most records in one /predict request (default 1000)",
    )
    parser.add_argument(
        "--max-body-bytes",
        type=int,
        default=None,  # $OPSLAB_MAX_BODY_BYTES, checked with the other settings in prepare()
        help="largest request body in bytes (default 1000000)",
    )
    parser.add_argument(
        "--log-timeout",
        type=float,
        default=None,  # $OPSLAB_LOG_TIMEOUT, checked with the other settings in prepare()
        help="seconds a prediction waits for a lock on the prediction log before answering 503 (default 10)",
    )
    parser.add_argument(
        "--log-max-rows",
        type=int,
        default=None,  # $OPSLAB_LOG_MAX_ROWS, checked with the other settings in prepare()
        help="predictions the log keeps, the oldest pruned first in the background (default 1000000; 0: all)",
    )
    parser.add_argument(
        "--log-max-days",
        type=float,
        default=None,  # $OPSLAB_LOG_MAX_DAYS, checked with the other settings in prepare()
        help="also prune predictions older than this many days (default 0: no age limit)",
    )
    parser.add_argument("--log-level", default="warning", help="uvicorn log level (default warning)")
    parser.add_argument("--access-log", action="store_true", help="print one line per request")


def command(args) -> int:
    problem = prepare(args, "opslab serve")
    if problem is not None:
        return problem
    print(f"opslab serve: {os.environ['OPSLAB_MODEL_URI']} on http://{args.host}:{args.port} (docs: /docs)", flush=True)
    run(args, "opslab.serve.app:app_from_env")
    return 0


def prepare(args, name: str) -> int | None:
    """Check the model exists and hand every setting to the workers through the environment; an exit
    status when there is nothing to serve. ``opslab space serve`` (the Space) shares it."""
    from opslab.env import go_offline
    from opslab.registry import champion_exists, champion_uri, tracking_uri

    go_offline()  # also OMP_NUM_THREADS=1 for worker processes: one thread each predicts fastest
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)  # and for this process, whose numpy was loaded before that variable was set
    model_uri = args.model_uri or champion_uri()
    if model_uri == champion_uri() and not os.environ.get("MLFLOW_TRACKING_URI") and not champion_exists():
        print(
            f"{name}: there is no {champion_uri()} in the course registry ({tracking_uri()}).\n"
            "Run `opslab train` first to train the default model and register it as the champion."
        )
        return 2
    if (
        not model_uri.startswith("models:/")
        and not Path(model_uri.removeprefix("file://")).expanduser().exists()
    ):
        print(f"{name}: no model at {model_uri}")
        return 2
    os.environ["OPSLAB_MODEL_URI"] = model_uri
    for key, value in [
        ("OPSLAB_DATA_DIR", args.data_dir),
        ("OPSLAB_MAX_BATCH", args.max_batch),
        ("OPSLAB_MAX_BODY_BYTES", args.max_body_bytes),
        ("OPSLAB_LOG_TIMEOUT", args.log_timeout),
        ("OPSLAB_LOG_MAX_ROWS", args.log_max_rows),
        ("OPSLAB_LOG_MAX_DAYS", args.log_max_days),
    ]:
        if value is not None:
            os.environ[key] = str(value)
    from opslab.serve.app import default_data_dir
    from opslab.serve.metrics import reset_metrics_dir
    from opslab.serve.settings import SettingsError, read_env

    try:  # every worker reads these variables: a bad one is named here, not in a traceback per worker
        read_env()
    except SettingsError as err:
        print(f"{name}: {err}")
        return 2

    # one metrics folder per server, emptied before any worker starts: every worker writes its
    # counters there and every scrape merges them (see opslab.serve.metrics)
    data_dir = Path(os.environ.get("OPSLAB_DATA_DIR") or default_data_dir())
    os.environ["OPSLAB_METRICS_DIR"] = str(reset_metrics_dir(data_dir / "metrics"))

    if not os.environ.get("OPSLAB_ADMIN_TOKEN"):
        print(f"{name}: OPSLAB_ADMIN_TOKEN is not set, so /admin/reload is disabled")
    return None


def run(args, factory: str) -> None:
    """uvicorn serving the app that ``factory`` ("module:function") makes, until it is stopped."""
    import uvicorn

    uvicorn.run(
        factory,
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        access_log=args.access_log,
    )
