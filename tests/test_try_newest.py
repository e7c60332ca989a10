"""scripts/try_newest.py: the scheduled job's logic, tried offline on a local index of tiny real wheels."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import try_newest

from conftest import REPO


def make_wheel(folder: Path, name: str, version: str, requires: tuple[str, ...] = ()) -> None:
    module, info = name.replace("-", "_"), f"{name.replace('-', '_')}-{version}.dist-info"
    files = {
        f"{module}/__init__.py": f"__version__ = {version!r}\n",
        f"{info}/METADATA": "Metadata-Version: 2.1\n" f"Name: {name}\nVersion: {version}\n"
                            + "".join(f"Requires-Dist: {r}\n" for r in requires),
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    files[f"{info}/RECORD"] = "".join(f"{path},,\n" for path in files) + f"{info}/RECORD,,\n"
    with zipfile.ZipFile(folder / f"{module}-{version}-py3-none-any.whl", "w") as wheel:
        for path, text in files.items():
            wheel.writestr(path, text)


def test_dry_run_reports_the_newest_releases_and_leaves_the_pins_alone(tmp_path):
    index = tmp_path / "index"
    index.mkdir()
    make_wheel(index, "opslab-fake-app", "1.0", ("opslab-fake-lib>=1",))
    make_wheel(index, "opslab-fake-app", "2.0", ("opslab-fake-lib>=2",))
    make_wheel(index, "opslab-fake-lib", "1.5")
    make_wheel(index, "opslab-fake-lib", "2.1")
    make_wheel(index, "opslab-fake-held", "1.0")
    make_wheel(index, "opslab-fake-held", "3.0")
    requirements_in = tmp_path / "requirements.in"
    requirements_in.write_text("opslab-fake-app  # the app\nopslab-fake-held<2\n")
    pins = tmp_path / "requirements.txt"
    pins.write_text("# pinned\nopslab-fake-app==1.0\nopslab_fake_held==1.0\nopslab-fake-lib==1.5\n"
                    "opslab-fake-gone==0.1\n")
    before = pins.read_bytes()
    out = tmp_path / "out"
    root, actions = workflows_and_actions(tmp_path, {"acme/build": ("v3", "node24")})
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "try_newest.py"), "--dry-run", "--out", str(out),
         "--requirements-in", str(requirements_in), "--pins", str(pins),
         "--pip-args", f"--no-index --find-links {index}",
         "--workflows-root", str(root), "--actions-from", str(actions)],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "GITHUB_STEP_SUMMARY": str(tmp_path / "summary")})
    assert done.returncode == 0, done.stderr
    assert pins.read_bytes() == before, "the pins must not move"
    assert (out / "requirements-newest.txt").read_text().splitlines()[1:] == [
        "opslab-fake-app==2.0", "opslab-fake-held==1.0", "opslab-fake-lib==2.1"]
    text = (tmp_path / "summary").read_text()
    assert text == (out / "summary.md").read_text()
    assert "| opslab-fake-app | 1.0 | 2.0 | requirements.in |" in text
    assert "| opslab-fake-lib | 1.5 | 2.1 |  |" in text
    assert "| opslab-fake-gone | 0.1 | (no longer needed) |  |" in text
    assert "held" not in text, "a package at its newest allowed release is no change"
    assert "Dry run" in text
    assert "| `acme/build@v3` | node24 |  | .github/workflows/ci.yml |" in text


def workflows_and_actions(tmp_path: Path, used: dict[str, tuple[str, str]]) -> tuple[Path, Path]:
    """A repository whose workflow uses each ``name@ref`` of ``used``, and a local copy of their action.yml files."""
    root, actions = tmp_path / "repo", tmp_path / "actions"
    (root / ".github" / "workflows").mkdir(parents=True)
    steps = "".join(f"      - uses: {name}@{ref}\n" for name, (ref, _) in used.items())
    (root / ".github" / "workflows" / "ci.yml").write_text(
        "on: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n" + steps)
    for name, (ref, using) in used.items():
        (actions / name / ref).mkdir(parents=True)
        (actions / name / ref / "action.yml").write_text(
            f"name: {name}\ninputs:\n  using:\n    description: not the runtime\n"
            f"runs:\n  using: '{using}'\n  main: dist/index.js\n")
    return root, actions


def test_runs_using_is_read_from_the_runs_mapping_only():
    text = ("name: x\ndescription: using: node12 in prose\ninputs:\n  using:\n    default: node16\n"
            "runs:  # the runtime\n  main: index.js\n  using: \"node20\"\nbranding:\n  using: node99\n")
    assert try_newest.runs_using(text) == "node20"
    assert try_newest.runs_using("runs:\n  using: composite\n  steps: []\n") == "composite"
    assert try_newest.runs_using("name: no runs\n") is None
    assert [try_newest.node_major(u) for u in ("node24", "node20", "composite", "docker", None)] == [24, 20, None,
                                                                                                    None, None]


def test_actions_used_finds_remote_actions_and_skips_local_and_docker_ones():
    text = ("steps:\n  - uses: actions/checkout@v7\n  - name: x\n    uses: 'actions/cache@v5'  # keep\n"
            "  - uses: ./.github/actions/mine\n  - uses: docker://alpine:3\n"
            "  - uses: github/codeql-action/init@v4\n  - run: echo uses: fake/thing@v1\n")
    assert try_newest.actions_used(text) == {"actions/checkout@v7", "actions/cache@v5", "github/codeql-action/init@v4"}


def test_an_action_on_an_old_node_is_reported_and_fails_the_run(tmp_path):
    root, actions = workflows_and_actions(tmp_path, {"acme/old": ("v4", "node20"), "acme/new": ("v5", "node24"),
                                                    "acme/steps": ("v1", "composite")})
    runtimes = {r.action: r for r in try_newest.check_actions(root, actions)}
    assert [a for a, r in runtimes.items() if r.outdated] == ["acme/old@v4"]
    assert runtimes["acme/steps@v1"].using == "composite" and not runtimes["acme/steps@v1"].outdated
    text = try_newest.actions_summary(list(runtimes.values()))
    assert "1 on a Node older than node24" in text
    assert "| `acme/old@v4` | node20 | **older than node24: move to a newer major** |" in text
    missing = try_newest.check_actions(root, tmp_path / "nowhere")
    assert all(r.using is None and not r.outdated for r in missing)
    assert "whose action.yml could not be read" in try_newest.actions_summary(missing)
    requirements_in, pins = tmp_path / "requirements.in", tmp_path / "requirements.txt"
    requirements_in.write_text("")
    pins.write_text("")
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "try_newest.py"), "--dry-run", "--out", str(tmp_path / "out"),
         "--requirements-in", str(requirements_in), "--pins", str(pins), "--pip-args=--no-index",
         "--workflows-root", str(root), "--actions-from", str(actions)],
        capture_output=True, text=True, timeout=120, env={k: v for k, v in os.environ.items()
                                                          if k != "GITHUB_STEP_SUMMARY"})
    assert done.returncode == 1, done.stdout + done.stderr
    assert "acme/old@v4` | node20" in (tmp_path / "out" / "summary.md").read_text()


def test_the_summary_names_what_broke(tmp_path):
    (tmp_path / "test_sample.py").write_text(
        "def test_fine():\n    pass\n\n"
        "def test_broken():\n    assert 1 == 2, 'the newest release changed its mind'\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_book.py").write_text("def test_builds():\n    raise RuntimeError('sphinx moved')\n")
    junit = tmp_path / "junit.xml"
    subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--junitxml={junit}", "-q",
                    "test_sample.py", "tests/test_book.py"],
                   cwd=tmp_path, capture_output=True, timeout=120,
                   env={**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})  # no course plugins: fast
    counts, failures = try_newest.junit_results(junit)
    assert counts == {"tests": 3, "failures": 2, "errors": 0, "skipped": 0}
    changes = [try_newest.Change("numpy", "2.3.0", "2.4.0", True)]
    text = try_newest.summary(changes, 40, (counts, failures), 1)
    assert "1 passed, 2 failed, 0 errors" in text
    assert "the newest release changed its mind" in text and "`test_sample::test_broken`" in text
    assert "Book build (tests/test_book.py): broken." in text
    fine = try_newest.summary(changes, 40, ({"tests": 3, "failures": 0, "errors": 0, "skipped": 0}, []), 0)
    assert "Book build (tests/test_book.py): ok." in fine and "Nothing broke" in fine
