"""Grading across machines: ``opslab grade --shard K/N`` on each machine, ``opslab gradebook`` to merge,
the same gradebook and feedback as one machine; and the Kubernetes Indexed Job that runs the shards."""

from __future__ import annotations

import csv
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from opslab.cli import main
from opslab.grade.shard import parse_shard, pick
from test_grade import TINY, case_files

GRADING = Path(__file__).resolve().parents[1] / "deploy" / "k8s" / "grading"
CASES = ["full", "untouched", "partial", "raising", "os-exit", "corrupt-json", "another-lab"]


def rows(out: Path) -> list[dict]:
    with (out / "grades.csv").open() as f:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(f)]  # timings differ


def grade(*args) -> int:
    return main(["grade", *map(str, args), "--workers", "2", "--timeout", "60", "--no-self-check"])


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("shards")
    every = root / "every"
    every.mkdir()
    case_files(every, TINY, 1)
    subs = root / "subs"
    subs.mkdir()
    for name in CASES:
        shutil.copy(every / f"{name}.ipynb", subs / f"{name}.ipynb")
    assert grade(TINY, subs, "--out", root / "one") == 0
    for k in (1, 2, 3):
        assert grade(TINY, subs, "--out", root / f"shard-{k}", "--shard", f"{k}/3") == 0
    return root


def test_three_shards_merged_equal_one_run(graded, capsys):
    capsys.readouterr()
    shards = [graded / f"shard-{k}" for k in (3, 1, 2)]  # any order
    assert main(["gradebook", *map(str, shards), "--out", str(graded / "merged")]) == 0
    said = capsys.readouterr().out
    assert rows(graded / "merged") == rows(graded / "one")
    assert sorted(r["learner"] for r in rows(graded / "one")) == sorted(CASES)
    one = {p.name: p.read_bytes() for p in (graded / "one" / "feedback").iterdir()}
    merged = {p.name: p.read_bytes() for p in (graded / "merged" / "feedback").iterdir()}
    assert merged == one
    assert "graded 7 submissions" in said and "status:" in said


def test_each_shard_graded_only_its_share(graded):
    learners = [sorted(r["learner"] for r in rows(graded / f"shard-{k}")) for k in (1, 2, 3)]
    assert [len(x) for x in learners] == [3, 2, 2]
    assert sorted(sum(learners, [])) == sorted(CASES)


def test_missing_repeated_or_foreign_shards_are_refused(graded, tmp_path, capsys):
    s1, s2, s3 = (str(graded / f"shard-{k}") for k in (1, 2, 3))
    for shards, reason in [([s1, s2], "one each of 1..3; got 1, 2"), ([s1, s2, s2], "got 1, 2, 2"),
                           ([s1, s2, str(graded / "one")], "not a shard")]:
        capsys.readouterr()
        assert main(["gradebook", *shards, "--out", str(tmp_path / "m")]) == 2
        assert reason in capsys.readouterr().out
    assert not (tmp_path / "m" / "grades.csv").exists()


def test_shard_arguments_are_checked():
    assert parse_shard("2/4") == (2, 4)
    for bad in ("0/4", "5/4", "2", "a/b", ""):
        with pytest.raises(ValueError, match="K/N"):
            parse_shard(bad)
    subs = {f"learner{i:02d}": Path(f"{i}.ipynb") for i in range(10)}
    shares = [pick(subs, (k, 4)) for k in (1, 2, 3, 4)]
    assert sorted(sum((list(s) for s in shares), [])) == sorted(subs)


def test_the_indexed_job_runs_one_shard_per_pod_and_validates():
    from deploy_support import venv_tool

    path = GRADING / "indexed-job.yaml"
    done = subprocess.run([venv_tool("kubernetes-validate"), "-k", "1.32.0", "--strict", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    job = yaml.safe_load(path.read_text())
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed" and spec["completions"] == spec["parallelism"]
    script = " ".join(spec["template"]["spec"]["containers"][0]["args"])
    assert "JOB_COMPLETION_INDEX + 1" in script and f"--shard $K/{spec['completions']}" in script
    assert "opslab grade " in script and "--out /grading/out/shard-$K" in script


def test_the_grader_image_passes_hadolint_and_carries_bubblewrap():
    from deploy_support import venv_tool

    dockerfile = GRADING / "grader.Dockerfile"
    done = subprocess.run([venv_tool("hadolint"), "--no-color", str(dockerfile)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stdout
    text = dockerfile.read_text()
    assert "bubblewrap=" in text and 'ENTRYPOINT ["opslab", "grade"]' in text
    assert "COPY solutions" not in text and "COPY . " not in text  # no solutions in an image
