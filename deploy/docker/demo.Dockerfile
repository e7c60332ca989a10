# syntax=docker/dockerfile:1
# The Gradio demo (`opslab demo`) as an image: a client of the lab server, which it finds at
# $OPSLAB_SERVER_URL (deploy/compose.yaml sets http://lab-server:8000).
# Build from the repository root:
#   docker build -f deploy/docker/demo.Dockerfile -t opslab-demo:0.1.0 .
#
# No model in this image, by design: every prediction is an HTTP call to the lab server. It installs
# only opslab[demo] (Gradio, requests and opslab's light core), not the server's MLflow stack.

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
    && pip install --constraint requirements.txt --find-links /wheels "opslab[demo]==${OPSLAB_VERSION}"

# ---- stage 2: the runtime ----
FROM python:3.11.14-slim-bookworm
RUN groupadd --system --gid 10001 opslab \
    && useradd --system --no-log-init --uid 10001 --gid opslab --home-dir /home/opslab --create-home opslab
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    GRADIO_ANALYTICS_ENABLED=False \
    OPSLAB_SERVER_URL=http://lab-server:8000
USER 10001:10001
WORKDIR /home/opslab
EXPOSE 7860
# the demo's page answers 200 while Gradio serves (whether or not the lab server is up: the page says
# so). No curl in the slim image: Python's urllib does the request.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:7860/', timeout=4)"]
CMD ["opslab", "demo", "--host", "0.0.0.0", "--port", "7860"]
