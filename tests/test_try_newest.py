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
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "try_newest.py"), "--dry-run", "--out", str(out),
         "--requirements-in", str(requirements_in), "--pins", str(pins),
         "--pip-args", f"--no-index --find-links {index}"],
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
