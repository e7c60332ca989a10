"""``opslab run [PATHS] --out OUT``: execute notebooks with papermill and print a timing table."""

from __future__ import annotations

from pathlib import Path

from opslab.run import find_notebooks, format_table, parse_parameter, run_notebooks


def configure(parser) -> None:
    parser.add_argument("paths", nargs="*", default=["solutions"], help="notebooks or folders (default: solutions)")
    parser.add_argument(
        "--out",
        default="_build/executed",
        help="folder for the executed copies, each at its notebook's path relative to here "
        "(solutions/m1.ipynb -> OUT/solutions/m1.ipynb; from outside this folder: OUT/_outside/ABSOLUTE/PATH)",
    )
    parser.add_argument(
        "-p",
        "--parameter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="papermill parameter (value read as YAML), repeatable",
    )
    parser.add_argument("--timeout", type=int, default=600, help="seconds each cell may run")
    parser.add_argument("--workers", type=int, default=0, help="notebooks at once (default: one per core)")


def command(args) -> int:
    try:
        notebooks = find_notebooks(args.paths)
        parameters = dict(parse_parameter(p) for p in args.parameter)
    except (FileNotFoundError, ValueError) as err:
        print(f"opslab run: {err}")
        return 2
    out = Path(args.out)
    notebooks = [nb for nb in notebooks if not nb.resolve().is_relative_to(out.resolve())]  # not earlier copies
    if not notebooks:
        print(f"opslab run: no notebooks under {' '.join(args.paths)}")
        return 2
    results = run_notebooks(notebooks, out, parameters, args.timeout, args.workers)
    print(format_table(results))
    failed = [r for r in results if r.status != "ok"]
    for r in failed:
        print(f"FAILED {r.notebook}: {r.error}")
    print(f"{len(results) - len(failed)} of {len(results)} notebooks ran; executed copies in {args.out}")
    return 1 if failed else 0
