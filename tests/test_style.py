import subprocess
import sys

from conftest import REPO


def test_ruff_finds_nothing():
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "src", "tests", "scripts"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_recorded_durations_name_existing_test_files():
    from conftest import recorded_durations

    durations = recorded_durations()
    assert durations, "tests/durations.json is missing or empty: python scripts/record_durations.py"
    missing = sorted({unit.split("::")[0] for unit in durations if not (REPO / unit.split("::")[0]).is_file()})
    assert missing == [], f"tests/durations.json names test files that do not exist: {missing}"
    assert all(isinstance(s, (int, float)) and s >= 0 for s in durations.values())
