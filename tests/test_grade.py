"""opslab grade on hostile submissions: every case gets the expected status and points.

The submissions are generated here from the tiny fixture lab (tests/fixtures/tiny.ipynb), graded
in ONE batch (two at a time, as an instructor would), and each test reads its row.
Questions of the tiny lab: tiny-double (2 points), tiny-mean (3), tiny-hello (1, no public check).
Each is decided by its judge cell in the judge process; a hostile case gets exactly the points its
honest part earns, whatever it does to its own kernel.
"""

from __future__ import annotations

import csv
import json
import shutil
import socket
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from opslab.assign import render
from opslab.assign.markers import BEGIN, END, PROMPT
from opslab.cli import main
from opslab.grade.batch import Grader, grade_all
from opslab.grade.sandbox import Limits, probe_isolation

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests" / "fixtures" / "tiny.ipynb"
DOUBLE, MEAN, HELLO = "tiny-04", "tiny-08", "tiny-11"  # ids of the three exercise cells
CHECK_DOUBLE, CHECK_MEAN = "tiny-05", "tiny-09"
LIMITS = Limits(notebook_seconds=30, cell_seconds=10, memory_mb=2048)  # generous: CI machines are busy


def solved(cell_id: str) -> str:
    """The solution's code of an exercise cell, markers and prompts removed."""
    cell = next(c for c in nbformat.read(TINY, as_version=4).cells if c.id == cell_id)
    return "\n".join(line for line in cell.source.splitlines()
                     if not (BEGIN.match(line) or END.match(line) or PROMPT.match(line)))


def lab():
    return nbformat.reads(render(TINY, "https://example.org/repo"), as_version=4)


def submission(*, drop=(), **sources):
    """The learner version with some cells' sources replaced (keyword: cell id with - as _)."""
    nb = lab()
    replace = {k.replace("_", "-"): v for k, v in sources.items()}
    nb.cells = [c for c in nb.cells if c.id not in drop]
    for cell in nb.cells:
        if cell.id in replace:
            cell.source = replace[cell.id]
    return nb


def all_solved(**overrides):
    return submission(**{"tiny_04": solved(DOUBLE), "tiny_08": solved(MEAN), "tiny_11": solved(HELLO), **overrides})


def case_files(folder: Path, solution_copy: Path, host_port: int) -> dict[str, tuple[str, int]]:
    """Write every case into ``folder``; return learner -> (expected status, expected total)."""
    def put(name, nb):
        (folder / f"{name}.ipynb").write_text(nbformat.writes(nb) if not isinstance(nb, str) else nb)

    expected = {}

    def case(name, nb, status, total):
        put(name, nb)
        expected[name] = (status, total)

    case("full", all_solved(), "ok", 6)
    case("untouched", lab(), "ok", 0)
    case("partial", submission(tiny_04=solved(DOUBLE)), "ok", 2)
    case("raising", all_solved(tiny_04="def double(x):\n    raise ValueError('oops')"), "ok", 4)
    case("infinite-loop", all_solved(tiny_08="while True:\n    pass"), "timeout", 3)
    case("ignores-interrupt", all_solved(tiny_08="import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                                                 "while True:\n    pass"), "timeout", 2)
    slow = all_solved()
    at = next(i for i, c in enumerate(slow.cells) if c.id == MEAN) + 1
    slow.cells[at:at] = [nbformat.v4.new_code_cell("import time\ntime.sleep(8)") for _ in range(6)]
    case("slow-everywhere", slow, "timeout", 2)  # six 8 s cells: each within its cell limit, not in total
    case("sys-exit", all_solved(tiny_04=solved(DOUBLE) + "\nimport sys\nsys.exit(3)"), "ok", 6)
    case("os-exit", all_solved(tiny_08="import os\nos._exit(0)"), "crashed", 2)
    # bytes(n) asks for n bytes at once (calloc: no page is touched), so the limit, not the machine's
    # speed, decides: a MemoryError within a second, even on a busy machine
    case("memory-bomb", all_solved(tiny_08="hog = []\nwhile True:\n    hog.append(bytes(256 * 2**20))"),
         "ok", 3)
    case("megabytes", all_solved(tiny_11=solved(HELLO) + "\nfor _ in range(50):\n    print('x' * 200_000)"),
         "ok", 6)
    attack = (f"import os, shutil\nfor target in [{str(solution_copy)!r}, {str(TINY)!r}]:\n"
              "    try:\n        open(target, 'w').write('owned')\n    except OSError as err:\n        print(err)\n"
              "shutil.rmtree(os.getcwd(), ignore_errors=True)\n"
              "open(os.path.expanduser('~/junk.txt'), 'w').write('junk')\n")
    case("writes-files", all_solved(tiny_04=attack + solved(DOUBLE)), "ok", 6)
    phone = ("import socket\ntry:\n    socket.create_connection(('127.0.0.1', PORT), timeout=2).close()\n"
             "    online = True\nexcept OSError:\n    online = False\n"
             "def double(x):\n    return x if online else 2 * x  # reaching the host's network costs the points\n")
    snoop = (f"seen = []\nfor path in [{str(solution_copy)!r}, {str(folder / 'full.ipynb')!r}, {str(TINY)!r}]:\n"
             "    try:\n        seen.append(open(path).read())\n    except OSError:\n        pass\n"
             "def double(x):\n    return x if seen else 2 * x  # reading the solution or a classmate costs points\n")
    daemon = ("import subprocess, sys\nsubprocess.Popen([sys.executable, '-c', 'import time; time.sleep(900)',"
              " 'opslab-test-daemon'], start_new_session=True)\n")
    case("daemon", all_solved(tiny_04=daemon + solved(DOUBLE)), "ok", 6)
    own_ipython = ("import os\nfrom IPython import get_ipython\n"
                   "own = get_ipython().ipython_dir == os.path.join(os.environ['HOME'], '.ipython')\n"
                   "def double(x):\n    return 2 * x if own else x  # IPython fell back to a temp folder\n")
    case("own-ipython-folder", all_solved(tiny_04=own_ipython), "ok", 6)
    case("reads-solution", all_solved(tiny_04=snoop), "ok", 6)  # readable by anyone: only the sandbox hides it
    case("network", all_solved(tiny_04=phone.replace("PORT", str(host_port))), "ok", 6)
    case("patches-check", all_solved(tiny_04="import contextlib, opslab.checks\n"
                                             "opslab.checks.check = lambda *a, **k: contextlib.suppress(Exception)\n"
                                             "check = opslab.checks.check\ndef double(x):\n    return x"), "ok", 4)
    case("fakes-checks-module", all_solved(tiny_04="import sys, types, contextlib\nfake = types.ModuleType('x')\n"
                                                   "fake.check = lambda *a, **k: contextlib.suppress(Exception)\n"
                                                   "fake.CheckFailed = AssertionError\n"
                                                   "sys.modules['opslab.checks'] = fake\n"
                                                   "def double(x):\n    return x"), "ok", 4)
    case("patches-helper", all_solved(tiny_08="import opslab.data\nopslab.data.make_customers = lambda *a, **k: 0\n"
                                              + solved(MEAN)), "ok", 6)  # the judge uses none of the kernel's
    # the course's git history and its other copies are out of the sandbox's sight, not only solutions/
    git_show = (f"import subprocess\nshown = subprocess.run(['git', '-c', 'safe.directory=*', '-C', {str(REPO)!r}, "
                "'show', 'HEAD:tests/fixtures/tiny.ipynb'], capture_output=True, text=True).stdout\n"
                "def double(x):\n    return x if 'SECRET' in shown else 2 * x  # reading the solution costs points\n")
    case("git-show-solution", all_solved(tiny_04=git_show), "ok", 6)
    # routes that fooled the in-kernel grading of old: the kernel now decides nothing, so each earns
    # exactly what its honest part earns (double(x) returning x earns nothing: 4 of 6)
    rewrite = ("def gut(lines):\n    return ['pass\\n'] if lines and 'ANSWER' in ''.join(lines) else lines\n"
               "get_ipython().input_transformers_cleanup.append(gut)\ndef double(x):\n    return x\n")
    case("input-transformer", all_solved(tiny_04=rewrite), "ok", 0)  # it blanked its own answers: none judged
    ast_gut = ("import ast\nclass Gut(ast.NodeTransformer):\n    def visit_Assert(self, node):\n"
               "        return ast.Pass()\nget_ipython().ast_transformers.append(Gut())\n"
               "get_ipython().ast_transformers = [Gut()]\ndef double(x):\n    return x\n")
    case("ast-transformer", all_solved(tiny_04=ast_gut), "ok", 4)
    spy = ("seen = []\ndef spy(info=None, *rest):\n    seen.append(getattr(info, 'raw_cell', ''))\n"
           "get_ipython().events.register('pre_run_cell', spy)\n"
           "get_ipython().events.callbacks['post_run_cell'] = [spy]\n")
    case("event-hooks", all_solved(tiny_04=spy + solved(DOUBLE), tiny_11=solved(HELLO) + "\nprint(seen)"), "ok", 6)
    case("custom-exception-handler", all_solved(tiny_04="get_ipython().set_custom_exc((BaseException,), "
                                                        "lambda *a, **k: None)\ndef double(x):\n    return x"),
         "ok", 4)
    case("trace-function", all_solved(tiny_04="import sys\nsys.settrace(lambda *a: None)\n" + solved(DOUBLE)),
         "ok", 6)
    case("walks-gc", all_solved(tiny_04="import gc\nfound = len(gc.get_objects())\n" + solved(DOUBLE)), "ok", 6)
    lenient = ("kernel = get_ipython().kernel\nreal = kernel.do_execute\n"
               "async def lenient(code, *args, **kwargs):\n    reply = await real(code, *args, **kwargs)\n"
               "    reply['status'] = 'ok'\n    return reply\nkernel.do_execute = lenient\n"
               "def double(x):\n    return x\n")
    case("patches-kernel", all_solved(tiny_04=lenient), "ok", 4)
    # every route of issue 19: the result object, the session, the compiler, lying values, frames
    always_ok = ("from IPython.core.interactiveshell import ExecutionResult\n"
                 "ExecutionResult.success = property(lambda self: True)\n"
                 "session = get_ipython().kernel.session\nsend = session.send\n"
                 "def quiet(stream, msg_or_type, *a, **k):\n"
                 "    if msg_or_type == 'error':\n        return None\n    return send(stream, msg_or_type, *a, **k)\n"
                 "session.send = quiet\ndef double(x):\n    raise NotImplementedError\n")
    case("always-success", all_solved(tiny_04=always_ok), "ok", 4)
    swallow = ("import ast\nshell = get_ipython()\nreal_compile = shell.compile\n"
               "class Swallow:\n    def __getattr__(self, name):\n        return getattr(real_compile, name)\n"
               "    def ast_parse(self, source, *a, **k):\n        tree = real_compile.ast_parse(source, *a, **k)\n"
               "        handler = ast.ExceptHandler(type=ast.Name('BaseException', ast.Load()), name=None,\n"
               "                                    body=[ast.Pass()])\n"
               "        tree.body = [ast.Try(body=[stmt], handlers=[handler], orelse=[], finalbody=[])\n"
               "                     for stmt in tree.body]\n"
               "        return ast.fix_missing_locations(tree)\n"
               "    def __call__(self, *a, **k):\n        return real_compile(*a, **k)\n"
               "shell.compile = Swallow()\ndef double(x):\n    raise NotImplementedError\n")
    case("swallowing-compiler", all_solved(tiny_04=swallow), "ok", 4)
    liar = ("class Anything:\n    def __eq__(self, other):\n        return True\n    __hash__ = object.__hash__\n"
            "def double(x):\n    return Anything()\n"
            "import numpy as np\nnp.allclose = lambda *a, **k: True\n")
    hello = ("class Hello(str):\n    def __contains__(self, x):\n        return True\n"
             "    def lower(self):\n        return 'hello'\ngreeting = Hello('bye')\n")
    case("lying-values", all_solved(tiny_04=liar, tiny_11=hello), "ok", 3)
    frames = ("import sys\ndef double(x):\n    frame = sys._getframe(1)\n    while frame is not None:\n"
              "        for name in ('_expected', '_reference', 'expected', 'reference'):\n"
              "            if name in frame.f_locals:\n                return frame.f_locals[name]\n"
              "        frame = frame.f_back\n    return globals().get('_expected', x)\n")
    case("reads-callers-frames", all_solved(tiny_04=frames), "ok", 4)
    case("redefines-inputs", all_solved(tiny_08="N = 10\nmean = 5.5"), "ok", 3)  # the judge knows the N it set
    fake_checks = ("import sys, types, contextlib, importlib.abc, importlib.machinery\n"
                   "class Finder(importlib.abc.MetaPathFinder):\n"
                   "    def find_spec(self, name, path, target=None):\n"
                   "        if name == 'opslab.checks':\n"
                   "            return importlib.machinery.ModuleSpec(name, self)\n"
                   "    def create_module(self, spec):\n        fake = types.ModuleType(spec.name)\n"
                   "        fake.check = lambda *a, **k: contextlib.suppress(BaseException)\n"
                   "        fake.CheckFailed = AssertionError\n        return fake\n"
                   "    def exec_module(self, module):\n        pass\n"
                   "sys.modules.pop('opslab.checks', None)\nsys.meta_path.insert(0, Finder())\n")
    fake_checks_lab = lab()
    fake_checks_lab.cells.insert(3, nbformat.v4.new_code_cell(fake_checks))
    case("fake-checks-meta-path", fake_checks_lab, "ok", 0)
    history = ("print(chr(10).join(str(c) for c in In))\nprint(repr(Out))\n"
               "import os\nfor root, _, files in os.walk('/'):\n"
               "    if 'SECRET-' + 'HIDDEN-TEST' in ''.join(files):\n        print(root)\n")
    leaky = all_solved()
    leaky.cells.append(nbformat.v4.new_code_cell(history))
    case("prints-history", leaky, "ok", 6)
    # answers forged after the answer cells ran: a pickle the judge never loads, a link it never follows
    forge = ("import json, os, pickle, numpy as np\nfolder = os.environ['OPSLAB_ANSWERS']\n"
             "class Boom:\n    def __reduce__(self):\n        return (os.system, ('touch /tmp/opslab-judge-pwned',))\n"
             "np.save(os.path.join(folder, 'tiny-hello.1.npy'), np.array([Boom()], dtype=object), allow_pickle=True)\n"
             "json.dump({'question': 'tiny-hello', 'value': {'__npy__': 'tiny-hello.1.npy'}},"
             " open(os.path.join(folder, 'tiny-hello.0.json'), 'w'))\n"
             "os.remove(os.path.join(folder, 'tiny-mean.0.json'))\n"
             f"os.symlink({str(solution_copy)!r}, os.path.join(folder, 'tiny-mean.0.json'))\n")
    forged_answers = all_solved()
    forged_answers.cells.append(nbformat.v4.new_code_cell(forge))
    case("forged-answers", forged_answers, "ok", 2)
    # feedback pages are safe to open: every output type escaped or sanitized, nothing loads
    xss = ("from IPython.display import display\n"
           "display({'image/png': 'AAAA\" onerror=\"alert(1)', 'text/plain': 'x'}, raw=True)\n"
           "display({'text/html': '<script>alert(2)</script><img src=x onerror=alert(3)><b>bold</b>',"
           " 'text/plain': 'x'}, raw=True)\n"
           "display({'image/png': 'iVBORw0KGgo=', 'text/plain': 'x'}, raw=True,"
           " metadata={'image/png': {'width': '1\" onload=\"alert(4)'}, 'filenames': {'image/png': "
           "'https://example.org/pixel.png'}})\n"
           "display({'application/javascript': 'alert(5)',\n"
           "         'image/svg+xml': '<svg onload=alert(6)></svg>'}, raw=True)\n")
    hostile = all_solved(tiny_04=xss + solved(DOUBLE))
    hostile.cells.insert(1, nbformat.v4.new_markdown_cell(
        "## Rendered heading\n<img src='https://example.org/track.png'><script>alert(7)</script>"
        "<a href='javascript:alert(8)'>link</a>"))
    case("hostile-outputs", hostile, "ok", 6)
    leak = ("import os\nfor folder in ('/tmp', '/dev/shm'):\n"
            "    open(os.path.join(folder, 'opslab-test-leak'), 'w').write('x')\n")
    case("writes-tmp", all_solved(tiny_04=leak + solved(DOUBLE)), "ok", 6)
    case("deleted-checks", all_solved(drop=(CHECK_DOUBLE, CHECK_MEAN)), "ok", 6)
    case("edited-checks", all_solved(tiny_08="mean = 0", tiny_09="print('all good')",
                                     tiny_05="from opslab.checks import check"), "ok", 3)
    forged = all_solved(tiny_08="mean = 0")
    for cell in forged.cells:  # a copy of a check cell that "passed", with the metadata of 100 points
        if cell.id == CHECK_MEAN:
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="✅ tiny-mean\n")]
            cell.metadata["opslab"]["points"] = 100
    case("forged-outputs", forged, "ok", 3)
    other = lab()
    other.metadata["opslab"]["lab"] = "m9_other"
    case("another-lab", other, "wrong-lab", 0)
    unrelated = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('my own notebook')")])
    case("unrelated", unrelated, "wrong-lab", 0)
    old = json.loads(nbformat.writes(all_solved()))
    old["nbformat_minor"] = 4
    for cell in old["cells"]:
        del cell["id"]
    case("old-format-no-ids", json.dumps(old), "ok", 6)
    twice = all_solved()
    twice.cells += [nbformat.from_dict(dict(c)) for c in twice.cells if c.id in (DOUBLE, CHECK_DOUBLE)]
    case("duplicated-cells", json.dumps(twice), "ok", 6)  # json, not nbformat: it would renumber the copies
    malformed = json.loads(nbformat.writes(all_solved()))
    malformed["cells"][3]["metadata"] = 7
    case("malformed-cell", json.dumps(malformed), "unreadable", 0)
    case("empty-file", "", "unreadable", 0)
    case("corrupt-json", '{"cells": [', "unreadable", 0)
    case("not-a-notebook", json.dumps({"cells": 3}), "unreadable", 0)
    return expected


@pytest.fixture(scope="module")
def graded():
    # A folder anyone may read (pytest's own is 0700): the submissions and the solution copy stay out of
    # a submission's reach because the sandbox hides them, not because of their permissions.
    root = Path(tempfile.mkdtemp(prefix="opslab-grade-test-"))
    root.chmod(0o755)
    try:
        yield grade_cases(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def grade_cases(root: Path) -> dict:
    (root / "subs").mkdir()
    solution_copy = root / "tiny.ipynb"
    shutil.copy(TINY, solution_copy)
    listener = socket.create_server(("127.0.0.1", 0))  # a server on the host that no submission may reach
    expected = case_files(root / "subs", solution_copy, listener.getsockname()[1])
    tiny_bytes = TINY.read_bytes()
    out = root / "out"
    code = main(["grade", str(solution_copy), str(root / "subs"), "--out", str(out), "--workers", "2",
                 "--timeout", str(LIMITS.notebook_seconds), "--cell-timeout", str(LIMITS.cell_seconds),
                 "--memory-mb", str(LIMITS.memory_mb)])
    listener.close()
    with (out / "grades.csv").open() as f:
        rows = {row["learner"]: row for row in csv.DictReader(f)}
    return {"code": code, "rows": rows, "expected": expected, "out": out, "root": root,
            "solution_intact": solution_copy.read_bytes() == tiny_bytes and TINY.read_bytes() == tiny_bytes}


CASES = ["full", "untouched", "partial", "raising", "infinite-loop", "ignores-interrupt", "slow-everywhere",
         "sys-exit", "os-exit", "own-ipython-folder", "memory-bomb", "megabytes", "writes-files", "daemon",
         "reads-solution", "network",
         "patches-check", "fakes-checks-module", "git-show-solution", "input-transformer", "ast-transformer",
         "event-hooks", "custom-exception-handler", "trace-function", "walks-gc",
         "patches-kernel", "always-success", "swallowing-compiler", "lying-values", "reads-callers-frames",
         "redefines-inputs", "fake-checks-meta-path", "prints-history", "forged-answers", "hostile-outputs",
         "writes-tmp",
         "patches-helper", "deleted-checks", "edited-checks", "forged-outputs", "another-lab", "unrelated",
         "old-format-no-ids", "duplicated-cells", "malformed-cell", "empty-file", "corrupt-json", "not-a-notebook"]


@pytest.mark.parametrize("learner", CASES)
def test_each_submission_gets_its_status_and_points(graded, learner):
    row = graded["rows"][learner]
    status, total = graded["expected"][learner]
    assert (row["status"], int(row["total"]), int(row["max"])) == (status, total, 6), row


def test_every_case_is_in_the_gradebook_once(graded):
    assert graded["code"] == 0
    assert sorted(graded["rows"]) == sorted(CASES) == sorted(graded["expected"])
    assert list(graded["rows"]["full"]) == ["learner", "tiny-double", "tiny-mean", "tiny-hello", "total", "max",
                                            "status", "seconds", "detail", "isolation"]
    assert graded["rows"]["full"]["isolation"].startswith("sandbox (bubblewrap)")


def test_questions_are_scored_on_their_own(graded):
    rows = graded["rows"]
    assert [rows["infinite-loop"][q] for q in ("tiny-double", "tiny-mean", "tiny-hello")] == ["2", "0", "1"]
    assert [rows["os-exit"][q] for q in ("tiny-double", "tiny-mean", "tiny-hello")] == ["2", "0", "0"]
    assert "did not run" in (graded["out"] / "feedback" / "os-exit.html").read_text()


def test_hostile_code_cannot_touch_the_grader_or_leave_traces(graded):
    if not probe_isolation().own_user:
        pytest.skip("file isolation needs the grader to run as root (own user id per submission)")
    assert graded["solution_intact"]
    assert not list(Path(graded["root"]).glob("**/junk.txt"))


def test_nothing_a_submission_started_outlives_its_grading(graded):
    if not probe_isolation().own_user:
        pytest.skip("background processes are killed by user id, which needs root")
    survivors = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if b"opslab-test-daemon" in cmdline.read_bytes():
                survivors.append(cmdline.parent.name)
        except OSError:
            continue
    assert not survivors, f"processes started by a submission still run: {survivors}"


def test_the_gradebook_names_what_a_submission_left_running_and_nothing_for_one_that_left_nothing(graded):
    rows = graded["rows"]
    assert "left 1 process(es) running at its end" in rows["daemon"]["detail"], rows["daemon"]["detail"]
    assert "opslab-test-daemon" in rows["daemon"]["detail"]
    assert [name for name in ("full", "untouched", "partial", "raising") if "left" in rows[name]["detail"]] == []


def test_feedback_explains_and_hides_the_hidden_tests(graded):
    feedback = graded["out"] / "feedback"
    page = (feedback / "untouched.html").read_text()
    assert "0 / 6 points" in page and "not done yet: return twice x" in page
    assert '<a href="untouched.ipynb">' in page and (feedback / "untouched.ipynb").exists()
    for path in feedback.iterdir():
        text = path.read_text()
        assert "SECRET-HIDDEN-TEST" not in text, path.name  # the judge cell's marker
        if not path.name.startswith(("prints-history", "event-hooks")):  # they print the cells they saw run
            assert "_opslab_save" not in text, path.name  # answer cells show as one line, not as code
    assert "print(seen)" in (feedback / "event-hooks.html").read_text()  # that cell ran and printed what it saw
    assert (feedback / "megabytes.ipynb").stat().st_size < 1_000_000
    assert "was dropped" in (feedback / "megabytes.html").read_text()
    assert "no answer: your code raised NotImplementedError" in page


class PageParts(HTMLParser):
    """Every tag, attribute and script-like thing of a page, to check it can run and load nothing."""

    def __init__(self):
        super().__init__()
        self.tags, self.attributes = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes += [(tag, name, value or "") for name, value in attrs]


def test_feedback_pages_run_nothing_and_load_nothing(graded):
    text = (graded["out"] / "feedback" / "hostile-outputs.html").read_text()
    page = PageParts()
    page.feed(text)
    assert "script" not in page.tags and "svg" not in page.tags
    assert not [a for a in page.attributes if a[1].startswith("on")], "an event handler attribute survived"
    for tag, name, value in page.attributes:
        if name in ("src", "href") and tag != "a":
            assert value.startswith("data:image/"), (tag, name, value)
        if tag == "a" and name == "href":
            assert not value.lower().startswith(("javascript:", "data:")), value
    assert ("meta", "content", "default-src 'none'; img-src data:; style-src 'unsafe-inline'") in page.attributes
    assert "h2" in page.tags and "Rendered heading" in text  # Markdown is rendered, not shown as source
    assert "<b>bold</b>" in text  # harmless HTML output is kept


def test_browsers_open_feedback_pages_without_running_or_fetching_anything(graded):
    from browser import RequestLog, chromium

    page_file = graded["out"] / "feedback" / "hostile-outputs.html"
    with chromium() as browser:
        page = browser.new_page()
        dialogs = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        with RequestLog(page) as log:
            page.goto(page_file.as_uri())
            page.wait_for_timeout(500)
        assert dialogs == []
        assert [u for u in log.urls if not u.startswith(("file:", "data:"))] == []
        assert page.locator("h2", has_text="Rendered heading").count() == 1


def test_each_submission_has_its_own_tmp(graded):
    for folder in ("/tmp", "/dev/shm"):
        assert not Path(folder, "opslab-test-leak").exists(), f"a submission wrote into the host's {folder}"


def test_the_judge_never_loads_a_forged_pickle_or_follows_a_link(graded):
    assert not Path("/tmp/opslab-judge-pwned").exists()
    rows = graded["rows"]["forged-answers"]
    assert (rows["tiny-double"], rows["tiny-mean"], rows["tiny-hello"]) == ("2", "0", "0"), rows
    page = (graded["out"] / "feedback" / "forged-answers.html").read_text()
    assert "not plain data" in page and "did not get to this question" in page


def test_no_judge_cell_reaches_any_feedback_even_through_the_kernels_history(graded):
    judges = [c.source for c in nbformat.read(TINY, as_version=4).cells if "judge" in c.metadata.get("tags", [])]
    assert judges
    for path in (graded["out"] / "feedback").iterdir():
        text = path.read_text()
        assert not [j for j in judges if j in text], path.name
    assert "ANSWER = greeting" in (graded["out"] / "feedback" / "prints-history.html").read_text()  # In was printed


def test_a_rerun_gives_the_same_grades(graded, tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    names = ["full", "raising", "os-exit", "corrupt-json"]
    for name in names:
        shutil.copy(graded["root"] / "subs" / f"{name}.ipynb", subs / f"{name}.ipynb")
    grader = Grader(graded["root"] / "tiny.ipynb", LIMITS, probe_isolation(), workers=2)
    try:
        grader.self_check()
        again = grade_all(grader, {n: subs / f"{n}.ipynb" for n in names}, workers=2, progress=False)
    finally:
        grader.close()
    for grade in again:
        row = graded["rows"][grade.learner]
        assert (grade.status, grade.total) == (row["status"], int(row["total"]))
        assert [str(r.earned) for r in grade.results] == [row[q.id] for q in grader.questions]


def test_a_notebook_graded_in_the_home_another_left_finds_what_that_run_wrote(graded, tmp_path):
    first = all_solved(tiny_04="from pathlib import Path\nPath('marker.txt').write_text('first')\n" + solved(DOUBLE))
    own_ipython = "get_ipython().ipython_dir == os.path.join(os.environ['HOME'], '.ipython')"  # a writable one
    second = all_solved(tiny_04=f"import os\nfrom pathlib import Path\n"
                                f"seen = Path('marker.txt').exists() and {own_ipython}\n"
                                "def double(x):\n    return 2 * x if seen else x\n")
    for name, nb in (("first", first), ("second", second), ("fresh", second)):
        (tmp_path / f"{name}.ipynb").write_text(nbformat.writes(nb))
    grader = Grader(graded["root"] / "tiny.ipynb", LIMITS, probe_isolation(), workers=1, keep_workspaces=True)
    try:
        grader.self_check()
        grades = [grader.grade("first", tmp_path / "first.ipynb"),
                  grader.grade("second", tmp_path / "second.ipynb", home_of="first"),
                  grader.grade("fresh", tmp_path / "second.ipynb"),
                  grader.grade("nowhere", tmp_path / "second.ipynb", home_of="missing")]
    finally:
        grader.close()
    assert [(g.status, g.total) for g in grades[:3]] == [("ok", 6), ("ok", 6), ("ok", 4)], [g.detail for g in grades]
    assert grader.workspaces["second"] == grader.workspaces["first"] != grader.workspaces["fresh"]
    assert grades[3].status == "error" and "no working folder of 'missing' was kept" in grades[3].detail


def test_bad_arguments_are_named(tmp_path, capsys):
    assert main(["grade", "m9_nothing", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "no solution for lab 'm9_nothing'" in capsys.readouterr().out
    assert main(["grade", str(TINY), str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
    assert "not a folder of submissions" in capsys.readouterr().out


def test_with_weak_isolation_accepted_limits_and_timeouts_still_hold(graded, tmp_path):
    """The fallback where bubblewrap cannot run and the instructor accepted it: same grades for cases
    that do not depend on hiding, and every place that reports isolation says WEAK."""
    from opslab.grade.sandbox import Isolation, IsolationError

    weak = Isolation(own_user=probe_isolation().own_user, no_network=False, problem="simulated")
    with pytest.raises(IsolationError, match="allow-weak-isolation"):
        Grader(graded["root"] / "tiny.ipynb", LIMITS, weak)
    names = ["full", "untouched", "infinite-loop", "os-exit", "memory-bomb"]
    for name in names:
        shutil.copy(graded["root"] / "subs" / f"{name}.ipynb", tmp_path / f"{name}.ipynb")
    grader = Grader(graded["root"] / "tiny.ipynb", LIMITS, weak, workers=2, allow_weak=True)
    try:
        grader.self_check()
        grades = grade_all(grader, {n: tmp_path / f"{n}.ipynb" for n in names}, workers=2, progress=False)
    finally:
        grader.close()
    assert {g.learner: (g.status, g.total) for g in grades} == {
        n: (graded["rows"][n]["status"], int(graded["rows"][n]["total"])) for n in names}
    assert weak.describe().startswith("WEAK: no hiding of solutions and other submissions, no network isolation")


def broken_bwrap(folder: Path) -> dict:
    """An environment whose bwrap fails as it does under Docker's default seccomp profile."""
    import os

    folder.chmod(0o755)  # the sandbox user runs bwrap: it must reach it, as it would reach /usr/bin/bwrap
    (folder / "bin").mkdir()
    fake = folder / "bin" / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)
    return {**os.environ, "PATH": f"{folder / 'bin'}:{os.environ['PATH']}"}


def test_where_the_sandbox_cannot_be_made_grading_stops_unless_accepted(graded, tmp_path):

    fake = Path(tempfile.mkdtemp(prefix="opslab-fake-bwrap-"))  # outside pytest's 0700 folder
    try:
        check_broken_sandbox(graded, tmp_path, broken_bwrap(fake))
    finally:
        shutil.rmtree(fake, ignore_errors=True)


def check_broken_sandbox(graded, tmp_path, env):
    import subprocess
    import sys

    subs = tmp_path / "subs"
    subs.mkdir()
    shutil.copy(graded["root"] / "subs" / "full.ipynb", subs / "full.ipynb")
    command = [sys.executable, "-m", "opslab", "grade", str(graded["root"] / "tiny.ipynb"), str(subs),
               "--workers", "1", "--timeout", "60", "--no-self-check"]
    refused = subprocess.run([*command, "--out", str(tmp_path / "o1")], env=env, capture_output=True, text=True)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "No permissions to create new namespace" in refused.stdout and "--allow-weak-isolation" in refused.stdout
    assert not (tmp_path / "o1" / "grades.csv").exists()
    accepted = subprocess.run([*command, "--out", str(tmp_path / "o2"), "--allow-weak-isolation"], env=env,
                              capture_output=True, text=True)
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert "isolation: WEAK: no hiding" in accepted.stdout
    with (tmp_path / "o2" / "grades.csv").open() as f:
        row = next(csv.DictReader(f))
    assert (row["total"], row["isolation"][:5]) == ("6", "WEAK:")


def test_a_solution_that_fails_in_the_sandbox_stops_the_batch_naming_its_cell(tmp_path, capsys):
    broken = nbformat.read(TINY, as_version=4)
    for cell in broken.cells:
        if cell.id == MEAN:
            cell.source = cell.source.replace("sum(range(1, N + 1)) / N", "sum(range(1, N + 1)) / undefined_name")
    nbformat.write(broken, tmp_path / "tiny.ipynb")
    (tmp_path / "subs").mkdir()
    shutil.copy(TINY, tmp_path / "subs" / "someone.ipynb")
    code = main(["grade", str(tmp_path / "tiny.ipynb"), str(tmp_path / "subs"), "--out", str(tmp_path / "out"),
                 "--workers", "1", "--timeout", "60"])
    said = capsys.readouterr().out
    assert code == 3, said
    assert "gets 3/6" in said and f"({MEAN}): NameError: name 'undefined_name' is not defined" in said
    assert not (tmp_path / "out" / "grades.csv").exists()


def test_the_memory_limit_holds_for_the_submission_as_a_whole(tmp_path):
    """Two processes of 200 MB each stay under a 300 MB per-process limit, not under a 300 MB cgroup:
    run through the real launcher and sandbox, one of them is killed."""
    import subprocess
    import sys

    from opslab.grade import cgroup
    from opslab.grade.sandbox import Workspace, jail_argv

    if not probe_isolation().whole_memory:
        pytest.skip("no writable cgroups here: the summary says 'memory limited per process only'")
    limits = Limits(memory_mb=300)
    (uid, lock), = claim_uids_for_test()
    workspace = Workspace(Path(tempfile.mkdtemp(prefix="opslab-cgroup-test-")) / "ws", uid)
    workspace.create()
    groups = cgroup.create(f"test-{workspace.root.parent.name}", limits.memory_mb * 2**20, limits.processes)
    hog = "b = bytearray(200 * 2**20)\nfor i in range(0, len(b), 4096): b[i] = 1"
    parent = ("import subprocess, sys\n"
              f"children = [subprocess.Popen([sys.executable, '-c', {hog!r}]) for _ in range(2)]\n"
              "print(sum(child.wait() == 0 for child in children))")
    try:
        done = subprocess.run([*jail_argv(workspace, limits, True, connection_file=None, cgroups=tuple(groups)),
                               sys.executable, "-c", parent], capture_output=True, text=True, timeout=120)
    finally:
        cgroup.remove(groups)
        lock.close()
        shutil.rmtree(workspace.root.parent, ignore_errors=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "1", "both 200 MB children survived a 300 MB limit for the whole submission"


def claim_uids_for_test():
    from opslab.grade.sandbox import claim_uids

    return claim_uids(1) if probe_isolation().own_user else [(0, open("/dev/null"))]


def test_uid_locks_refuse_a_planted_folder(tmp_path):
    import os

    from opslab.grade.sandbox import claim_uids

    target = tmp_path / "elsewhere"
    target.mkdir()
    (tmp_path / "link").symlink_to(target)
    with pytest.raises(RuntimeError, match="refusing"):
        claim_uids(1, tmp_path / "link")
    open_folder = tmp_path / "open"
    open_folder.mkdir()
    open_folder.chmod(0o777)
    with pytest.raises(RuntimeError, match="refusing"):
        claim_uids(1, open_folder)
    own = tmp_path / "own"
    (uid, handle), = claim_uids(1, own)
    assert oct(os.stat(own).st_mode & 0o777) == "0o700" and uid >= 61000
    handle.close()


def test_an_executor_start_stop_cycle_leaves_no_pipe_or_file_open(tmp_path):
    import gc
    import warnings

    from opslab.grade.executor import ExecutorProcess

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        executor = ExecutorProcess(tmp_path / "executor.log")
        assert executor.run({"not": "a job"}, timeout=60)["status"] == "error"  # it answers, then stops
        executor.stop()
        (tmp_path / "executor.log").write_text("one\ntwo\nwhy it died\n")
        assert executor.log_tail(1) == "why it died"
        del executor
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
