# syntax=docker/dockerfile:1
# The grader as an image, for indexed-job.yaml beside it: opslab with the course's pinned environment,
# bubblewrap (the sandbox of every submission) and the Debian tools the labs run (Prometheus,
# Alertmanager, git). No solutions and no submissions inside: an image travels through registries,
# so both come from the volume mounted at /grading (an instructor-only checkout of the course with its
# solutions/, and the submissions). Build from the repository root:
#   docker build -f deploy/k8s/grading/grader.Dockerfile -t opslab-grader:0.1.0 .

# ---- stage 1: the opslab wheel and a virtual environment with the pinned dependencies ----
FROM python:3.11.14-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH
ARG OPSLAB_VERSION=0.1.0
WORKDIR /src
RUN python -m venv /opt/venv
COPY requirements.txt pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --no-deps --wheel-dir /wheels . \
    && pip install --constraint requirements.txt --find-links /wheels "opslab[all]==${OPSLAB_VERSION}"

# ---- stage 2: the runtime ----
FROM python:3.11.14-slim-bookworm
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
       bubblewrap=0.8.0-2+deb12u1 \
       git=1:2.39.5-0+deb12u3 \
       prometheus=2.42.0+ds-5+deb12u1 \
       prometheus-alertmanager=0.25.0-1+b4 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1
WORKDIR /grading
# Runs as root, on purpose: the grader gives each submission its own user id and cgroup and drops to
# that user before it enters the sandbox (see the instructors' chapter). The pod is privileged so
# that bubblewrap may make its namespaces.
ENTRYPOINT ["opslab", "grade"]
