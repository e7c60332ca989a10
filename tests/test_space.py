"""The course's Docker Space (space/): its metadata, its Dockerfile, its entry point run as a process (the lab
server under /api and the demo at / on one port, the demo calling the lab server in the same process), the
folder `opslab space build` writes, and the book's links to the published live pieces."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import zipfile
from pathlib import Path

import gradio_client
import httpx
import pytest
import yaml

from conftest import REPO
from deploy_support import WITHOUT_DISTRIBUTIONS, closure, exec_form, instructions, on_address, venv_tool
from opslab.background import BackgroundServer, free_port, opslab_command
from opslab.data import CATEGORICAL_FEATURES, EXAMPLE_RECORD, NUMERIC_FEATURES
from opslab.space import files, vendor
from opslab.space.build import EXTRA
from opslab.space.vendor import WHEELS
from serve_support import sample_records
from venv_support import fresh_venv

SPACE = REPO / "space"
DOCKERFILE = SPACE / "Dockerfile"
BASE = re.compile(r"^python:3\.11\.\d+-slim-bookworm$")


def metadata() -> dict:
    return files.front_matter((SPACE / "README.md").read_text())


def cmd_port() -> int:
    command = exec_form(DOCKERFILE, "CMD")
    return int(command[command.index("--port") + 1])


def runtime_steps() -> list[tuple[str, str]]:
    steps = instructions(DOCKERFILE)
    return steps[max(i for i, (key, _) in enumerate(steps) if key == "FROM"):]


def resolve(command: list[str]) -> list[str]:
    """The image's PATH has the venv's bin first: here, this venv's."""
    return [venv_tool(command[0]), *command[1:]]


# ---- the Space's metadata and Dockerfile ----

def test_readme_metadata_is_a_docker_space_on_the_port_the_cmd_serves():
    meta = metadata()
    assert meta["sdk"] == "docker"
    assert meta["app_port"] == cmd_port() and ("EXPOSE", str(cmd_port())) in instructions(DOCKERFILE)
    assert not {"app_file", "sdk_version", "python_version"} & meta.keys(), "Gradio-SDK keys in a Docker Space"
    assert meta["title"] and len(meta["short_description"]) <= 60  # the Hub refuses longer ones


def test_hadolint_finds_nothing_in_the_space_dockerfile():
    done = subprocess.run([venv_tool("hadolint"), "--no-color", "--failure-threshold", "style",
                           "--disable-ignore-pragma", str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_dockerfile_is_pinned_multi_stage_runs_as_uid_1000_and_bakes_the_model_in():
    steps = instructions(DOCKERFILE)
    bases = [rest.split()[0] for key, rest in steps if key == "FROM"]
    assert len(bases) >= 2 and all(BASE.match(b) for b in bases), bases
    runtime = runtime_steps()
    users = [rest for key, rest in runtime if key == "USER"]
    assert users and users[-1].split(":")[0] == "1000", "the Hub runs a Space's container as uid 1000"
    trained = [i for i, (key, rest) in enumerate(runtime) if key == "RUN" and rest.startswith("opslab train")]
    assert trained and trained[0] > runtime.index(("USER", users[-1])), "train as the user who serves"
    install = " ".join(rest for key, rest in steps if key == "RUN" and "pip install" in rest)
    assert "--constraint constraints.txt" in install and "--requirement requirements.txt" in install
    steps_text = " ".join(f"{key} {rest}" for key, rest in steps)  # comments dropped: they may say "no token"
    assert not re.search(r"TOKEN|SECRET|PASSWORD|--mount=type=secret", steps_text), "the Space needs no secrets"


def test_cmd_and_healthcheck_agree_on_the_port():
    command, check = exec_form(DOCKERFILE, "CMD"), exec_form(DOCKERFILE, "HEALTHCHECK")
    assert command[:3] == ["opslab", "space", "serve"]
    assert command[command.index("--host") + 1] == "0.0.0.0", "in a container the server must listen beyond loopback"
    assert f"http://127.0.0.1:{cmd_port()}/api/health" in " ".join(check)


def test_the_space_files_reader_refuses_what_the_hub_or_docker_would_misread():
    with pytest.raises(ValueError, match="starts with a line"):
        files.front_matter("title: x\n---\n")
    with pytest.raises(ValueError, match="never ends"):
        files.front_matter("---\nsdk: docker\n")
    assert files.front_matter("---\nsdk: docker\napp_port: 7860\n---\n# text\n---\n") == {
        "sdk": "docker", "app_port": 7860}
    with pytest.raises(ValueError, match="continued line"):
        files.instructions("FROM python:3.11.14-slim-bookworm\nRUN true \\\n")
    with pytest.raises(ValueError, match="exec form"):
        files.exec_form("FROM x\nCMD opslab space serve\n", "CMD")
    with pytest.raises(ValueError, match="no HEALTHCHECK"):
        files.exec_form("FROM x\n", "HEALTHCHECK")
    text = 'FROM x\nHEALTHCHECK --interval=5s \\\n  CMD ["python", "-c", "1"]\nCMD ["a"]\nCMD ["b", "c"]\n'
    assert files.exec_form(text, "HEALTHCHECK") == ["python", "-c", "1"]
    assert files.exec_form(text, "CMD") == ["b", "c"], "the last CMD is the one that runs"


# ---- the entry point, run as a process ----

@pytest.fixture(scope="module")
def space(tmp_path_factory):
    """The Dockerfile's training step and then its CMD, run as written (host and port changed) in a fresh
    OPSLAB_HOME; yields the base URL."""
    home = tmp_path_factory.mktemp("space-home")
    train = [rest for key, rest in runtime_steps() if key == "RUN" and rest.startswith("opslab train")][0]
    done = subprocess.run(resolve(shlex.split(train)), env={**_env(), "OPSLAB_HOME": str(home)},
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    port = free_port()
    command = resolve(on_address(exec_form(DOCKERFILE, "CMD"), "127.0.0.1", port))
    with BackgroundServer(command, f"http://127.0.0.1:{port}/api/ready", env={"OPSLAB_HOME": str(home)},
                          name="space-cmd", timeout=150):
        yield f"http://127.0.0.1:{port}"


def _env() -> dict:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith(("OPSLAB_", "MLFLOW_"))}


def test_the_api_answers_under_api(space):
    with httpx.Client(base_url=f"{space}/api", timeout=30) as http:
        assert http.get("/health").json() == {"status": "ok"}
        answer = http.post("/predict", json=sample_records(3))
        assert answer.status_code == 200, answer.text
        predictions = answer.json()["predictions"]
        assert len(predictions) == 3 and {p["model_name"] for p in predictions} == {"churn-classifier"}
        bad = http.post("/predict", json={**sample_records(1)[0], "age": "old"})
        assert bad.status_code == 422 and "age" in bad.text, "bad input gets the lab server's 4xx, not a 500"
        docs = http.get("/docs")
        assert docs.status_code == 200
        assets = re.findall(r"(?:src|href)=['\"](/[^'\"]+\.(?:js|css))", docs.text)
        assert any(a.endswith("swagger-ui-bundle.js") for a in assets), assets
        for asset in assets + ["/api/openapi.json"]:
            assert asset.startswith("/api/"), f"the docs page asks for {asset}, outside the lab server's prefix"
            assert httpx.get(f"{space}{asset}", timeout=10).status_code == 200, asset
        assert http.get("/nothing-here").status_code == 404


def test_the_lab_servers_metrics_name_its_routes_under_the_prefix(space):
    httpx.get(f"{space}/api/health", timeout=10).raise_for_status()
    metrics = httpx.get(f"{space}/api/metrics", timeout=10).text
    assert re.search(r'opslab_requests_total\{endpoint="/health",method="GET",status="200"\} [1-9]', metrics), \
        "mounted at /api, requests must still count under their route, not as 'other'"


def test_the_root_is_the_demos_page(space):
    page = httpx.get(f"{space}/", timeout=30)
    assert page.status_code == 200 and "gradio" in page.text.lower()


def test_the_demo_predicts_through_the_lab_server_in_the_same_process(space):
    demo = gradio_client.Client(f"{space}/", verbose=False, analytics_enabled=False, download_files=False)
    status = demo.predict(api_name="/server_status")
    assert f"{space}/api" in status and "churn-classifier" in status, status
    record = [EXAMPLE_RECORD[name] for name in NUMERIC_FEATURES + CATEGORICAL_FEATURES]
    status, prediction_id = demo.predict(*record, api_name="/predict_one")
    assert re.fullmatch(r"[0-9a-f]{32}", prediction_id), status
    logged = httpx.post(f"{space}/api/feedback", json={"prediction_id": prediction_id, "churned": 0}, timeout=10)
    assert logged.status_code == 200, "the demo's prediction is in this lab server's log (feedback finds it)"
    feedback = demo.predict(prediction_id, "churned", api_name="/send_feedback")
    assert "✔" in feedback, feedback


def test_the_public_space_has_no_prediction_log(space):
    """The log holds every visitor's input: the Space's lab server has no /predictions, token or not."""
    assert httpx.get(f"{space}/api/predictions", timeout=10).status_code == 404
    wrong = httpx.get(f"{space}/api/predictions", headers={"Authorization": "Bearer x"}, timeout=10)
    assert wrong.status_code == 404
    assert "/predictions" not in httpx.get(f"{space}/api/openapi.json", timeout=10).json()["paths"]


def test_the_healthcheck_passes_while_the_space_serves(space):
    port = space.rsplit(":", 1)[1]
    check = [a.replace(f":{cmd_port()}/", f":{port}/") for a in exec_form(DOCKERFILE, "HEALTHCHECK")]
    check[0] = venv_tool("python") if check[0] == "python" else check[0]
    assert subprocess.run(check, capture_output=True, timeout=30).returncode == 0


def test_the_space_without_a_model_says_how_to_make_one(tmp_path):
    command = resolve(on_address(exec_form(DOCKERFILE, "CMD"), "127.0.0.1", free_port()))
    done = subprocess.run(command, env={**_env(), "OPSLAB_HOME": str(tmp_path)}, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2 and "opslab train" in done.stdout, done.stdout + done.stderr


BLOCKING_OPSLAB = WITHOUT_DISTRIBUTIONS + """from opslab.cli import main
sys.exit(main(sys.argv[2:]))
"""


def test_the_space_image_installs_everything_the_space_imports(tmp_path):
    """The image installs opslab[space] only (the built requirements.txt): with every other installed distribution made
    unimportable, the Dockerfile's training step and CMD still run, and the demo predicts through the API."""
    from importlib.metadata import packages_distributions

    from packaging.utils import canonicalize_name

    allowed = closure(f"opslab[{EXTRA}]") | {"pip", "setuptools"}  # a venv's own
    assert {"gradio", "mlflow", "fastapi"} <= allowed and not {"streamlit", "wandb", "dvc"} & allowed
    blocked = sorted(module for module, dists in packages_distributions().items()
                     if module != "opslab" and not {canonicalize_name(d) for d in dists} & allowed)
    assert "streamlit" in blocked and "wandb" in blocked
    env = {**_env(), "OPSLAB_HOME": str(tmp_path)}
    train = [rest for key, rest in runtime_steps() if key == "RUN" and rest.startswith("opslab train")][0]
    run = [sys.executable, "-c", BLOCKING_OPSLAB, json.dumps(blocked)]
    done = subprocess.run(run + shlex.split(train)[1:], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    port = free_port()
    command = run + on_address(exec_form(DOCKERFILE, "CMD"), "127.0.0.1", port)[1:]
    with BackgroundServer(command, f"http://127.0.0.1:{port}/api/ready", env=env, name="space-blocked", timeout=150):
        demo = gradio_client.Client(f"http://127.0.0.1:{port}/", verbose=False, analytics_enabled=False,
                                    download_files=False)
        record = [EXAMPLE_RECORD[name] for name in NUMERIC_FEATURES + CATEGORICAL_FEATURES]
        status, prediction_id = demo.predict(*record, api_name="/predict_one")
        assert re.fullmatch(r"[0-9a-f]{32}", prediction_id), status


# ---- the folder `opslab space build` writes ----

def head_commit() -> str:
    return subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    if not (REPO / ".git").exists():
        pytest.skip("not a git clone: the build pins one of its commits")
    out = tmp_path_factory.mktemp("built") / "space"
    sha = head_commit()
    done = subprocess.run(opslab_command("space", "build", str(out), "--repo", str(REPO), "--commit", sha[:12]),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return out, sha


def test_build_writes_the_space_with_the_wheel_of_the_full_commit(built):
    out, sha = built
    assert {p.name for p in out.iterdir()} == {"README.md", "Dockerfile", "requirements.txt", "constraints.txt",
                                              WHEELS}
    for name in ("README.md", "Dockerfile"):
        assert (out / name).read_bytes() == (SPACE / name).read_bytes()
    wheels = sorted((out / WHEELS).iterdir())
    assert [w.name for w in wheels] == ["opslab-0.1.0-py3-none-any.whl"]
    wanted = [ln for ln in (out / "requirements.txt").read_text().splitlines() if ln and not ln.startswith("#")]
    assert wanted == [f"./{WHEELS}/{wheels[0].name}[{EXTRA}]"], "the vendored wheel, with the Space's extra"
    assert sha in (out / "requirements.txt").read_text(), "a short SHA is resolved to the full one"
    tracked = subprocess.run(["git", "-C", str(REPO), "ls-tree", "-r", "--name-only", sha, "src/opslab"],
                             capture_output=True, text=True, check=True).stdout.split()
    with zipfile.ZipFile(wheels[0]) as wheel:
        names = set(wheel.namelist())
        modules = [t for t in tracked if t.endswith(".py")]
        assert {m.removeprefix("src/") for m in modules} <= names, "every module of the commit is in the wheel"
        for module in ("src/opslab/__init__.py", "src/opslab/space/app.py"):
            at_commit = subprocess.run(["git", "-C", str(REPO), "show", f"{sha}:{module}"], capture_output=True,
                                       check=True).stdout
            assert wheel.read(module.removeprefix("src/")) == at_commit, f"{module} is not the commit's"


def test_build_constrains_every_version_as_the_repository_pins_it(built):
    out, _ = built
    pins = [ln for ln in (REPO / "requirements.txt").read_text().splitlines() if ln and not ln.startswith("#")]
    constraints = [ln for ln in (out / "constraints.txt").read_text().splitlines() if ln and not ln.startswith("#")]
    assert constraints == pins and all("==" in ln for ln in constraints)


def test_the_built_folder_is_the_whole_build_context(built):
    out, _ = built
    for key, rest in instructions(out / "Dockerfile"):
        if key == "COPY" and not rest.startswith("--from"):
            for source in rest.split()[:-1]:
                assert (out / source).exists(), f"the Dockerfile copies {source}, which the folder lacks"


@pytest.mark.parametrize("commit", ["no-such-commit", "0" * 40])
def test_build_refuses_a_commit_the_repository_does_not_have(tmp_path, commit):
    if not (REPO / ".git").exists():
        pytest.skip("not a git clone")
    done = subprocess.run(opslab_command("space", "build", str(tmp_path / "out"), "--repo", str(REPO),
                                         "--commit", commit), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "is not a commit" in done.stderr, done.stdout + done.stderr
    assert not (tmp_path / "out").exists(), "nothing is written"


def test_build_refuses_to_write_over_its_source_folder():
    done = subprocess.run(opslab_command("space", "build", str(SPACE), "--repo", str(REPO)),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "source folder" in done.stderr, done.stdout + done.stderr


# ---- the published URLs in _config.yml, and the book's links to them ----

def substitutions() -> dict:
    return yaml.safe_load((REPO / "_config.yml").read_text())["parse"]["myst_substitutions"]


def test_the_space_urls_are_one_space():
    subs = substitutions()
    owner, name = re.fullmatch(r"https://huggingface\.co/spaces/([\w-]+)/([\w.-]+)", subs["space_url"]).groups()
    host = f"{owner}-{name}".lower().replace(".", "-").replace("_", "-")
    assert subs["space_app_url"] == f"https://{host}.hf.space", "the app's own address follows from the Space's"


def test_every_substitution_the_book_uses_is_defined():
    defined = set(substitutions())
    used = {}
    for page in (REPO / "book").rglob("*.md"):
        prose = re.sub(r"^(```|~~~).*?^\1", "", page.read_text(), flags=re.S | re.M)  # code is not substituted
        prose = re.sub(r"`[^`\n]*`", "", prose)  # nor is inline code (`${{ secrets.NAME }}` is GitHub's syntax)
        for name in re.findall(r"\{\{\s*([A-Za-z_]\w*)", prose):
            used.setdefault(name, page.relative_to(REPO))
    assert {"space_app_url", "space_url"} <= used.keys(), "the book links the published Space"
    assert not {n: p for n, p in used.items() if n not in defined}


# ---- the built folder, installed as the Hub would, but offline: only the vendored wheel is new ----

@pytest.fixture(scope="module")
def vendored_from_installed(tmp_path_factory):
    """The capstone's way, where there is no repository: the installed opslab packed as a wheel, the Space's
    dependencies pinned at the versions installed here, and the course Space's files."""
    out = tmp_path_factory.mktemp("vendored") / "space"
    out.mkdir()
    for name in ("README.md", "Dockerfile"):
        (out / name).write_bytes((SPACE / name).read_bytes())
    vendor.write_requirements(out, vendor.wheel_of_installed(out / WHEELS), EXTRA, vendor.installed_pins(EXTRA),
                              "# test\n")
    return out


@pytest.fixture(scope="module", params=["opslab space build", "installed opslab"])
def space_folder(request, tmp_path_factory):
    if request.param == "opslab space build":
        return request.getfixturevalue("built")[0]
    return request.getfixturevalue("vendored_from_installed")


@pytest.fixture(scope="module")
def installed_space(space_folder, tmp_path_factory):
    out = space_folder
    python = fresh_venv(tmp_path_factory.mktemp("space-venv"))
    report = vendor.resolve(out, str(python))
    steps = [rest for key, rest in instructions(out / "Dockerfile") if key == "RUN" and "pip install" in rest]
    install = shlex.split(steps[0])
    assert install[:2] == ["pip", "install"], steps
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-index",
                           "--find-links", WHEELS, *install[2:]], cwd=out, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return python, report


def test_the_wheel_of_the_installed_package_holds_it_whole(vendored_from_installed):
    import opslab

    package = Path(opslab.__file__).parent
    with zipfile.ZipFile(next((vendored_from_installed / WHEELS).glob("*.whl"))) as wheel:
        names = set(wheel.namelist())
        assert wheel.testzip() is None
        record = wheel.read("opslab-0.1.0.dist-info/RECORD").decode()
        entry_points = wheel.read("opslab-0.1.0.dist-info/entry_points.txt").decode()
    shipped = {f"opslab/{p.relative_to(package).as_posix()}" for p in package.rglob("*")
               if p.is_file() and "__pycache__" not in p.parts}
    assert shipped <= names and all(name in record for name in shipped)
    assert re.search(r"^opslab\s*=\s*opslab\.cli:main$", entry_points, re.M), "the `opslab` command"


def test_the_folders_requirements_resolve_against_its_pins_offline(installed_space):
    """pip's dry run: with the pinned versions present, installing the folder adds the vendored wheel only."""
    _, report = installed_space
    installs = [(item["metadata"]["name"], item["metadata"]["version"]) for item in report["install"]]
    assert installs == [("opslab", "0.1.0")], installs
    assert report["install"][0]["download_info"]["url"].endswith(f"/{WHEELS}/opslab-0.1.0-py3-none-any.whl")


def test_the_installed_folder_runs_its_cmd_and_answers_health_and_the_demo(installed_space, space_folder, tmp_path):
    python, _ = installed_space
    out = space_folder
    where = subprocess.run([str(python), "-c", "import opslab; print(opslab.__file__)"], capture_output=True,
                           text=True, check=True).stdout.strip()
    assert where.startswith(str(python.parent.parent)), f"opslab comes from {where}, not the folder's wheel"
    bin_dir = python.parent
    env = {**_env(), "OPSLAB_HOME": str(tmp_path / "home"), "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    steps = [rest for key, rest in instructions(out / "Dockerfile") if key == "RUN"]
    train = shlex.split(next(rest for rest in steps if rest.startswith("opslab train")))
    done = subprocess.run([str(bin_dir / train[0]), *train[1:]], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    port = free_port()
    command = on_address(exec_form(out / "Dockerfile", "CMD"), "127.0.0.1", port)
    command = [str(bin_dir / command[0]), *command[1:]]
    with BackgroundServer(command, f"http://127.0.0.1:{port}/api/health", env=env, name="space-folder", timeout=150):
        assert httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=10).json() == {"status": "ok"}
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=30)
        assert page.status_code == 200 and "gradio" in page.text.lower()
