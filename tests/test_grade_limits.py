"""One submission cannot hurt another or the batch, and the grader's edges hold (issue 19, items 7 and 9).

One batch of the tiny fixture lab (tests/fixtures/tiny.ipynb) holds a disk filler, a CPU hog and an
output flood next to four correct submissions whose file names are hostile (bytes that are not
UTF-8, ``=1+1``, a leading ``-``, ``#?%`` and a newline); it runs through ``opslab grade`` in a process
of its own, whose peak memory it prints. The other tests try one limit or one defect each.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pytest

from opslab.assign import render
from opslab.assign.markers import BEGIN, END, PROMPT
from opslab.grade import cgroup
from opslab.grade.collect import find_submissions, learner_id
from opslab.grade.report import Grade, RenderLimit, render_notebook, write_csv
from opslab.grade.sandbox import Limits, Workspace, claim_uids, jail_argv, kill_user, probe_isolation, sandbox_report

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests" / "fixtures" / "tiny.ipynb"
EXERCISES = ("tiny-04", "tiny-08", "tiny-11")  # double, mean, hello: 2 + 3 + 1 points

# four correct submissions, named as no spreadsheet or file system tool expects
HONEST = {b"caf\xe9-latin1": "caf%E9-latin1", b"=1+1": "=1+1", b"-rf ada": "-rf ada",
          b"#?%\nnewline": "#?%25%0Anewline"}
FILL = ("import os\nwritten, files, errors = 0, 0, []\ntry:\n    for i in range(16):  # 256 MB at most, quota or not\n"
        "        with open(f'fill-{i}.bin', 'wb') as f:\n            for _ in range(16):\n"
        "                f.write(b'x' * 2**20)\n                written += 1\nexcept OSError as err:\n"
        "    errors.append(f'disk: {err}')\ntry:\n    os.mkdir('many')\n    for n in range(20_000):\n"
        "        open(f'many/{n}', 'w').close()\n        files += 1\nexcept OSError as err:\n"
        "    errors.append(f'files: {err}')\nprint('FILLED', written, 'MB', files, 'files', errors)\n")
HOG = ("import subprocess, sys, time\nspin = 'import time\\nend = time.time() + 30\\nwhile time.time() < end: pass'\n"
       "for _ in range(3):  # in sessions of their own, still running when the notebook ends\n"
       "    subprocess.Popen([sys.executable, '-c', spin], start_new_session=True)\n"
       "end = time.time() + 6\nwhile time.time() < end:\n    pass\n")
FLOOD = ("from IPython.display import display\nhandle = display({'text/plain': 'start'}, raw=True, display_id=True)\n"
         "for _ in range(5):  # each update rewrites that output in place, 1 MB each\n"
         "    handle.update({'text/plain': 'y' * 1_000_000}, raw=True)\n")
FLOOD_CELL = "print('z' * 190_000)"  # under a cell's cap, but 60 of them pass the notebook's


def solved(cell_id: str) -> str:
    cell = next(c for c in nbformat.read(TINY, as_version=4).cells if c.id == cell_id)
    return "\n".join(line for line in cell.source.splitlines()
                     if not (BEGIN.match(line) or END.match(line) or PROMPT.match(line)))


def all_solved(first: str = ""):
    """The learner version with every exercise solved, ``first`` run before the first one."""
    nb = nbformat.reads(render(TINY, "https://example.org/repo"), as_version=4)
    for cell in nb.cells:
        if cell.id in EXERCISES:
            cell.source = (first + "\n" if cell.id == EXERCISES[0] else "") + solved(cell.id)
    return nb


def batch_files(folder: Path) -> None:
    def put(name: bytes, nb) -> None:
        with open(os.fsencode(folder) + b"/" + name + b".ipynb", "wb") as f:
            f.write(nbformat.writes(nb).encode())

    for name in HONEST:
        put(name, all_solved())
    deep = all_solved()
    deep.cells.insert(1, nbformat.v4.new_markdown_cell("<div>" * 30_000 + "deep" + "</div>" * 30_000))
    put(b"deep-markdown", deep)
    put(b"disk-filler", all_solved(FILL))
    put(b"cpu-hog", all_solved(HOG))
    flood = all_solved(FLOOD)
    flood.cells += [nbformat.v4.new_code_cell(FLOOD_CELL) for _ in range(60)]
    put(b"output-flood", flood)


MEASURED = ("import resource, sys\nfrom opslab.cli import main\ncode = main(sys.argv[1:])\n"
            "print('PEAK_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\nsys.exit(code)\n")


@pytest.fixture(scope="module")
def batch():
    isolation = probe_isolation()
    if not (isolation.disk_quota and isolation.cpu):
        pytest.skip("per-submission disk quota and CPU limit need root and cgroups")
    root = Path(tempfile.mkdtemp(prefix="opslab-limits-test-"))
    root.chmod(0o755)
    try:
        (root / "subs").mkdir()
        batch_files(root / "subs")
        shutil.copy(TINY, root / "tiny.ipynb")
        done = subprocess.run([sys.executable, "-c", MEASURED, "grade", str(root / "tiny.ipynb"), str(root / "subs"),
                               "--out", str(root / "out"), "--workers", "2", "--timeout", "60",
                               "--cell-timeout", "30", "--memory-mb", "2048", "--disk-mb", "64", "--files", "2000",
                               "--cpus", "0.5"], capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        with (root / "out" / "grades.csv").open(newline="", encoding="utf-8", errors="strict") as f:
            rows = list(csv.DictReader(f))
        yield {"root": root, "out": root / "out", "rows": rows, "stdout": done.stdout,
               "by_learner": {row["learner"].removeprefix("'"): row for row in rows}}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_honest_submissions_get_full_marks_next_to_a_filler_a_hog_and_a_flood(batch):
    rows = batch["by_learner"]
    for learner in [*HONEST.values(), "deep-markdown"]:
        assert (rows[learner]["status"], rows[learner]["total"]) == ("ok", "6"), rows[learner]
    for learner in ("disk-filler", "cpu-hog", "output-flood"):
        assert rows[learner]["status"] in ("ok", "timeout"), rows[learner]


def test_the_disk_filler_stops_at_its_own_quota(batch):
    executed = (batch["out"] / "feedback" / "disk-filler.ipynb").read_text()
    said = next(line for line in executed.splitlines() if "FILLED" in line)
    assert "disk: [Errno 28] No space left on device" in said, said
    assert "files: [Errno 28] No space left on device" in said, said
    written = int(said.split("FILLED")[1].split()[0])
    assert written <= 64, said  # 64 MB, not the 256 it tried


def test_the_cpu_hog_and_what_it_started_are_gone(batch):
    rows = batch["by_learner"]
    assert "left 3 process(es) running" in rows["cpu-hog"]["detail"], rows["cpu-hog"]["detail"]
    spinning = [p for p in Path("/proc").glob("[0-9]*/cmdline") if b"time.time() + 30" in read(p)]
    assert spinning == []


def read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


def test_display_updates_and_the_whole_notebook_are_capped(batch):
    feedback = batch["out"] / "feedback"
    executed = (feedback / "output-flood.ipynb").read_text()
    assert len(executed) < 11 * 2**20, len(executed)  # not all of 60 x 190 kB
    assert "y" * 1000 not in executed  # no update larger than a cell's cap replaced an output
    assert "output beyond 200 kB of this cell was dropped" in executed
    assert "output beyond 10240 kB of this notebook was dropped" in executed
    assert (feedback / "output-flood.html").stat().st_size < 13 * 2**20


def test_the_grader_peak_memory_stays_under_a_gigabyte(batch):
    peak_kb = int(batch["stdout"].split("PEAK_KB")[1].split()[0])
    assert peak_kb < 2**20, f"the grader's peak memory was {peak_kb // 1024} MB"


def test_every_hostile_name_has_its_row_and_a_csv_that_runs_no_formula(batch):
    rows = batch["rows"]
    learners = [row["learner"] for row in rows]
    assert sorted(learners) == sorted(["'=1+1", "'-rf ada", "caf%E9-latin1", "#?%25%0Anewline", "deep-markdown",
                                       "disk-filler", "cpu-hog", "output-flood"])
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), row
    names = os.listdir(os.fsencode(batch["out"] / "feedback"))
    for name in names:
        name.decode("utf-8")  # strict: every file the grader wrote has a UTF-8 name
    assert {n.decode() for n in names} >= {f"{learner}.html" for learner in HONEST.values()}
    page = (batch["out"] / "feedback" / "#?%25%0Anewline.html").read_text()
    assert 'href="%23%3F%2525%250Anewline.ipynb"' in page  # the link finds the notebook


def test_a_markdown_cell_nested_30000_deep_is_shown_as_text(batch):
    page = (batch["out"] / "feedback" / "deep-markdown.html").read_text()
    assert "this cell nests too deeply; shown as text" in page
    assert page.count("<div>") < 100  # the 30,000 divs are escaped text, not elements


def test_csv_cells_never_start_a_formula(tmp_path):
    grades = [Grade(name, "ok", [], 1.0, detail) for name, detail in
              [("=HYPERLINK(1)", "+1"), ("@SUM(A1)", "-2"), ("\tx", "\rx"), ("ada", "fine")]]
    write_csv(grades, [], tmp_path / "g.csv", "=isolation")
    with (tmp_path / "g.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [(r["learner"], r["detail"]) for r in rows] == [
        ("'=HYPERLINK(1)", "'+1"), ("'@SUM(A1)", "'-2"), ("'\tx", "\nx"), ("ada", "fine")]
    assert {r["isolation"] for r in rows} == {"'=isolation"}


def test_learner_ids_are_utf8_distinct_and_fit_a_file_name(tmp_path):
    names = [b"ada", b"caf\xe9", b"caf\xc3\xa9", b"caf%E9", b"x" * 249, b"x" * 248 + b"y", b".hidden", b"a\x1b[31m",
             b"\xff\xfe"]
    for name in names:
        (Path(os.fsdecode(os.fsencode(tmp_path) + b"/" + name + b".ipynb"))).write_text("{}")
    (tmp_path / "not-a-notebook.txt").write_text("")
    found = find_submissions(tmp_path)
    assert len(found) == len(names)  # every name graded, hidden or not, none merged with another
    for learner in found:
        assert len(learner.encode("utf-8")) <= 200 and learner.isprintable() and "/" not in learner
    assert learner_id(os.fsdecode(b"caf\xe9")) == "caf%E9" and learner_id("caf%E9") == "caf%25E9"
    assert learner_id("café") == "café"


def test_rendering_is_bounded_in_depth_size_and_time():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("<div>" * 5000 + "x"),
        nbformat.v4.new_markdown_cell("> " * 500 + "quoted"),
        nbformat.v4.new_markdown_cell("## fine\n<b>bold</b>"),
        nbformat.v4.new_code_cell("a = 1\n" * 4_000)])
    body = render_notebook(nb)
    assert body.count("this cell nests too deeply; shown as text") == 2 and "<b>bold</b>" in body
    assert "more characters not shown" in body
    with pytest.raises(RenderLimit, match="longer than"):
        render_notebook(nb, seconds=0.001)


def test_a_workspace_of_its_own_size_and_file_count(tmp_path):
    if not probe_isolation().disk_quota:
        pytest.skip("a working folder of its own (tmpfs) needs root")
    workspace = Workspace(tmp_path / "ws", 0, disk_mb=4, files=50)
    workspace.create()
    try:
        with pytest.raises(OSError, match="No space left"):
            (workspace.work / "big").write_bytes(b"x" * 5 * 2**20)
        (workspace.work / "big").unlink()
        with pytest.raises(OSError, match="No space left"):
            for n in range(60):
                (workspace.work / f"f{n}").write_text("")
    finally:
        workspace.remove()
    assert not workspace.root.exists()


def test_the_cpu_limit_holds_for_everything_a_submission_starts(tmp_path):
    """Three processes (two in sessions of their own) spin for 1.5 s each under a limit of 0.2 cores:
    together they get about 0.3 s of CPU, not 4.5."""
    if not probe_isolation().cpu:
        pytest.skip("no CPU controller here (needs root and cgroups)")
    (uid, lock), = claim_uids(1)
    root = Path(tempfile.mkdtemp(prefix="opslab-cpu-test-"))
    root.chmod(0o755)
    workspace = Workspace(root / "ws", uid)
    workspace.create()
    groups = cgroup.create(f"cpu-test-{root.name}", 512 * 2**20, 32, cpus=0.2)
    spin = "import time\nend = time.time() + 1.5\nwhile time.time() < end: pass"
    parent = ("import os, subprocess, sys\n"
              f"kids = [subprocess.Popen([sys.executable, '-c', {spin!r}], start_new_session=True) for _ in range(2)]\n"
              f"exec({spin!r})\n[k.wait() for k in kids]\nt = os.times()\n"
              "print(t.user + t.system + t.children_user + t.children_system)")
    try:
        done = subprocess.run([*jail_argv(workspace, Limits(), True, connection_file=None, cgroups=tuple(groups)),
                               sys.executable, "-c", parent], capture_output=True, text=True, timeout=60)
    finally:
        cgroup.kill(groups)
        cgroup.remove(groups)
        lock.close()
        workspace.remove()
        shutil.rmtree(root, ignore_errors=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert float(done.stdout.split()[-1]) < 1.0, done.stdout


def test_the_executor_log_holds_what_the_executor_wrote(tmp_path):
    from opslab.grade.executor import ExecutorProcess

    executor = ExecutorProcess(tmp_path / "executor.log")
    try:
        assert executor.run({"not": "a job"}, timeout=60)["status"] == "error"
        time.sleep(0.2)
        assert "KeyError: 'out'" in executor.log_tail(), executor.log_tail()
    finally:
        executor.stop()


def test_the_probe_would_see_its_canary_without_the_hiding_rule():
    """The probe's hidden folder sits in a folder the sandbox shows (not in /tmp, which the sandbox
    replaces anyway): only the --hide rule keeps it out of sight, so the probe tests that rule."""
    if not probe_isolation().sandbox:
        pytest.skip("bubblewrap cannot run here")
    assert sandbox_report(hide=False)["hidden_seen"] == ["secret"]
    hidden = sandbox_report()
    assert hidden["hidden_seen"] == [] and hidden["shown_seen"]


def own_user_only():
    if not probe_isolation().own_user:
        pytest.skip("needs root (a user id per submission)")


def test_kill_user_never_forks(monkeypatch):
    own_user_only()
    (uid, lock), = claim_uids(1)
    try:
        sleeper = subprocess.Popen(["sleep", "60"], user=uid, group=uid, start_new_session=True)

        def no_fork():
            raise AssertionError("kill_user forked")

        monkeypatch.setattr(os, "fork", no_fork)
        kill_user(uid)
        assert sleeper.wait(timeout=10) == -9
    finally:
        lock.close()


def test_reuse_hands_a_tree_deeper_than_path_max_to_the_new_user(tmp_path):
    own_user_only()
    claimed = claim_uids(2)
    (first, _), (second, _) = claimed
    outside = tmp_path / "outside"
    outside.write_text("root's")
    workspace = Workspace(tmp_path / "ws", first)
    workspace.create()
    try:
        folder = os.open(workspace.work, os.O_RDONLY)
        for _ in range(50):  # 50 x 100 characters: no path to the bottom fits in PATH_MAX (4096)
            os.mkdir("d" * 100, dir_fd=folder)
            inner = os.open("d" * 100, os.O_RDONLY, dir_fd=folder)
            os.close(folder)
            folder = inner
        os.close(os.open("bottom", os.O_WRONLY | os.O_CREAT, dir_fd=folder))
        os.symlink(outside, "link", dir_fd=folder)
        os.close(folder)
        for top, dirs, files, fd in os.fwalk(workspace.work):
            os.chown(fd, first, first)
            for name in dirs + files:
                os.chown(name, first, first, dir_fd=fd, follow_symlinks=False)
        Workspace(workspace.root, second).reuse()
        owners = set()
        for top, dirs, files, fd in os.fwalk(workspace.work):
            owners.add(os.stat(fd).st_uid)
            owners |= {os.stat(name, dir_fd=fd, follow_symlinks=False).st_uid for name in dirs + files}
        assert owners == {second}
        assert outside.stat().st_uid == 0  # the link was handed over, not what it points to
    finally:
        workspace.remove()
        for _, lock in claimed:
            lock.close()


def test_a_grader_that_finds_no_free_uid_leaves_no_scratch_folder(tmp_path, monkeypatch):
    from opslab.grade import batch
    from opslab.grade.sandbox import Isolation

    def none_free(count):
        raise RuntimeError("no free sandbox user id")

    monkeypatch.setattr(batch, "claim_uids", none_free)
    isolation = Isolation(own_user=True, no_network=True, sandbox=True, hidden=True, private_tmp=True)
    with pytest.raises(RuntimeError, match="no free sandbox user id"):
        batch.Grader(TINY, Limits(), isolation, scratch=tmp_path)
    assert list(tmp_path.iterdir()) == []


STALE = ("import os, subprocess, sys\nfrom opslab.grade import cgroup\n"
         "groups = cgroup.create('left-behind', 256 * 2**20, 16)\n"
         "sleeper = subprocess.Popen(['sleep', '300'], start_new_session=True, stdout=subprocess.DEVNULL,\n"
         "                           stderr=subprocess.DEVNULL)\n"
         "for folder in groups:\n    open(os.path.join(folder, 'cgroup.procs'), 'w').write(str(sleeper.pid))\n"
         "print(sleeper.pid, *groups)\nos._exit(0)  # killed: nothing cleaned up\n")


def test_cgroups_a_killed_grader_left_are_swept_by_the_next_one():
    if not probe_isolation().whole_memory:
        pytest.skip("no writable cgroups here")
    pid, *groups = subprocess.run([sys.executable, "-c", STALE], capture_output=True, text=True,
                                  check=True).stdout.split()
    assert groups and all(os.path.isdir(g) for g in groups)
    subprocess.run([sys.executable, "-c", "from opslab.grade.sandbox import probe_isolation; probe_isolation()"],
                   check=True, timeout=120)
    assert [g for g in groups if os.path.exists(g)] == []
    for _ in range(100):
        state = read(Path(f"/proc/{pid}/stat")).decode()
        if not state or state[state.rindex(")") + 2] in "ZX":
            break
        time.sleep(0.05)
    else:
        pytest.fail(f"the process left in a stale cgroup ({pid}) still runs")


def test_a_bug_in_the_grader_keeps_its_traceback(tmp_path, monkeypatch, caplog):
    from opslab.grade import batch

    def broken(*args):
        raise RuntimeError("a bug of the grader")

    monkeypatch.setattr(batch, "graded_notebook", broken)
    (tmp_path / "ada.ipynb").write_text(nbformat.writes(all_solved()))
    grader = batch.Grader(TINY, Limits(), probe_isolation(), workers=1, allow_weak=True)
    try:
        grade = grader.grade("ada", tmp_path / "ada.ipynb")
    finally:
        grader.close()
    assert grade.status == "error"
    assert "RuntimeError: a bug of the grader (at test_grade_limits.py:" in grade.detail, grade.detail
    assert "in broken)" in grade.detail
    assert "Traceback (most recent call last)" in caplog.text and "def broken" not in grade.detail


def test_a_shard_merge_keeps_the_csv_safe(tmp_path):
    from opslab.grade.shard import merge

    for k, learner in ((1, "=1+1"), (2, "ada")):
        folder = tmp_path / f"s{k}"
        (folder / "feedback").mkdir(parents=True)
        write_csv([Grade(learner, "ok", [], 1.0)], [], folder / "grades.csv")
        (folder / "shard.json").write_text(json.dumps({"lab": "tiny", "shard": [k, 2], "submissions": 2,
                                                       "learners": [learner], "questions": [], "isolation": ""}))
    rows, _ = merge([tmp_path / "s1", tmp_path / "s2"], tmp_path / "merged")
    with (tmp_path / "merged" / "grades.csv").open(encoding="utf-8") as f:
        assert [row["learner"] for row in csv.DictReader(f)] == ["'=1+1", "ada"]


def test_working_folders_a_killed_grader_left_mounted_are_swept(tmp_path):
    from opslab.grade.batch import Grader
    from opslab.grade.sandbox import SCRATCH_PREFIX

    if not probe_isolation().disk_quota:
        pytest.skip("working folders of their own (tmpfs) need root")
    gone = subprocess.run(["sh", "-c", "echo $$"], capture_output=True, text=True).stdout.strip()  # a dead pid
    left = Workspace(tmp_path / f"{SCRATCH_PREFIX}{gone}-abcd" / "0-token", 0, disk_mb=4, files=50)
    left.create()
    running = tmp_path / f"{SCRATCH_PREFIX}{os.getpid()}-efgh"  # a live grader's: never touched
    running.mkdir()
    assert os.path.ismount(left.work)
    grader = Grader(TINY, Limits(), probe_isolation(), workers=1, scratch=tmp_path, allow_weak=True)
    try:
        assert not os.path.ismount(left.work) and not left.root.parent.exists()
        assert running.is_dir() and grader.scratch.is_dir()
    finally:
        grader.close()


def test_a_notebook_whose_json_escapes_a_lone_surrogate_is_unreadable_not_a_crash(tmp_path):
    from opslab.grade.collect import UnreadableSubmission, read_submission

    text = nbformat.writes(all_solved()).replace("def double(x):", "def double(x):  # \\ud800", 1)
    (tmp_path / "s.ipynb").write_text(text)
    with pytest.raises(UnreadableSubmission, match="not valid Unicode"):
        read_submission(tmp_path / "s.ipynb")


def test_kept_working_folders_are_unmounted_when_the_grader_closes(tmp_path):
    from opslab.grade.batch import Grader

    if not probe_isolation().disk_quota:
        pytest.skip("working folders of their own (tmpfs) need root")
    (tmp_path / "ada.ipynb").write_text(nbformat.writes(all_solved()))
    grader = Grader(TINY, Limits(notebook_seconds=60, cell_seconds=30), probe_isolation(), workers=1,
                    keep_workspaces=True)
    try:
        grader.self_check()  # the judge's reference
        assert grader.grade("ada", tmp_path / "ada.ipynb").total == 6
        assert os.path.ismount(grader.workspaces["ada"])
    finally:
        grader.close()
    assert not os.path.ismount(grader.workspaces["ada"]) and not grader.scratch.exists()
