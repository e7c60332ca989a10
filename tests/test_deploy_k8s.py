"""deploy/k8s: the manifests validate against Kubernetes 1.32's schemas (offline, strict), hang together
(labels, ports, probes, the autoscaler's target), and what the pods would run serves what the probes ask.

No cluster runs here (kind, minikube and k3s are not available); the pod's processes run as processes."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest
import yaml

from conftest import REPO
from deploy_support import DEPLOY, exec_form, on_address, venv_tool
from opslab.background import BackgroundServer, free_port

K8S = DEPLOY / "k8s"
MANIFESTS = sorted(K8S.glob("*.yaml"))
KUBERNETES = "1.32.0"


def validate(*paths) -> subprocess.CompletedProcess:
    return subprocess.run([venv_tool("kubernetes-validate"), "-k", KUBERNETES, "--strict", *map(str, paths)],
                          capture_output=True, text=True, timeout=120)


def objects() -> dict[str, dict]:
    """Every object in deploy/k8s, by ``Kind/name``."""
    found = {}
    for path in MANIFESTS:
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                found[f"{doc['kind']}/{doc['metadata']['name']}"] = doc
    return found


def deployment() -> dict:
    return objects()["Deployment/opslab-lab-server"]


def pod_spec() -> dict:
    return deployment()["spec"]["template"]["spec"]


@pytest.mark.parametrize("manifest", MANIFESTS, ids=lambda p: p.name)
def test_manifest_validates_against_the_kubernetes_schemas(manifest):
    done = validate(manifest)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "passed" in done.stdout


def test_there_are_the_objects_the_lab_server_needs():
    assert {"Deployment/opslab-lab-server", "Service/opslab-lab-server", "ConfigMap/opslab-lab-server",
            "HorizontalPodAutoscaler/opslab-lab-server", "ConfigMap/opslab-prometheus"} <= set(objects())
    assert objects()["HorizontalPodAutoscaler/opslab-lab-server"]["apiVersion"] == "autoscaling/v2"


@pytest.mark.parametrize("mistake", [
    ("replicas: 2", 'replicas: "two"'),
    ("containerPort: 8000", "containerPort: eight-thousand"),
    ("readinessProbe:", "readynessProbe:"),  # a misspelt field: only --strict catches it
])
def test_a_broken_deployment_is_rejected(tmp_path, mistake):
    text = (K8S / "deployment.yaml").read_text()
    assert mistake[0] in text
    broken = tmp_path / "deployment.yaml"
    broken.write_text(text.replace(mistake[0], mistake[1], 1))
    done = validate(broken)
    assert done.returncode != 0 and "did not validate" in done.stdout + done.stderr, done.stdout


def test_every_container_has_probes_resources_and_runs_unprivileged():
    spec = pod_spec()
    assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["runAsUser"] > 0
    for container in spec.get("initContainers", []) + spec["containers"]:
        name = container["name"]
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(container["resources"][kind]), (name, kind)
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False and context["capabilities"]["drop"] == ["ALL"], name
        assert context.get("runAsUser", spec["securityContext"]["runAsUser"]) != 0, name
    for container in spec["containers"]:
        assert container["readinessProbe"]["httpGet"]["path"] == "/ready", container["name"]
        assert container["livenessProbe"]["httpGet"]["path"] == "/health", container["name"]


def test_rolling_update_never_drops_below_the_wanted_pods():
    strategy = deployment()["spec"]["strategy"]
    assert strategy["type"] == "RollingUpdate"
    assert strategy["rollingUpdate"]["maxUnavailable"] == 0 and strategy["rollingUpdate"]["maxSurge"] >= 1


def test_service_hpa_and_budget_point_at_the_deployment():
    found, labels = objects(), deployment()["spec"]["template"]["metadata"]["labels"]
    assert deployment()["spec"]["selector"]["matchLabels"].items() <= labels.items()
    ports = {p["name"]: p["containerPort"] for c in pod_spec()["containers"] for p in c["ports"]}
    services = [obj for key, obj in found.items() if key.startswith("Service/")]
    assert services
    for service in services:
        name = service["metadata"]["name"]
        assert service["spec"]["selector"].items() <= labels.items(), f"Service {name} would select no lab-server pod"
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in ports, f"Service {name} targets port {port['targetPort']}, named by none"
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert pod_spec()["containers"][0][probe]["httpGet"]["port"] in ports, probe
    target = found["HorizontalPodAutoscaler/opslab-lab-server"]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment()["metadata"]["name"])
    budget = found.get("PodDisruptionBudget/opslab-lab-server")
    if budget:
        assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_the_pods_image_is_the_dockerfiles_and_its_port_is_the_cmds():
    command = exec_form(DEPLOY / "docker" / "lab-server.Dockerfile", "CMD")
    container = pod_spec()["containers"][0]
    assert "command" not in container and "args" not in container, "the pod runs the image's own CMD"
    assert container["ports"][0]["containerPort"] == int(command[command.index("--port") + 1])
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert container["image"] == compose["services"]["lab-server"]["image"]


def test_the_scrape_config_passes_promtool_with_module_5s_rules(tmp_path):
    from opslab.monitoring.binaries import binary

    config = yaml.safe_load(objects()["ConfigMap/opslab-prometheus"]["data"]["prometheus.yml"])
    assert config["scrape_configs"][0]["job_name"] == "opslab", "Module 5's rules select job=\"opslab\""
    files = REPO / "src" / "opslab" / "monitoring" / "files"
    config["rule_files"] = [str(files / rule.rsplit("/", 1)[1]) for rule in config["rule_files"]]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    done = subprocess.run([binary("promtool"), "check", "config", str(tmp_path / "prometheus.yml")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    # it discovers the pods through a headless Service of the lab server, on the containers' port
    (sd,) = config["scrape_configs"][0]["dns_sd_configs"]
    (name,) = sd["names"]
    service = objects()[f"Service/{name}"]
    assert service["spec"]["clusterIP"] == "None", "a Service with a virtual IP resolves to one address, not the pods"
    assert service["spec"]["selector"].items() <= deployment()["spec"]["template"]["metadata"]["labels"].items()
    assert sd["port"] == pod_spec()["containers"][0]["ports"][0]["containerPort"]


def test_what_the_pod_runs_passes_its_own_probes(tmp_path):
    """The init container's command, then the image's CMD, with the ConfigMap's settings (/data -> a folder
    here) and the port the container declares: the readiness and liveness paths answer 200."""
    settings = objects()["ConfigMap/opslab-lab-server"]["data"]
    env = {k: v.replace("/data", str(tmp_path)) for k, v in settings.items()}
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OPSLAB_", "MLFLOW_"))}

    def resolve(command):
        return [sys.executable if command[0] == "python" else venv_tool(command[0]), *command[1:]]

    init = pod_spec()["initContainers"][0]["command"]
    done = subprocess.run(resolve(init), env={**clean, **env}, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    port = free_port()
    command = resolve(on_address(exec_form(DEPLOY / "docker" / "lab-server.Dockerfile", "CMD"), "127.0.0.1", port))
    container = pod_spec()["containers"][0]
    with BackgroundServer(command, f"http://127.0.0.1:{port}{container['startupProbe']['httpGet']['path']}",
                          env=env, name="k8s-pod-cmd"):
        for probe in ("readinessProbe", "livenessProbe"):
            answer = httpx.get(f"http://127.0.0.1:{port}{container[probe]['httpGet']['path']}", timeout=10)
            assert answer.status_code == 200, (probe, answer.text)
