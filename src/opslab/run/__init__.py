"""Execute notebooks with papermill, in parallel, and report what failed where (``opslab run``).

Each executed copy keeps the notebook's path relative to the current folder inside the output
folder (``solutions/m1.ipynb`` -> ``OUT/solutions/m1.ipynb``), so two notebooks of the same name in
two folders never share, overwrite or read each other's copy.
"""

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
    executed: Path | None = None  # the executed copy (None if papermill wrote none)


def find_notebooks(paths: list[str | Path]) -> list[Path]:
    """The notebooks named by ``paths``: files as given, folders searched recursively, sorted;
    a notebook named twice (``solutions solutions/m1.ipynb``) is listed once."""
    found: dict[str, Path] = {}
    for path in map(Path, paths):
        if path.is_dir():
            inside = sorted(p for p in path.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
        elif path.suffix == ".ipynb" and path.exists():
            inside = [path]
        else:
            raise FileNotFoundError(f"{path}: not a notebook or a folder of notebooks")
        for notebook in inside:
            found.setdefault(os.path.realpath(notebook), notebook)
    return list(found.values())


# Where the executed copy of a notebook outside the current folder goes, under the output folder:
# its absolute path below this folder, so it can never meet the copy of a notebook inside.
OUTSIDE = "_outside"


def executed_path(notebook: str | Path, out_dir: str | Path, base: str | Path | None = None) -> Path:
    """Where ``opslab run`` writes the executed copy of ``notebook``: its path relative to ``base``
    (default: the current folder) inside ``out_dir``; for a notebook outside ``base``, its absolute
    path inside ``out_dir/_outside``. Distinct notebooks get distinct copies. (A relative
    ``notebook`` is read from the current folder, as everywhere.)"""
    absolute = Path(os.path.abspath(notebook))
    base = Path(os.path.abspath(base if base is not None else os.getcwd()))
    if absolute.is_relative_to(base) and not absolute.relative_to(base).parts[0] == OUTSIDE:
        return Path(out_dir) / absolute.relative_to(base)
    return Path(out_dir) / OUTSIDE / absolute.relative_to(absolute.anchor)


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


def runnable_copy(notebook: Path, output: Path) -> Path:
    """The notebook as a kernel can run it: a solution's answer and judge cells belong to the grader (they
    need its JUDGE_SEED and the judge's names), so they are left out of a copy beside ``output``."""
    import nbformat

    from opslab.assign.questions import is_hidden

    nb = nbformat.read(notebook, as_version=4)
    if not any(is_hidden(cell) for cell in nb.cells):
        return notebook
    nb.cells = [cell for cell in nb.cells if not is_hidden(cell)]
    copy = output.with_name(f".{output.stem}.to-run.ipynb")
    nbformat.write(nb, copy)
    return copy


def execute_notebook(
    notebook: Path, out_dir: Path, parameters: dict | None = None, timeout: int = 600, output: Path | None = None
) -> NotebookResult:
    """Run one notebook with papermill into ``output`` (default: ``out_dir`` / its file name); never raises."""
    notebook = Path(notebook)
    output = Path(output) if output is not None else Path(out_dir) / notebook.name
    output.parent.mkdir(parents=True, exist_ok=True)
    source = runnable_copy(notebook, output)
    try:
        return _execute(notebook, source, output, parameters, timeout)
    finally:
        if source != notebook:
            source.unlink(missing_ok=True)


def _execute(notebook: Path, source: Path, output: Path, parameters: dict | None, timeout: int) -> NotebookResult:
    import papermill as pm

    from opslab.kernels import kernel_manager_class

    started = time.perf_counter()
    try:
        pm.execute_notebook(
            str(source),
            str(output),
            parameters=parameters or {},
            execution_timeout=timeout,
            cwd=str(notebook.parent.resolve()),
            progress_bar=False,
            kernel_name="python3",
            kernel_manager_class=kernel_manager_class(),
        )
        return NotebookResult(notebook, "ok", time.perf_counter() - started, executed=output)
    except Exception as err:  # a failing notebook is a result to report, not a crash of the runner
        from papermill.exceptions import PapermillExecutionError

        seconds = time.perf_counter() - started
        written = output if output.exists() else None
        error = first_unexpected_error(output) if written else None
        if error is None and isinstance(err, PapermillExecutionError):
            return NotebookResult(notebook, "ok", seconds, executed=written)  # only raises-exception cells failed
        return NotebookResult(notebook, "failed", seconds, error or f"{type(err).__name__}: {err}".strip(), written)


def run_notebooks(
    notebooks: list[Path], out_dir: Path, parameters: dict | None = None, timeout: int = 600, workers: int = 0
) -> list[NotebookResult]:
    """Execute ``notebooks`` across ``workers`` processes (0: one per core) with a progress bar; each
    executed copy goes to :func:`executed_path` (its relative path kept inside ``out_dir``)."""
    workers = workers or os.cpu_count() or 1
    outputs = [executed_path(nb, out_dir) for nb in notebooks]
    if len(set(outputs)) != len(outputs):
        raise ValueError("two notebooks would share one executed copy: name each notebook once")
    results = []
    with ProcessPoolExecutor(max_workers=min(workers, max(len(notebooks), 1))) as pool:
        futures = [
            pool.submit(execute_notebook, nb, out_dir, parameters, timeout, output)
            for nb, output in zip(notebooks, outputs, strict=True)
        ]
        for future in tqdm(as_completed(futures), total=len(futures), desc="notebooks", unit="nb"):
            results.append(future.result())
    order = {nb: i for i, nb in enumerate(notebooks)}
    return sorted(results, key=lambda r: order[r.notebook])


def format_table(results: list[NotebookResult]) -> str:
    width = max([len(str(r.notebook)) for r in results] + [8])
    lines = [f"{'notebook':<{width}}  {'status':<6}  {'seconds':>7}", "-" * (width + 17)]
    lines += [f"{str(r.notebook):<{width}}  {r.status:<6}  {r.seconds:>7.1f}" for r in results]
    return "\n".join(lines)


def parse_parameter(text: str) -> tuple[str, object]:
    """``KEY=VALUE`` from the command line as a papermill parameter, the value read as YAML."""
    import yaml

    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ValueError(f"parameter {text!r} is not KEY=VALUE")
    return key, yaml.safe_load(value)
