"""A Space's folder carries what no public index has: the ``opslab`` wheel, vendored under ``wheels/``,
with every other dependency pinned (``constraints.txt``). The Hub then builds it from public pieces only.

- :func:`wheel_of_commit` builds the wheel of one commit of the course repository (``git archive`` of that
  commit, built offline with the running setuptools): ``opslab space build``.
- :func:`wheel_of_installed` packs the installed ``opslab`` (its package files and metadata) into a wheel,
  where there is no repository (the capstone's Space, on Colab or in the grader's sandbox).
- :func:`write_requirements` writes ``requirements.txt`` (the vendored wheel with an extra) and
  ``constraints.txt`` (the pins); :func:`installed_pins` pins an extra's dependencies at the versions this
  environment runs.
- :func:`resolve` asks pip what installing the folder's requirements would install, offline
  (``pip install --dry-run --report --no-index --find-links wheels``): the check that the pins hold together.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import io
import json
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

WHEELS = "wheels"  # the folder's vendored wheels, next to requirements.txt
FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # zip entries' date: the same files give the same wheel


class VendorError(RuntimeError):
    """The wheel or the pins cannot be written; the message says why."""


def wheel_of_commit(repo: str | Path, commit: str, dest: str | Path) -> Path:
    """Build the ``opslab`` wheel of ``commit`` of the clone ``repo`` into ``dest`` (offline)."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(repo), "archive", "--format=tar", commit], capture_output=True)
    if archive.returncode != 0:
        raise VendorError(f"git archive {commit} failed: {archive.stderr.decode(errors='replace').strip()}")
    with tempfile.TemporaryDirectory(prefix="opslab-wheel-") as tree:
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(tree, filter="data")
        before = set(dest.glob("opslab-*.whl"))
        done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                               "--quiet", "--wheel-dir", str(dest), tree], capture_output=True, text=True)
        if done.returncode != 0:
            raise VendorError(f"building the wheel of {commit} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    built = sorted(set(dest.glob("opslab-*.whl")) - before) or sorted(dest.glob("opslab-*.whl"))
    if len(built) != 1:
        raise VendorError(f"expected one opslab wheel in {dest}, found {[p.name for p in built]}")
    return built[0]


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def wheel_of_installed(dest: str | Path) -> Path:
    """The installed ``opslab`` (its package's files, its metadata and entry points) as a wheel in ``dest``."""
    dist = metadata.distribution("opslab")
    spec = importlib.util.find_spec("opslab")
    if spec is None or not spec.submodule_search_locations:
        raise VendorError("opslab is not installed as a package")
    package = Path(list(spec.submodule_search_locations)[0])
    info = f"opslab-{dist.version}.dist-info"
    entries: dict[str, bytes] = {}
    for path in sorted(package.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            entries[f"opslab/{path.relative_to(package).as_posix()}"] = path.read_bytes()
    entries[f"{info}/METADATA"] = (dist.read_text("METADATA") or "").encode()
    if dist.read_text("entry_points.txt"):
        entries[f"{info}/entry_points.txt"] = dist.read_text("entry_points.txt").encode()
    entries[f"{info}/WHEEL"] = (b"Wheel-Version: 1.0\nGenerator: opslab.space.vendor\nRoot-Is-Purelib: true\n"
                                b"Tag: py3-none-any\n")
    record = "\n".join([*(_record_line(n, d) for n, d in entries.items()), f"{info}/RECORD,,"]) + "\n"
    entries[f"{info}/RECORD"] = record.encode()
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    wheel = dest / f"opslab-{dist.version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            item = zipfile.ZipInfo(name, FIXED_TIME)
            item.external_attr = 0o644 << 16
            item.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(item, data)
    return wheel


def installed_pins(extra: str) -> list[str]:
    """``name==version`` of every distribution ``opslab[extra]`` needs, at the versions installed here."""
    found, todo = {}, [(Requirement(f"opslab[{extra}]"), "")]
    while todo:
        requirement, via = todo.pop()
        if requirement.marker and not requirement.marker.evaluate({"extra": via}):
            continue
        name = canonicalize_name(requirement.name)
        for wanted in sorted(requirement.extras) or [""]:
            if (name, wanted) in found:
                continue
            try:
                dist = metadata.distribution(name)
            except metadata.PackageNotFoundError:
                raise VendorError(f"{name} (needed by opslab[{extra}]) is not installed here") from None
            found[(name, wanted)] = dist.version
            todo += [(Requirement(r), wanted) for r in dist.requires or []]
    return sorted({f"{name}=={version}" for (name, _), version in found.items() if name != "opslab"})


def write_requirements(folder: str | Path, wheel: Path, extra: str, pins: list[str], header: str) -> dict[str, Path]:
    """``requirements.txt`` (the vendored wheel with ``extra``) and ``constraints.txt`` (``pins``) in ``folder``."""
    folder = Path(folder)
    loose = [p for p in pins if not re.fullmatch(r"[A-Za-z0-9_.\-\[\],]+==[^\s=]+", p)]
    if loose:
        raise VendorError(f"these lines pin no single version: {', '.join(loose[:5])}")
    relative = wheel.resolve().relative_to(folder.resolve()).as_posix()
    requirements = folder / "requirements.txt"
    requirements.write_text(header + "# The course package: its wheel, vendored in this folder (it is on no index).\n"
                            + f"./{relative}[{extra}]\n")
    constraints = folder / "constraints.txt"
    constraints.write_text(header + "# Every other version, pinned.\n" + "\n".join(pins) + "\n")
    return {"requirements.txt": requirements, "constraints.txt": constraints}


def resolve(folder: str | Path, python: str = sys.executable) -> dict:
    """pip's report (``--dry-run --report``) of installing the folder's requirements with ``python``, offline:
    the vendored wheel from ``wheels/``, everything else only as already installed and pinned."""
    folder = Path(folder)
    done = subprocess.run(  # this pip, run for ``python``'s environment (which needs no pip of its own)
        [sys.executable, "-m", "pip", "--python", python, "install", "--dry-run", "--quiet", "--report", "-",
         "--no-index", "--find-links", str(folder / WHEELS),
         "--constraint", "constraints.txt", "--requirement", "requirements.txt"],
        cwd=folder, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise VendorError(f"pip cannot resolve {folder}'s requirements against its pins:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


__all__ = ["WHEELS", "VendorError", "installed_pins", "resolve", "wheel_of_commit", "wheel_of_installed",
           "write_requirements"]
