"""Run one graded notebook with papermill in its sandboxed kernel: ``python -m opslab.grade.execute``.

The grader starts this in a child process per submission. It owns the whole-notebook deadline (a
watchdog kills the kernel), the per-cell deadline (interrupt, then kill if the kernel ignores it) and
the output cap, and writes ``out/executed.ipynb`` and ``out/result.json`` where the learner's code
cannot reach them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import threading
from pathlib import Path
from queue import Empty

import nbformat

STATUS_OK, STATUS_TIMEOUT, STATUS_CRASHED, STATUS_ERROR = "ok", "timeout", "crashed", "error"


def _client_class():
    from nbclient.exceptions import DeadKernelError
    from nbclient.util import ensure_async
    from papermill.clientwrap import PapermillNotebookClient

    class GradingClient(PapermillNotebookClient):
        """papermill's client with an output cap and a per-cell timeout that never stops the run."""

        output_limit = 200 * 1024
        interrupt_grace = 10
        on_kill = None  # set by the executor: kills the kernel (and everything the submission started)

        def output(self, outs, msg, display_id, cell_index):
            used = self._output_used.get(cell_index, 0)
            if used > self.output_limit:
                return None
            size = len(json.dumps(msg.get("content", {}), default=str))
            if used + size > self.output_limit:
                note = f"[opslab grade: output beyond {self.output_limit // 1024} kB of this cell was dropped]\n"
                outs.append(nbformat.v4.new_output("stream", name="stderr", text=note))
                self._output_used[cell_index] = self.output_limit + 1
                return None
            self._output_used[cell_index] = used + size
            return super().output(outs, msg, display_id, cell_index)

        async def _async_handle_timeout(self, timeout, cell=None):
            self.timed_out.append(self.nb.cells.index(cell) if cell in self.nb.cells else -1)
            if cell is not None:
                cell.outputs.append(nbformat.v4.new_output(
                    "error", ename="CellTimeoutError", evalue=f"this cell ran longer than {timeout} s and was stopped",
                    traceback=[]))
            await ensure_async(self.km.interrupt_kernel())
            try:  # an interrupted cell answers quickly; one that ignores SIGINT does not
                await ensure_async(self.kc.shell_channel.get_msg(timeout=self.interrupt_grace))
            except (Empty, asyncio.TimeoutError):
                self.on_kill()
                raise DeadKernelError("the kernel ignored the interrupt after a cell timeout") from None
            return {"content": {"status": "error", "ename": "CellTimeoutError", "evalue": "", "traceback": []}}

    return GradingClient


def register_engine(client_class, final_path: Path, state: dict):
    from papermill.engines import NBClientEngine, papermill_engines

    class GradingEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False, stdout_file=None,
                                     stderr_file=None, start_timeout=60, execution_timeout=None, **kwargs):
            client = client_class(nb_man, kernel_name=kernel_name, timeout=execution_timeout,
                                  startup_timeout=start_timeout, interrupt_on_timeout=True,
                                  raise_on_iopub_timeout=False, iopub_timeout=10, **kwargs)
            client._output_used, client.timed_out = {}, state["timed_out"]
            client.output_limit, client.on_kill = state["output_limit"], state["kill"]
            state["client"] = client
            try:
                return client.execute()
            finally:  # whatever happened, keep what ran (papermill rewrites its own copy on errors)
                final_path.write_text(nbformat.writes(nb_man.nb))

    papermill_engines.register("opslab-grading", GradingEngine)


def run(args) -> dict:
    import papermill as pm
    from jupyter_client.kernelspec import NoSuchKernel  # noqa: F401  (fails fast if jupyter is missing)
    from nbclient.exceptions import DeadKernelError
    from traitlets.config import Config

    from opslab.grade.sandbox import KERNEL_NAME, kill_user

    out, run_dir = Path(args.out), Path(args.run)
    state = {"timed_out": [], "output_limit": args.output_kb * 1024, "deadline": False, "client": None}

    def kill() -> None:
        if args.uid:
            kill_user(args.uid)
        client = state["client"]
        process = getattr(getattr(getattr(client, "km", None), "provisioner", None), "process", None)
        if process is not None:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except OSError:
                pass

    def deadline() -> None:
        state["deadline"] = True
        kill()

    state["kill"] = kill
    register_engine(_client_class(), out / "executed.ipynb", state)
    watchdog = threading.Timer(args.notebook_timeout, deadline)
    watchdog.daemon = True
    config = Config({"KernelManager": {"transport": "ipc", "ip": str(run_dir / "kernel")}})
    parameters = json.loads(args.parameters)
    watchdog.start()
    try:
        pm.execute_notebook(str(out / "graded.ipynb"), str(out / "progress.ipynb"), parameters=parameters,
                            engine_name="opslab-grading", kernel_name=KERNEL_NAME, progress_bar=False,
                            execution_timeout=args.cell_timeout, start_timeout=60, cwd=args.work, config=config)
        status, detail = STATUS_OK, ""
    except DeadKernelError as err:
        status, detail = STATUS_CRASHED, f"the kernel died ({err}); cells after that did not run"
    except pm.PapermillExecutionError:  # cells raised: expected, each question is scored on its own
        status, detail = STATUS_OK, ""
    except Exception as err:  # the kernel could not start, or papermill failed: the grader's problem
        status, detail = STATUS_ERROR, f"{type(err).__name__}: {err}"
    finally:
        watchdog.cancel()
        kill()
    if state["deadline"]:
        status, detail = STATUS_TIMEOUT, f"the notebook ran longer than {args.notebook_timeout} s; the rest did not run"
    elif state["timed_out"]:
        status = STATUS_TIMEOUT
        detail = (f"a cell ran longer than {args.cell_timeout} s and was stopped. " + detail).strip()
    return {"status": status, "detail": detail, "timed_out_cells": state["timed_out"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m opslab.grade.execute")
    parser.add_argument("--out", required=True, help="grader-only folder with graded.ipynb")
    parser.add_argument("--run", required=True, help="the kernel's socket folder")
    parser.add_argument("--work", required=True, help="the submission's working folder")
    parser.add_argument("--uid", type=int, default=0)
    parser.add_argument("--parameters", default="{}")
    parser.add_argument("--cell-timeout", type=int, default=120)
    parser.add_argument("--notebook-timeout", type=int, default=600)
    parser.add_argument("--output-kb", type=int, default=200)
    args = parser.parse_args(argv)
    result = run(args)
    (Path(args.out) / "result.json").write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
