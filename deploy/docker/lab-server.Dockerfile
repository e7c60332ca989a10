# syntax=docker/dockerfile:1
# The lab server (`opslab serve`: FastAPI + uvicorn) as an image.
# Build from the repository root (the build context; .dockerignore there lets in only what is needed):
#   docker build -f deploy/docker/lab-server.Dockerfile -t opslab-lab-server:0.1.0 .
#
# The model is NOT baked in, by design. At start the server loads models:/churn-classifier@champion
# from the course registry under $OPSLAB_HOME (/data, a volume), or whatever OPSLAB_MODEL_URI names
# (a mounted model folder or .onnx file). The same image writes that registry once with `opslab train`
# (deploy/compose.yaml's `train` service, deploy/k8s/deployment.yaml's init container), so a new model
# is a new registry version and an alias move, not a new image. With no model the server exits with
# status 2 and says how to make one.

# ---- stage 1: build the opslab wheel and a virtual environment with the pinned dependencies ----
FROM python:3.11.14-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH
# keep in step with pyproject.toml's version (tests/test_deploy_docker.py checks)
ARG OPSLAB_VERSION=0.1.0
WORKDIR /src
RUN python -m venv /opt/venv
COPY requirements.txt pyproject.toml README.md ./
COPY src ./src
# every version comes from requirements.txt (--constraint), opslab's own from OPSLAB_VERSION. One step, as the
# dependency set follows from the wheel's extra: a change under src/ re-runs it.
RUN pip wheel --no-deps --wheel-dir /wheels . \
    && pip install --constraint requirements.txt --find-links /wheels "opslab[all]==${OPSLAB_VERSION}"

# ---- stage 2: the runtime: the same slim base, the venv, no compiler, no source, no pip cache ----
FROM python:3.11.14-slim-bookworm
# a fixed, unprivileged uid/gid (Kubernetes' runAsUser and a volume's owner match it)
RUN groupadd --system --gid 10001 opslab \
    && useradd --system --no-log-init --uid 10001 --gid opslab --home-dir /data --create-home opslab
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    OPSLAB_HOME=/data \
    OPSLAB_DATA_DIR=/data/serve
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000
# liveness: /health answers while the process is alive (readiness, /ready, is for load balancers and
# Kubernetes). The slim image has no curl: Python's urllib does the request, and a non-2xx is an error.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]
CMD ["opslab", "serve", "--host", "0.0.0.0", "--port", "8000"]
