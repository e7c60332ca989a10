"""The HTTP floor of scripts/bench_serving.py: a bare FastAPI app under uvicorn that reads the same
JSON body as the lab server's /predict, parses it with the same parser (orjson), and answers a
constant. No validation, no model, no log, no metrics: what one worker costs before any of the work
a model server does, so a server's throughput reads as a share of it.

    uvicorn serving_floor:app --app-dir scripts --port 8001
"""

from __future__ import annotations

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response

app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
ANSWER = orjson.dumps({"predictions": []})


@app.get("/health")
async def health():
    return Response(b'{"status":"ok"}', media_type="application/json")


@app.post("/predict")
async def predict(request: Request):
    orjson.loads(await request.body())
    return Response(ANSWER, media_type="application/json")
