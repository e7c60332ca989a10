#!/usr/bin/env python3
"""Check that the optional serving frameworks of requirements-serving.in resolve, and whether they co-install.

    python3 scripts/check_serving_extras.py                  # resolve (needs the package index)
    python3 scripts/check_serving_extras.py --print-install  # the commands that make each framework's venv

1. Each group of requirements-serving.in (``# group: NAME`` on its lines), with the model's stack as
   pinned in requirements.txt (MODEL_STACK): ``pip install --dry-run --ignore-installed``. It must
   resolve: that is the venv scripts/bench_serving.py runs the framework from.
2. requirements.txt and requirements-serving.in together, the same way: whether the frameworks could
   share the course's venv. Reported; it must resolve too only with ``--require-coinstall``.

Writes a Markdown summary to $GITHUB_STEP_SUMMARY when set, else stdout. Exit 1 when a required
resolution fails. Needs the package index, so it runs in a scheduled workflow, not in the test suite.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SERVING = REPO / "requirements-serving.in"
PINS = REPO / "requirements.txt"
MODEL_STACK = ("mlflow", "scikit-learn", "pandas", "numpy")  # what unpickles the registered model


def groups(path: Path = SERVING) -> dict[str, list[str]]:
    """The requirement lines of ``path`` by their ``# group: NAME`` comment."""
    found: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        requirement, _, comment = line.partition("#")
        match = re.match(r"\s*group:\s*([\w-]+)", comment)
        if requirement.strip() and match:
            found.setdefault(match.group(1), []).append(requirement.strip())
    return found


def model_stack(path: Path = PINS) -> list[str]:
    """The ``name==version`` pins of MODEL_STACK in requirements.txt."""
    pins = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
    stack = [p for p in pins if p.split("==")[0].lower() in MODEL_STACK]
    assert len(stack) == len(MODEL_STACK), f"requirements.txt pins {stack}, expected all of {MODEL_STACK}"
    return stack


def resolve(args: list[str]) -> tuple[bool, str]:
    """Whether pip resolves ``args`` from scratch (nothing installed), and why not."""
    command = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet", *args]
    done = subprocess.run(command, capture_output=True, text=True)
    said = [line for line in (done.stdout + done.stderr).splitlines() if "Location" not in line and line.strip()]
    cause = [i for i, line in enumerate(said) if "conflict is caused by" in line]
    return done.returncode == 0, "\n".join(said[cause[0] : cause[0] + 8] if cause else said[-12:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--print-install", action="store_true", help="print the venv commands and exit")
    parser.add_argument("--require-coinstall", action="store_true",
                        help="fail also when the frameworks do not install next to requirements.txt")
    args = parser.parse_args(argv)
    stack = model_stack()
    if args.print_install:
        for name, requirements in groups().items():
            venv = f"/tmp/serving-{name}"
            print(f"python3 -m venv {venv} && {venv}/bin/pip install {' '.join(requirements + stack)}")
        return 0
    lines, failed = ["## Serving frameworks (requirements-serving.in)", ""], False
    for name, requirements in groups().items():
        ok, why = resolve(requirements + stack)
        failed |= not ok
        lines.append(f"- **{name}** in its own venv ({', '.join(requirements + stack)}): "
                     + ("resolves" if ok else f"does NOT resolve\n\n```\n{why}\n```"))
    ok, why = resolve(["-r", str(PINS), "-r", str(SERVING)])
    failed |= args.require_coinstall and not ok
    verdict = "co-install" if ok else f"do not co-install (see requirements-serving.in)\n\n```\n{why}\n```"
    lines.append(f"- **all of them next to requirements.txt**: {verdict}")
    text = "\n".join(lines) + "\n"
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a") as out:
            out.write(text)
    print(text)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
