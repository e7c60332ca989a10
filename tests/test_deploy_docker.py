"""deploy/docker and deploy/compose.yaml: hadolint passes, the compose file meets the Compose specification,
the monitoring configs are opslab's own rendering, and each image's exact entry point serves.

Containers cannot run on the course's machines, so the entry points (CMD, HEALTHCHECK, compose's
``train`` command) are read from the files and run here as processes, on a free loopback port."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib

import httpx
import pytest
import yaml

from conftest import REPO
from deploy_support import (
    DEPLOY,
    DOCKERFILES,
    WITHOUT_DISTRIBUTIONS,
    closure,
    exec_form,
    instructions,
    on_address,
    venv_tool,
)
from opslab.background import BackgroundServer, ServerError, free_port

LAB_SERVER = DEPLOY / "docker" / "lab-server.Dockerfile"
DEMO = DEPLOY / "docker" / "demo.Dockerfile"
COMPOSE = DEPLOY / "compose.yaml"
BASE = re.compile(r"^python:3\.11\.\d+-slim-bookworm$")  # an exact patch release, never a moving tag


def hadolint(path) -> subprocess.CompletedProcess:
    """hadolint at its strictest: every finding, down to style, fails; inline ignore pragmas are not honoured."""
    return subprocess.run([venv_tool("hadolint"), "--no-color", "--failure-threshold", "style",
                           "--disable-ignore-pragma", str(path)], capture_output=True, text=True, timeout=60)


def test_there_are_the_two_dockerfiles():
    assert {p.name for p in DOCKERFILES} == {"lab-server.Dockerfile", "demo.Dockerfile"}


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_hadolint_finds_nothing(dockerfile):
    done = hadolint(dockerfile)
    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_rejects_a_careless_dockerfile(tmp_path):
    """The lint is not a formality: a moving tag, an unpinned pip install and root at run time fail it."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install fastapi\nCMD uvicorn app:app\n")
    done = hadolint(bad)
    assert done.returncode != 0
    assert "DL3007" in done.stdout and "DL3013" in done.stdout, done.stdout


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_is_multi_stage_slim_pinned_and_non_root(dockerfile):
    steps = instructions(dockerfile)
    bases = [rest.split()[0] for key, rest in steps if key == "FROM"]
    assert len(bases) >= 2, "multi-stage: a build stage and a runtime stage"
    assert all(BASE.match(b) for b in bases), bases
    final = max(i for i, (key, _) in enumerate(steps) if key == "FROM")
    runtime = steps[final:]
    users = [rest for key, rest in runtime if key == "USER"]
    assert users and users[-1].split(":")[0].isdigit() and int(users[-1].split(":")[0]) > 0, users
    assert any(key == "COPY" and rest.startswith("--from=") for key, rest in runtime), "runtime copies the build"
    assert not any(key == "COPY" and " src" in f" {rest}" and "--from" not in rest for key, rest in runtime), \
        "the runtime stage must not carry the source tree"
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert ("ARG", f"OPSLAB_VERSION={version}") in steps, "OPSLAB_VERSION differs from pyproject.toml's version"
    install = " ".join(rest for key, rest in steps if key == "RUN" and "pip install" in rest)
    assert "--constraint requirements.txt" in install, "dependencies must come from the pinned requirements.txt"


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_cmd_healthcheck_and_expose_agree_on_the_port(dockerfile):
    command, check = exec_form(dockerfile, "CMD"), exec_form(dockerfile, "HEALTHCHECK")
    port = command[command.index("--port") + 1]
    assert ("EXPOSE", port) in instructions(dockerfile)
    assert command[command.index("--host") + 1] == "0.0.0.0", "in a container the server must listen beyond loopback"
    assert f"http://127.0.0.1:{port}/" in " ".join(check)
    assert check[0] == "python" and "urllib.request" in check[-1], "slim images have no curl"


def test_the_lab_server_healthcheck_is_the_liveness_endpoint():
    assert "/health'" in exec_form(LAB_SERVER, "HEALTHCHECK")[-1]


def test_dockerignore_lets_in_exactly_what_the_images_copy():
    lines = [ln.strip() for ln in (REPO / ".dockerignore").read_text().splitlines()
             if ln.strip() and not ln.startswith("#")]
    assert lines[0] == "*", "an allow-list: everything is out unless named"
    allowed = {ln[1:].rstrip("/") for ln in lines if ln.startswith("!")}
    copied = set()
    for dockerfile in DOCKERFILES:
        for key, rest in instructions(dockerfile):
            if key == "COPY" and not rest.startswith("--from"):
                copied.update(p.rstrip("/") for p in rest.split()[:-1])
    assert copied == allowed
    assert not allowed & {"mlruns", "data", ".venv", ".git", "opslab-work", "labs", "solutions"}


# ---- compose.yaml ----

def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def check_compose(path) -> subprocess.CompletedProcess:
    return subprocess.run([venv_tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(path)],
                          capture_output=True, text=True, timeout=120)


def test_compose_file_meets_the_compose_specification():
    done = check_compose(COMPOSE)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_compose_schema_rejects_a_misspelt_key(tmp_path):
    broken = tmp_path / "compose.yaml"
    broken.write_text(COMPOSE.read_text().replace("    restart: unless-stopped", "    restrat: unless-stopped", 1))
    done = check_compose(broken)
    assert done.returncode != 0 and "restrat" in done.stdout + done.stderr


def test_compose_runs_the_stack_from_pinned_images_on_loopback():
    services = compose()["services"]
    assert {"lab-server", "demo", "prometheus", "alertmanager", "grafana"} <= set(services)
    for name, service in services.items():
        image = service.get("image", "")
        assert re.fullmatch(r"[\w./-]+:[\w.-]+", image) and not image.endswith(":latest"), (name, image)
        if "build" in service:
            assert (COMPOSE.parent / service["build"]["context"] / service["build"]["dockerfile"]).is_file(), name
        for published in service.get("ports", []):
            assert published.startswith("127.0.0.1:"), (name, published)
    assert services["lab-server"]["depends_on"]["train"]["condition"] == "service_completed_successfully"


def test_compose_mounts_module_5s_files_rather_than_copies():
    mounts = {}
    for service in compose()["services"].values():
        for volume in service.get("volumes", []):
            source, target = volume.split(":")[:2]
            if source.startswith("."):
                assert (COMPOSE.parent / source).exists(), f"compose.yaml mounts {source}, which does not exist"
                mounts[target] = (COMPOSE.parent / source).resolve()
    files = REPO / "src" / "opslab" / "monitoring" / "files"
    assert mounts["/etc/prometheus/rules/alerts.yml"] == files / "alerts.yml"
    assert mounts["/etc/prometheus/rules/recording.yml"] == files / "recording.yml"
    assert mounts["/var/lib/grafana/dashboards/opslab.json"] == files / "grafana" / "opslab-dashboard.json"


def test_the_monitoring_configs_are_opslabs_own_rendering():
    from render_deploy_configs import render

    for name, text in render().items():
        committed = DEPLOY / "monitoring" / name
        assert committed.is_file() and committed.read_text() == text, \
            f"deploy/monitoring/{name} is stale: run scripts/render_deploy_configs.py"


def test_prometheus_and_alertmanager_accept_the_configs(tmp_path):
    """promtool checks the config with the rules it will load (the mounted package files), amtool the other."""
    from opslab.monitoring.alertmanager import check_config
    from opslab.monitoring.binaries import binary

    config = yaml.safe_load((DEPLOY / "monitoring" / "prometheus.yml").read_text())
    files = REPO / "src" / "opslab" / "monitoring" / "files"
    config["rule_files"] = [str(files / r.rsplit("/", 1)[1]) for r in config["rule_files"]]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    done = subprocess.run([binary("promtool"), "check", "config", str(tmp_path / "prometheus.yml")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in check_config(DEPLOY / "monitoring" / "alertmanager.yml")


# ---- the entry points, run as processes ----

def resolve(command: list[str]) -> list[str]:
    """The container's PATH has the venv's bin first: here, this venv's."""
    return [sys.executable if command[0] == "python" else venv_tool(command[0]), *command[1:]]


def healthcheck(dockerfile, port: int) -> subprocess.CompletedProcess:
    check = exec_form(dockerfile, "HEALTHCHECK")
    container_port = exec_form(dockerfile, "CMD")[exec_form(dockerfile, "CMD").index("--port") + 1]
    check = [a.replace(f":{container_port}/", f":{port}/") for a in check]
    return subprocess.run(resolve(check), capture_output=True, text=True, timeout=30)


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A fresh OPSLAB_HOME that compose's ``train`` command (run exactly as written) fills."""
    home = tmp_path_factory.mktemp("deploy-home")
    command = compose()["services"]["train"]["command"]
    done = subprocess.run(resolve(command), env={**_env(), "OPSLAB_HOME": str(home)},
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return home


def _env() -> dict:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith(("OPSLAB_", "MLFLOW_"))}


@pytest.fixture(scope="module")
def lab_server(home):
    port = free_port()
    command = resolve(on_address(exec_form(LAB_SERVER, "CMD"), "127.0.0.1", port))
    env = {"OPSLAB_HOME": str(home), "OPSLAB_DATA_DIR": str(home / "serve")}
    with BackgroundServer(command, f"http://127.0.0.1:{port}/health", env=env, name="lab-server-cmd") as server:
        yield server, port


def test_the_lab_server_image_without_a_model_says_how_to_make_one(tmp_path):
    """No model is baked in: the CMD on an empty /data stops with status 2 and names `opslab train`."""
    command = resolve(on_address(exec_form(LAB_SERVER, "CMD"), "127.0.0.1", free_port()))
    done = subprocess.run(command, env={**_env(), "OPSLAB_HOME": str(tmp_path)}, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2 and "opslab train" in done.stdout, done.stdout + done.stderr


def test_the_lab_server_cmd_serves_health_and_ready(lab_server):
    server, port = lab_server
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
        assert http.get("/health").json() == {"status": "ok"}
        ready = http.get("/ready")
        assert ready.status_code == 200 and ready.json()["model_name"] == "churn-classifier"


def test_the_lab_server_healthcheck_passes_while_it_serves_and_fails_when_it_does_not(lab_server):
    _, port = lab_server
    assert healthcheck(LAB_SERVER, port).returncode == 0
    assert healthcheck(LAB_SERVER, free_port()).returncode != 0


def test_the_demo_cmd_serves_its_page_in_front_of_the_lab_server(lab_server):
    _, lab_port = lab_server
    port = free_port()
    command = resolve(on_address(exec_form(DEMO, "CMD"), "127.0.0.1", port))
    env = {"OPSLAB_SERVER_URL": f"http://127.0.0.1:{lab_port}", "GRADIO_ANALYTICS_ENABLED": "False"}
    try:
        with BackgroundServer(command, f"http://127.0.0.1:{port}/", env=env, name="demo-cmd", timeout=120):
            page = httpx.get(f"http://127.0.0.1:{port}/", timeout=10)
            assert page.status_code == 200 and "gradio" in page.text.lower()
            assert healthcheck(DEMO, port).returncode == 0
    except ServerError as err:
        pytest.fail(f"the demo's CMD did not serve: {err}")


BLOCKING_RUN = WITHOUT_DISTRIBUTIONS + """import httpx
from opslab.demo.launch import launch_demo
demo = launch_demo("http://127.0.0.1:9", "127.0.0.1", int(sys.argv[2]), block=False)
try:
    page = httpx.get(f"http://127.0.0.1:{sys.argv[2]}/", timeout=30)
    print("PAGE", page.status_code, "gradio" in page.text.lower())
finally:
    demo.close()
"""


def test_the_demo_image_installs_everything_the_demo_imports():
    """The demo image holds opslab[demo] only: with every other installed distribution made unimportable,
    the demo still builds and serves its page (optional imports the libraries try are allowed to fail)."""
    from importlib.metadata import packages_distributions

    from packaging.utils import canonicalize_name

    allowed = closure("opslab[demo]") | {"pip", "setuptools", "httpx"}  # a venv's own; httpx: this check's client
    assert "gradio" in allowed and "mlflow" not in allowed
    blocked = sorted(module for module, dists in packages_distributions().items()
                     if module != "opslab" and not {canonicalize_name(d) for d in dists} & allowed)
    assert "mlflow" in blocked and "fastapi_offline" in blocked
    done = subprocess.run([sys.executable, "-c", BLOCKING_RUN, json.dumps(blocked), str(free_port())],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "PAGE 200 True" in done.stdout, done.stdout


def test_the_compose_webhook_command_serves_and_passes_its_healthcheck(tmp_path):
    """compose.yaml's webhook service runs the lab-server image with its own command and health check."""
    service = compose()["services"]["webhook"]
    port = free_port()
    command = [a.replace("/data/", f"{tmp_path}/") for a in on_address(service["command"], "127.0.0.1", port)]
    with BackgroundServer(resolve(command), f"http://127.0.0.1:{port}/ready", name="webhook-cmd"):
        httpx.post(f"http://127.0.0.1:{port}/alerts", json={"alerts": []}, timeout=10).raise_for_status()
        test = service["healthcheck"]["test"]
        assert test[0] == "CMD"
        check = [a.replace(":9095/", f":{port}/") for a in test[1:]]
        assert subprocess.run(resolve(check), capture_output=True, timeout=30).returncode == 0
    assert (tmp_path / "alerts.jsonl").read_text().count("\n") == 1, "the alert was not appended to /data/alerts.jsonl"
