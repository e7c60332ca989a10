#!/usr/bin/env python3
"""Where each lab runs, measured online: each lab's own install cell on a fresh machine, then the lab.

For every platform (a Python interpreter) and lab: a fresh virtual environment with only a kernel and the
runner (what Colab or any Jupyter has), the lab as the site serves it (its download: the install cell pinned
to the commit), its install cell run against the real package index, then the whole lab, as the book runs it
(nbclient: errors only in cells tagged raises-exception). Prints a Markdown table, lab x platform: pass or
fail and minutes. The weekly workflow (.github/workflows/where-labs-run.yml) runs it in a fresh python:3.12
container, the Python Colab runs.

    python scripts/where_labs_run.py [--labs m1_lifecycle ...] [--python local=python3.11 ...]
                                     [--source SOURCE] [--out TABLE.md]

SOURCE is where the install cell installs opslab from: by default the course's repository at its commit
(``git+https://github.com/OWNER/NAME@SHA``, opslab.where), or a wheel of the commit
(``file:///.../opslab-0.1.0-py3-none-any.whl``) where that commit is not on GitHub. Needs the network.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from opslab.assign.learner import fill_placeholders
from opslab.where import Where, WhereError, derive

REPO = Path(__file__).resolve().parents[1]
RUNNER = ["ipykernel", "nbconvert"]  # what a notebook platform already has before the lab's install cell


def as_downloaded(lab: str, where, source: str | None) -> str:
    text = fill_placeholders((REPO / "labs" / f"{lab}.ipynb").read_text(), where)
    if source:
        text = text.replace(f"git+{where.repository_url}@{where.commit}", source)
    return text


def run_lab(python: str, lab: str, notebook: str, work: Path) -> tuple[bool, float, str]:
    """(passed, seconds, the last lines on failure) of the lab in a fresh venv of ``python``."""
    env_dir, folder = work / "venv", work / "lab"
    folder.mkdir(parents=True)
    subprocess.run([python, "-m", "venv", str(env_dir)], check=True)
    venv_python = str(env_dir / "bin" / "python")
    subprocess.run([venv_python, "-m", "pip", "install", "-q", *RUNNER], check=True)
    (folder / f"{lab}.ipynb").write_text(notebook)
    started = time.monotonic()
    done = subprocess.run([venv_python, "-m", "nbconvert", "--to", "notebook", "--execute",
                           "--ExecutePreprocessor.timeout=900", "--ExecutePreprocessor.kernel_name=python3",
                           "--output", "ran.ipynb", f"{lab}.ipynb"],
                          cwd=folder, capture_output=True, text=True, env={"HOME": str(work), "PATH": "/usr/bin:/bin"})
    seconds = time.monotonic() - started
    if done.returncode != 0:
        return False, seconds, (done.stdout + done.stderr)[-1500:]
    ran = json.loads((folder / "ran.ipynb").read_text())
    untagged = [c for c in ran["cells"] if c["cell_type"] == "code"
                and any(o.get("output_type") == "error" for o in c.get("outputs", []))
                and "raises-exception" not in c["metadata"].get("tags", [])]
    return not untagged, seconds, "" if not untagged else "an untagged cell failed"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labs", nargs="+", default=sorted(p.stem for p in (REPO / "labs").glob("*.ipynb")))
    parser.add_argument("--python", nargs="+", default=[f"local={sys.executable}"],
                        help="NAME=INTERPRETER, one per platform (e.g. colab-like=python3.12)")
    parser.add_argument("--source", default=None, help="where the install cell gets opslab (default: GitHub)")
    parser.add_argument("--out", type=Path, default=None, help="also write the table here")
    args = parser.parse_args(argv)
    try:
        where = derive(REPO)
    except WhereError:
        if not args.source:
            raise
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
        where = Where("unknown/unknown", head, "unknown/unknown")  # the source replaces the repository anyway
    platforms = dict(item.split("=", 1) for item in args.python)
    versions = {name: subprocess.run([python, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
                                     capture_output=True, text=True, check=True).stdout.strip()
                for name, python in platforms.items()}
    rows, failures = [], []
    for lab in args.labs:
        notebook = as_downloaded(lab, where, args.source)
        cells = []
        for name, python in platforms.items():
            with tempfile.TemporaryDirectory(prefix=f"where-{lab}-") as work:
                passed, seconds, why = run_lab(python, lab, notebook, Path(work))
            cells.append(f"{'pass' if passed else 'FAIL'} ({seconds / 60:.1f} min)")
            print(f"{lab} on {name}: {cells[-1]}", flush=True)
            if not passed:
                failures.append(f"{lab} on {name}: {why}")
        rows.append(f"| {lab} | " + " | ".join(cells) + " |")
    header = "| lab | " + " | ".join(f"{n} (Python {versions[n]})" for n in platforms) + " |"
    table = "\n".join([header, "| " + " | ".join(["---"] * (len(platforms) + 1)) + " |", *rows])
    print(table)
    for failure in failures:
        print(failure, file=sys.stderr)
    if args.out:
        args.out.write_text(table + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
