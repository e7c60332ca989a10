"""Run graded notebooks with papermill in sandboxed kernels: ``python -m opslab.grade.execute``.

The grader keeps one of these per worker and sends it one job per submission. It owns the whole-notebook deadline (a
watchdog kills the kernel), the per-cell deadline (interrupt, then kill if the kernel ignores it) and
the output cap; it writes ``out/executed.ipynb`` where the learner's code cannot reach it and
answers on a private pipe. Each kernel is new; only papermill's import is shared between jobs.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import tempfile
import threading
import traceback
from pathlib import Path
from queue import Empty

import nbformat

STATUS_OK, STATUS_TIMEOUT, STATUS_CRASHED, STATUS_ERROR = "ok", "timeout", "crashed", "error"
MAX_MESSAGE_BYTES = 256 * 2**20  # one message from a kernel; the output caps then keep far less of it


def _client_class():
    from nbclient.exceptions import DeadKernelError
    from nbclient.util import ensure_async
    from papermill.clientwrap import PapermillNotebookClient

    class GradingClient(PapermillNotebookClient):
        """papermill's client with an output cap and a per-cell timeout that never stops the run."""

        output_limit = 200 * 1024  # bytes of output received per cell
        notebook_output_limit = 10 * 2**20  # ... and for the whole notebook
        interrupt_grace = 10
        on_kill = None  # set by the executor: kills the kernel (and everything the submission started)
        left: list | None = None  # set by the executor: what the notebook left running when its cells ended

        def papermill_execute_cells(self):
            super().papermill_execute_cells()
            process = getattr(self.km.provisioner, "process", None)  # the launcher, which ends in the kernel
            if process is not None and self.left is not None:
                self.left.extend(left_running(process.pid))

        def create_kernel_manager(self):
            """The kernel manager, whose clients' sockets refuse any one message over MAX_MESSAGE_BYTES (it
            never reaches this process's memory; the connection drops, and that notebook may stall until its
            deadline: no honest notebook sends one output that large)."""
            import zmq

            manager = super().create_kernel_manager()
            make_client, limit = manager.client, MAX_MESSAGE_BYTES

            def client(**kwargs):
                made = make_client(**kwargs)
                made.context.setsockopt(zmq.MAXMSGSIZE, limit)  # the default of every socket made after this
                return made

            manager.client = client
            return manager

        def process_message(self, msg, cell, cell_index):
            """Every message that adds to the notebook counts against the cell's cap and the notebook's:
            outputs, display updates (which rewrite outputs in place, in any cell), comm (widget) data."""
            if msg.get("msg_type") in ("status", "execute_input", "clear_output"):
                return super().process_message(msg, cell, cell_index)
            size = len(json.dumps(msg.get("content", {}), default=str)) + sum(len(b) for b in msg.get("buffers") or [])
            used = self._output_used.get(cell_index, 0)
            if used + size > self.output_limit or self._output_total + size > self.notebook_output_limit:
                if cell_index not in self._output_capped:
                    self._output_capped.add(cell_index)
                    where = (f"{self.output_limit // 1024} kB of this cell" if used + size > self.output_limit
                             else f"{self.notebook_output_limit // 1024} kB of this notebook")
                    cell.outputs.append(nbformat.v4.new_output(
                        "stream", name="stderr", text=f"[opslab grade: output beyond {where} was dropped]\n"))
                return None
            self._output_used[cell_index] = used + size
            self._output_total += size
            return super().process_message(msg, cell, cell_index)

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
            client._output_total, client._output_capped = 0, set()
            client.output_limit, client.on_kill, client.left = state["output_limit"], state["kill"], state["left"]
            client.notebook_output_limit = state["notebook_output_limit"]
            state["client"] = client
            try:
                return client.execute()
            finally:  # whatever happened, keep what ran (papermill rewrites its own copy on errors)
                final_path.write_text(nbformat.writes(nb_man.nb))

    papermill_engines.register("opslab-grading", GradingEngine)


def run(job: dict) -> dict:
    """Execute ``out/graded.ipynb`` of one job; return its status, detail and timed-out cells."""
    import papermill as pm
    from nbclient.exceptions import DeadKernelError
    from traitlets.config import Config

    from opslab.grade.sandbox import KERNEL_NAME, kill_user

    out, run_dir, uid = Path(job["out"]), Path(job["run"]), job["uid"]
    cell_timeout, notebook_timeout = job["cell_timeout"], job["notebook_timeout"]
    state = {"timed_out": [], "output_limit": job["output_kb"] * 1024, "deadline": False, "client": None,
             "notebook_output_limit": job.get("notebook_output_kb", 10 * 1024) * 1024,
             "left": []}

    def kill() -> None:
        if uid:
            kill_user(uid)
        client = state["client"]
        process = getattr(getattr(getattr(client, "km", None), "provisioner", None), "process", None)
        if process is not None and process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except OSError:
                pass

    def deadline() -> None:
        state["deadline"] = True
        kill()

    state["kill"] = kill
    register_engine(_client_class(), out / "executed.ipynb", state)
    os.environ.clear()
    os.environ.update(job["env"])  # the kernel inherits it: the submission's HOME, OPSLAB_HOME, kernelspec
    tempfile.tempdir = None  # recomputed from the job's TMPDIR (the previous job's folder is gone)
    watchdog = threading.Timer(notebook_timeout, deadline)
    watchdog.daemon = True
    config = Config({"KernelManager": {"transport": "ipc", "ip": str(run_dir / "kernel")}})
    # the kernel's own stderr (the jail's and bubblewrap's errors too) goes to a file of this job, so a
    # kernel that cannot start says why; it inherits the descriptor and cannot reopen the file
    saved_stderr = os.dup(2)
    log = os.open(out / "kernel.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    os.dup2(log, 2)
    os.close(log)
    watchdog.start()
    try:
        pm.execute_notebook(str(out / "graded.ipynb"), str(out / "progress.ipynb"), parameters=job["parameters"],
                            engine_name="opslab-grading", kernel_name=KERNEL_NAME, progress_bar=False,
                            execution_timeout=cell_timeout, start_timeout=60, cwd=job["work"], config=config)
        status, detail = STATUS_OK, ""
    except DeadKernelError as err:
        status, detail = STATUS_CRASHED, f"the kernel died ({err}); cells after that did not run"
    except pm.PapermillExecutionError:  # cells raised: expected, each question is scored on its own
        status, detail = STATUS_OK, ""
    except Exception as err:  # the kernel could not start, or papermill failed: the grader's problem
        status, detail = STATUS_ERROR, f"{type(err).__name__}: {err}. {kernel_log_tail(out)}".strip()
    finally:
        watchdog.cancel()
        kill()
        os.dup2(saved_stderr, 2)
        os.close(saved_stderr)
    if state["deadline"]:
        status, detail = STATUS_TIMEOUT, f"the notebook ran longer than {notebook_timeout} s; the rest did not run"
    elif state["timed_out"]:
        status = STATUS_TIMEOUT
        detail = f"a cell ran longer than {cell_timeout} s and was stopped. {detail}".strip()
    return {"status": status, "detail": detail, "timed_out_cells": state["timed_out"], "left": state["left"]}


def left_running(launcher: int) -> list[str]:
    """Command lines of what a notebook left running when its last cell ended: every live descendant of
    the kernel's ``launcher`` except the kernel and its own ancestors (the jail, bubblewrap), from /proc.

    A process the notebook started stays below the launcher, even in a session of its own or orphaned
    (inside the sandbox, orphans go to its init, one of those ancestors). The grader kills it all
    afterwards; a learner's machine would not, so the gradebook says what was left.
    """
    parents: dict[int, int] = {}
    about: dict[int, tuple[str, list[str]]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
            state, parent = text[text.rindex(")") + 2:].split()[:2]
            argv = (stat.parent / "cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]
        except (OSError, ValueError):
            continue
        parents[int(stat.parent.name)] = int(parent)
        about[int(stat.parent.name)] = (state, argv)

    def ancestors(pid: int) -> list[int]:
        found = []
        while pid in parents and pid not in found:
            found.append(pid)
            pid = parents[pid]
        return found

    below = [pid for pid in parents if launcher in ancestors(pid)[1:]]
    kernels = [pid for pid in below if about[pid][1][1:3] == ["-m", "ipykernel_launcher"]]
    keep = set(ancestors(min(kernels))) if kernels else set()  # the first started: a copy cannot hide behind it
    return [" ".join(about[pid][1]) or f"pid {pid}" for pid in sorted(below)
            if pid not in keep and about[pid][0] != "Z"]


def kernel_log_tail(out: Path, lines: int = 3) -> str:
    try:
        text = (out / "kernel.log").read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return ("The kernel said: " + " | ".join(text[-lines:]))[:600] if text else ""


def serve() -> int:
    """Run jobs, one JSON line in, one JSON line out, until stdin closes.

    The protocol moves to private descriptors and 0 and 1 become /dev/null, so kernels (which
    inherit only 0, 1 and 2) can neither read jobs nor write fake results. 2 stays the executor's log
    (what the grader quotes when this process dies), except while a job runs: then it is that job's
    kernel log, so a kernel never holds the executor's.
    """
    jobs = os.fdopen(os.dup(0), "r")
    results = os.fdopen(os.dup(1), "w")
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1):
        os.dup2(devnull, fd)
    os.close(devnull)  # 0 and 1 hold it now
    import papermill  # noqa: F401  (imported once for all jobs: that is the point of serving)

    with jobs, results:
        for line in jobs:
            job = json.loads(line)
            try:
                result = run(job)
            except Exception as err:  # never leave the grader waiting for an answer
                traceback.print_exc()  # into the executor's log
                sys.stderr.flush()
                result = {"status": STATUS_ERROR, "detail": f"{type(err).__name__}: {err}", "timed_out_cells": []}
            results.write(json.dumps(result) + "\n")
            results.flush()
    return 0


if __name__ == "__main__":
    sys.exit(serve())
