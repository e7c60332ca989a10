"""``opslab run``: execute notebooks with papermill, in parallel, and report what failed where."""

from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm


@dataclass
class NotebookResult:
    notebook: Path
    status: str  # "ok" or "failed"
    seconds: float
    error: str = ""  # for a failure: which cell, which exception, what it said


def find_notebooks(paths: list[str | Path]) -> list[Path]:
    """The notebooks named by ``paths``: files as given, folders searched recursively, sorted."""
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found += sorted(p for p in path.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
        elif path.suffix == ".ipynb" and path.exists():
            found.append(path)
        else:
            raise FileNotFoundError(f"{path}: not a notebook or a folder of notebooks")
    return found


# Cells papermill adds to the executed copy, which the source notebook does not have.
_ADDED_BY_PAPERMILL = {"injected-parameters", "papermill-error-cell-tag"}


def first_unexpected_error(executed: Path) -> str | None:
    """'cell N: Error: message' for the first error in a cell not tagged ``raises-exception``.

    N counts the source notebook's cells from 1. Learner labs tag their exercise stubs and check
    cells ``raises-exception`` (as the book does, they fail until solved), so those errors are
    expected; papermill still raises for them, which is why the executed copy is read.
    """
    import nbformat

    position = 0
    for cell in nbformat.read(executed, as_version=4).cells:
        tags = set(cell.metadata.get("tags", []))
        if tags & _ADDED_BY_PAPERMILL:
            continue
        position += 1
        if "raises-exception" in tags:
            continue
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                return f"cell {position}: {output.ename}: {output.evalue}".strip()
    return None


def execute_notebook(
    notebook: Path, out_dir: Path, parameters: dict | None = None, timeout: int = 600
) -> NotebookResult:
    """Run one notebook with papermill into ``out_dir`` (same file name); never raises."""
    import papermill as pm

    notebook = Path(notebook)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    try:
        pm.execute_notebook(
            str(notebook),
            str(out_dir / notebook.name),
            parameters=parameters or {},
            execution_timeout=timeout,
            cwd=str(notebook.parent.resolve()),
            progress_bar=False,
            kernel_name="python3",
        )
        return NotebookResult(notebook, "ok", time.perf_counter() - started)
    except Exception as err:  # a failing notebook is a result to report, not a crash of the runner
        from papermill.exceptions import PapermillExecutionError

        seconds = time.perf_counter() - started
        error = first_unexpected_error(out_dir / notebook.name) if (out_dir / notebook.name).exists() else None
        if error is None and isinstance(err, PapermillExecutionError):
            return NotebookResult(notebook, "ok", seconds)  # every error was in a raises-exception cell
        return NotebookResult(notebook, "failed", seconds, error or f"{type(err).__name__}: {err}".strip())


def run_notebooks(
    notebooks: list[Path], out_dir: Path, parameters: dict | None = None, timeout: int = 600, workers: int = 0
) -> list[NotebookResult]:
    """Execute ``notebooks`` across ``workers`` processes (0: one per core) with a progress bar."""
    workers = workers or os.cpu_count() or 1
    results = []
    with ProcessPoolExecutor(max_workers=min(workers, max(len(notebooks), 1))) as pool:
        futures = [pool.submit(execute_notebook, nb, out_dir, parameters, timeout) for nb in notebooks]
        for future in tqdm(as_completed(futures), total=len(futures), desc="notebooks", unit="nb"):
            results.append(future.result())
    order = {nb: i for i, nb in enumerate(notebooks)}
    return sorted(results, key=lambda r: order[r.notebook])


def format_table(results: list[NotebookResult]) -> str:
    width = max([len(str(r.notebook)) for r in results] + [8])
    lines = [f"{'notebook':<{width}}  {'status':<6}  {'seconds':>7}", "-" * (width + 17)]
    lines += [f"{str(r.notebook):<{width}}  {r.status:<6}  {r.seconds:>7.1f}" for r in results]
    return "\n".join(lines)


def _parse_parameter(text: str) -> tuple[str, object]:
    import yaml

    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ValueError(f"parameter {text!r} is not KEY=VALUE")
    return key, yaml.safe_load(value)


def configure(parser) -> None:
    parser.add_argument("paths", nargs="*", default=["solutions"], help="notebooks or folders (default: solutions)")
    parser.add_argument("--out", default="_build/executed", help="folder for the executed copies")
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
        parameters = dict(_parse_parameter(p) for p in args.parameter)
    except (FileNotFoundError, ValueError) as err:
        print(f"opslab run: {err}")
        return 2
    if not notebooks:
        print(f"opslab run: no notebooks under {' '.join(args.paths)}")
        return 2
    results = run_notebooks(notebooks, Path(args.out), parameters, args.timeout, args.workers)
    print(format_table(results))
    failed = [r for r in results if r.status != "ok"]
    for r in failed:
        print(f"FAILED {r.notebook}: {r.error}")
    print(f"{len(results) - len(failed)} of {len(results)} notebooks ran; executed copies in {args.out}")
    return 1 if failed else 0
