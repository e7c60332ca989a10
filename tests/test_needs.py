"""Each lab declares what it needs (its notebook's ``opslab.needs``: extras of the course package and system
tools), and the declaration is checked against what the lab really imports and starts; apt.txt (Binder),
scripts/system-packages.txt (a clone) and the Colab path (apt-get of opslab.needs.PACKAGES) cover the tools.
A lab that would fail on Colab for want of a tool stops at its first cell with one sentence."""

from __future__ import annotations

import ast
import json
import re
import sys
import tomllib
from functools import cache
from importlib import metadata, util
from pathlib import Path

import pytest

from conftest import REPO
from deploy_support import closure
from opslab import needs

SOLUTIONS = sorted((REPO / "solutions").glob("*.ipynb"))
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
EXTRAS = PYPROJECT["optional-dependencies"]
# what a lab starts, by the opslab.monitoring names it uses (each runs these programs)
STARTS = {
    "PrometheusServer": {"prometheus", "promtool"},
    "check_rules": {"promtool"},
    "test_rules": {"promtool"},
    "AlertmanagerServer": {"prometheus-alertmanager", "amtool"},
    "MonitoringStack": {"prometheus", "promtool", "prometheus-alertmanager", "amtool"},
}


def declared(path: Path) -> dict:
    return json.loads(path.read_text())["metadata"]["opslab"]["needs"]


def code_of(path: Path) -> str:
    cells = json.loads(path.read_text())["cells"]
    lines = []
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        if source.lstrip().startswith("%%"):  # a cell magic (%%writefile): not the kernel's code
            continue
        lines += [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))] + [""]
    return "\n".join(lines)


def imported(tree: ast.AST) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


@cache
def opslab_module_imports(name: str) -> frozenset[str]:
    """Every import of an opslab module (at any depth of its code), following the opslab modules it imports."""
    try:
        spec = util.find_spec(name)
    except ModuleNotFoundError:  # a name imported from a module (from opslab.data import TARGET)
        return frozenset()
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        return frozenset()
    names = imported(ast.parse(Path(spec.origin).read_text()))
    found = set(names)
    for other in names:
        if other.startswith("opslab.") and other != name:
            found |= opslab_module_imports(other)
    return frozenset(found)


def lab_imports(path: Path) -> set[str]:
    names = imported(ast.parse(code_of(path)))
    for name in list(names):
        if name.startswith("opslab"):
            names |= opslab_module_imports(name)
    return names


@cache
def distributions_of_modules() -> dict[str, list[str]]:
    return metadata.packages_distributions()


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


KERNEL = ("ipython", "ipykernel")  # every Jupyter kernel (Colab's, Binder's) brings these


def provided(extras: list[str]) -> set[str]:
    """What installing opslab with ``extras`` in a Jupyter kernel provides, by canonical name."""
    wanted = f"opslab[{','.join(extras)}]" if extras else "opslab"
    return closure(wanted).union(*(closure(name) for name in KERNEL))


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_every_lab_declares_known_extras_and_tools(path):
    need = declared(path)
    assert set(need) <= {"extras", "tools"}
    assert set(need["extras"]) <= set(EXTRAS) - {"all"}, f"unknown extras: {set(need['extras']) - set(EXTRAS)}"
    assert set(need["tools"]) <= set(needs.PACKAGES), f"tools opslab.needs cannot provide: {need['tools']}"


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_the_declared_extras_install_every_package_the_lab_imports(path):
    extras = declared(path)["extras"]
    have = provided(extras)
    wanted = {}
    for module in sorted(lab_imports(path)):
        top = module.split(".")[0]
        if top in sys.stdlib_module_names or top == "opslab":
            continue
        for dist in distributions_of_modules().get(top, []):  # a module the lab writes itself has none
            wanted.setdefault(canonical(dist), module)
    missing = {dist: module for dist, module in wanted.items() if dist not in have}
    assert not missing, f"{path.stem} imports {missing} but declares only the extras {extras}"


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_the_declared_tools_are_what_the_lab_starts(path):
    code = code_of(path)
    starts = set().union(*(tools for name, tools in STARTS.items() if re.search(rf"\b{name}\b", code)))
    assert set(declared(path)["tools"]) == starts, f"{path.stem} starts {sorted(starts)}"


def listed(path: Path) -> set[str]:
    return {line.split("#")[0].strip() for line in path.read_text().splitlines()} - {""}


def test_binder_a_clone_and_colab_provide_every_declared_tool():
    packages = {needs.PACKAGES[tool] for path in SOLUTIONS for tool in declared(path)["tools"]}
    assert packages, "no lab declares a tool: the Module 5 labs start Prometheus"
    assert packages <= listed(REPO / "apt.txt"), "Binder installs apt.txt"
    assert packages <= listed(REPO / "scripts" / "system-packages.txt"), "scripts/setup.sh installs these"


def test_a_missing_tool_stops_the_lab_with_one_sentence(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on PATH: no prometheus, and not on Colab
    monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
    with pytest.raises(needs.LabCannotRun) as caught:
        needs.provide("m5_prometheus", tools=["prometheus"])
    message = str(caught.value)
    assert "`prometheus` (package prometheus)" in message and "Binder" in message
    assert caught.value._render_traceback_() == [f"LabCannotRun: {message}"], "IPython shows one sentence"


def test_a_present_tool_needs_nothing(tmp_path, monkeypatch):
    tool = tmp_path / "curl"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert needs.provide("m3_rest_api", tools=["curl"]) == []
