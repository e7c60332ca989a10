"""The suite's own machinery: what is made once per run, the order of its units of work
(tests/conftest.py), the record of their durations (scripts/record_durations.py), and a light ``import opslab``."""

import json
import subprocess
import sys

import pytest
from record_durations import durations_of, main, merged, unit_of

from conftest import longest_first, once_per_run

GRADING = "tests/test_grade_labs_m4.py::test_learner_version[m4_cicd]"
DVC = "tests/test_grade_labs_m4.py::test_learner_version[m4_dvc]"


def test_a_grading_file_splits_into_one_unit_per_lab_other_files_stay_whole():
    assert unit_of(GRADING) == GRADING
    assert unit_of("tests/test_serve_api.py::test_predict[one]") == "tests/test_serve_api.py"
    assert unit_of("tests/test_grade.py::test_x") == "tests/test_grade.py"


def test_units_run_longest_first_unknown_ones_at_the_median_ties_as_collected():
    recorded = {"a": 10.0, "b": 300.0, "c": 1.0}
    assert longest_first(["a", "b", "c", "new"], recorded) == ["b", "a", "new", "c"]
    assert longest_first(["x", "y", "x"], {}) == ["x", "y"]


def test_once_per_run_makes_a_private_folder_once_and_again_after_a_failed_make():
    made = []

    def make(folder):
        made.append(folder)
        (folder / "thing").write_text("made")

    first, second = once_per_run("order-test", make), once_per_run("order-test", make)
    assert first == second and len(made) == 1 and (first / "thing").read_text() == "made"
    assert first.stat().st_mode & 0o777 == 0o700

    def broken(folder):
        (folder / "half").touch()
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        once_per_run("order-test-broken", broken)
    again = once_per_run("order-test-broken", make)
    assert not (again / "half").exists() and (again / "thing").is_file()


JUNIT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">
<testcase classname="tests.test_a" name="test_one" time="1.5"/>
<testcase classname="tests.test_a.TestGroup" name="test_two" time="2.0"><skipped message="no"/></testcase>
<testcase classname="tests.test_grade_labs_m4" name="test_learner_version[m4_cicd]" time="300.25"/>
<testcase classname="tests.test_grade_labs_m4" name="test_learner_version[m4_dvc]" time="90"/>
<testcase classname="elsewhere.test_b" name="test_three" time="7"/>
</testsuite></testsuites>"""


@pytest.fixture
def repo(tmp_path):
    (tmp_path / "tests").mkdir()
    for name in ("test_a.py", "test_grade_labs_m4.py", "test_kept.py"):
        (tmp_path / "tests" / name).write_text("")
    (tmp_path / "run.xml").write_text(JUNIT)
    return tmp_path


def test_a_junit_report_gives_seconds_per_unit_for_the_repositorys_tests_only(repo):
    assert durations_of(repo / "run.xml", repo) == {
        "tests/test_a.py": 3.5, GRADING: 300.25, DVC: 90.0}


def test_the_record_keeps_units_not_measured_drops_gone_files_and_lists_longest_first(repo):
    recorded = {"tests/test_kept.py": 4.0, "tests/test_gone.py": 50.0, "tests/test_a.py": 99.0}
    result = merged(recorded, durations_of(repo / "run.xml", repo), repo)
    expected = [(GRADING, 300.2), (DVC, 90.0), ("tests/test_kept.py", 4.0), ("tests/test_a.py", 3.5)]
    assert list(result.items()) == expected


def test_the_script_updates_the_record_from_reports(tmp_path):
    out = tmp_path / "durations.json"
    junit = tmp_path / "run.xml"
    junit.write_text(JUNIT.replace("tests.test_a", "tests.test_style"))  # a real file of this repository
    assert main([str(junit), "--out", str(out)]) == 0
    recorded = {GRADING: 300.2, DVC: 90.0, "tests/test_style.py": 3.5}
    assert json.loads(out.read_text()) == recorded and list(json.loads(out.read_text())) == list(recorded)
    junit.write_text("<testsuites/>")
    assert main([str(junit), "--out", str(out)]) == 1  # nothing measured: the record stays
    assert json.loads(out.read_text()) == recorded


def test_import_opslab_is_light_and_its_names_still_import():
    light = subprocess.run([sys.executable, "-c", "import opslab, sys; assert 'pandas' not in sys.modules, 'pandas'"],
                           capture_output=True, text=True)
    assert light.returncode == 0, light.stderr
    names = ("from opslab import FEATURES, TARGET, make_customers, make_traffic, setup_lab, data; "
             "import opslab, opslab.data, opslab.env; "
             "assert opslab.make_customers is opslab.data.make_customers and opslab.setup_lab is opslab.env.setup_lab; "
             "assert set(opslab.__all__) <= set(dir(opslab)); "
             "import pytest; pytest.raises(AttributeError, getattr, opslab, 'no_such_name')")
    done = subprocess.run([sys.executable, "-c", names], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
