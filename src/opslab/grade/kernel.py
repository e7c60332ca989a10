"""The grading kernel: ipykernel with a guard around the grader's own cells.

Started by the sandbox as ``python <this file> -f CONNECTION_FILE`` (a file, not ``-m``: nothing of
the submission has run yet, and nothing but the standard library is imported before the guard).

1. It reads the run's key from ``$OPSLAB_GUARD_KEY`` (a file) and deletes the file.
2. It installs an audit hook, which cannot be removed. The hook refuses further audit hooks (which
   could watch every compile and exec) and *notes* every call known to observe or rewrite other code:
   ``sys.settrace``/``setprofile``, gc's object walks, ``sys._current_frames``, replacing the
   guard's own code. Each note also replaces the key by an HMAC of itself and the note,
   so a note cannot be taken back: only the grader, which knows the first key, can follow the chain.
3. It runs ipykernel with :class:`GradingKernel`. A graded cell (first line :data:`MARKER`) runs with
   IPython's pipeline as it was at start: the submission's input and AST transformers, event
   callbacks, custom exception handler, replaced builtins and output streams are set aside for the
   cell (neither rewriting nor watching it) and put back after. What cannot be set aside is noted
   (the kernel's or the shell's methods replaced, a trace function), and the reply carries
   ``opslab_guard``: a signature of (request id, code hash, status, notes) that the grader checks
   (:func:`verify`).

A submission runs arbitrary code in this process, so it could in principle defeat any check made in
it (ctypes, reading its own memory). The guard closes the routes known to work and makes the others
leave a mark; the sandbox bounds the rest. The instructors' chapter states the threat model.
"""

from __future__ import annotations

import os
import sys

MARKER = "# opslab-graded-cell"
KEY_ENV = "OPSLAB_GUARD_KEY"
STAMP_EVENT, ARM_EVENT = "opslab.grade.stamp", "opslab.grade.arm"
WATCHED = frozenset({"sys.addaudithook", "sys.settrace", "sys.setprofile", "gc.get_objects", "gc.get_referrers",
                     "gc.get_referents", "sys._current_frames", "object.__setattr__", STAMP_EVENT, ARM_EVENT})


def chain(key: bytes, notes) -> bytes:
    """The key after ``notes``: what the guard's hook computes as it notes each one."""
    import hmac

    for note in notes:
        key = hmac.digest(key, note.encode(), "sha256")
    return key


def payload(msg_id: str, code: str, status: str, found: tuple) -> bytes:
    import hashlib

    return repr((msg_id, hashlib.sha256(code.encode()).hexdigest(), status, tuple(found))).encode()


def verify(key: bytes, guard, msg_id: str, code: str, status: str) -> tuple[bool, list[str]]:
    """(signature valid, notes) for one graded cell's reply; run by the grader, outside the sandbox."""
    import hmac

    if not isinstance(guard, dict):
        return False, []
    notes, found, stamp = guard.get("notes"), guard.get("found"), guard.get("stamp")
    if not (isinstance(notes, list) and isinstance(found, list) and isinstance(stamp, str)
            and all(isinstance(n, str) for n in notes + found)):
        return False, []
    expected = hmac.digest(chain(key, notes), payload(msg_id, code, status, tuple(found)), "sha256").hex()
    return hmac.compare_digest(expected, stamp), [*notes, *found]


def _install_hook(key: bytes) -> None:
    """The audit hook. Everything it uses is bound here, not looked up later (a submission may patch
    modules and builtins); it is reachable only through gc's object walks, which it notes."""
    import _hashlib

    digest, getframe, runtime_error = _hashlib.hmac_digest, sys._getframe, RuntimeError
    watched, to_tuple, protected_code = WATCHED, tuple, []
    state, notes = [key], []

    def note(text: str) -> None:
        notes.append(text)
        state[0] = digest(state[0], text.encode(), "sha256")

    def hook(event, args):
        if event not in watched:
            return
        if event == STAMP_EVENT:
            message, box = args
            if len(protected_code) == 2 and getframe(1).f_code is protected_code[0] \
                    and getframe(2).f_code is protected_code[1]:
                box.append(to_tuple(notes))
                box.append(digest(state[0], message, "sha256").hex())
            else:
                note("a signature was asked for outside the grader's code")
        elif event == ARM_EVENT:
            if protected_code:
                note("the guard was armed twice")
            else:
                protected_code.extend(args)
        elif event == "sys.addaudithook":
            note("sys.addaudithook: the submission tried to add an audit hook (refused)")
            raise runtime_error("graded notebooks may not add audit hooks")
        elif event == "object.__setattr__":  # replacing the code of the guard's own functions
            if args[1] == "__code__" and any(getattr(args[0], "__code__", None) is c for c in protected_code):
                note("the code of the grading kernel's guard was replaced")
        elif protected_code:  # after start-up: what ipykernel does at import is not the submission's
            note(f"{event} was called (it can watch or rewrite other code)")

    sys.addaudithook(hook)


def _read_key() -> bytes:
    path = os.environ.pop(KEY_ENV, "")
    if not path:
        return b""
    try:
        with open(path, "rb") as f:
            key = f.read()
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass
    return key


def _kernel_class():
    import builtins

    from ipykernel.ipkernel import IPythonKernel

    def stamp(message: bytes) -> list:
        box: list = []
        sys.audit(STAMP_EVENT, message, box)
        return box

    class Pristine:
        """IPython's pipeline as it was when the kernel started, and what the submission changed."""

        def __init__(self, kernel):
            shell = kernel.shell
            manager = shell.input_transformer_manager
            events = shell.events
            # (container, attribute or key): each must hold its start-up object with its start-up
            # contents during a graded cell, even if the submission rebound it
            self.slots = [(shell, "input_transformer_manager"), (shell, "events"), (events, "callbacks"),
                          (manager, "cleanup_transforms"), (manager, "line_transforms"),
                          (manager, "token_transformers"), (shell, "input_transformers_post"),
                          (shell, "ast_transformers"), *[(events.callbacks, k) for k in events.callbacks]]
            self.start = self._current()
            self.shell, self.kernel = shell, kernel
            self.exceptions = (shell.custom_exceptions, shell.CustomTB)
            self.builtins = dict(vars(builtins))
            self.streams = (sys.stdout, sys.stderr, sys.displayhook, sys.excepthook)
            self.methods = {cls: dict(vars(cls)) for obj in (kernel, shell, manager)
                            for cls in type(obj).__mro__ if cls.__module__.split(".")[0] in
                            ("ipykernel", "IPython", "opslab", "__main__")}
            self.own = {id(obj): set(vars(obj)) for obj in (kernel, shell, manager)}

        def changes(self) -> list[str]:
            """What the submission changed that cannot be set aside: the kernel's and the shell's code,
            a trace or profile function. (Transformers, event callbacks, exception handlers, builtins
            and streams are set aside during graded cells, so libraries may keep theirs.)"""
            found = []
            for cls, start in self.methods.items():
                patched = sorted(k for k, v in vars(cls).items() if start.get(k, v) is not v or k not in start)
                if patched:
                    found.append(f"the submission patched {cls.__qualname__}: {', '.join(patched[:5])}")
            for obj in (self.kernel, self.shell, self.shell.input_transformer_manager):
                added = sorted(k for k in set(vars(obj)) - self.own[id(obj)]
                               if callable(vars(obj)[k]) and hasattr(type(obj), k))  # shadows a method
                if added:
                    found.append(f"the submission replaced {type(obj).__name__} methods: {', '.join(added[:5])}")
            if sys.gettrace() is not None or sys.getprofile() is not None:
                found.append("a trace or profile function is set")
            return sorted(set(found))

        def _current(self) -> list:
            found = []
            for owner, name in self.slots:
                obj = owner.get(name) if isinstance(owner, dict) else getattr(owner, name, None)
                found.append((obj, list(obj) if isinstance(obj, list) else None))
            return found

        def swap(self):
            """Put the start-up state in place; return what was there, for :meth:`restore`."""
            saved = (self._current(),
                     (self.shell.custom_exceptions, self.shell.CustomTB), dict(vars(builtins)),
                     (sys.stdout, sys.stderr, sys.displayhook, sys.excepthook))
            self._put(self.start, self.exceptions, self.builtins, self.streams)
            return saved

        def restore(self, saved) -> None:
            self._put(*saved)

        def _put(self, lists, exceptions, builtin_values, streams) -> None:
            for (owner, name), (obj, contents) in zip(self.slots, lists):
                if isinstance(owner, dict):
                    owner[name] = obj
                else:
                    setattr(owner, name, obj)
                if isinstance(obj, list):
                    obj[:] = contents
            self.shell.custom_exceptions, self.shell.CustomTB = exceptions
            table = vars(builtins)
            for key in [k for k in table if k not in builtin_values]:
                del table[key]
            table.update(builtin_values)
            sys.stdout, sys.stderr, sys.displayhook, sys.excepthook = streams

    class GradingKernel(IPythonKernel):
        pristine: Pristine | None = None

        async def do_execute(self, code, silent, store_history=True, user_expressions=None, allow_stdin=False,
                             *, cell_meta=None, cell_id=None):
            run = super().do_execute(code, silent, store_history, user_expressions, allow_stdin,
                                     cell_meta=cell_meta, cell_id=cell_id)
            if not code.startswith(MARKER) or self.pristine is None:
                return await run
            found = self.pristine.changes()
            saved = self.pristine.swap()
            try:
                reply = await run
            finally:
                self.pristine.restore(saved)
            found = sorted(set(found) | set(self.pristine.changes()))
            msg_id = self.get_parent("shell").get("header", {}).get("msg_id", "")
            box = stamp(payload(msg_id, code, reply.get("status", ""), tuple(found)))
            if len(box) == 2:
                reply["opslab_guard"] = {"notes": list(box[0]), "found": found, "stamp": box[1]}
            return reply

    return GradingKernel, Pristine, stamp


def main() -> None:
    if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
        del sys.path[0]  # run as a file: its folder must not shadow modules
    key = _read_key()
    _install_hook(key)
    # In the sandbox's PID namespace the kernel's parent is the namespace's init, which ipykernel's
    # parent poller would take for a dead parent. The sandbox ends the kernel with its parent instead.
    os.environ.pop("JPY_PARENT_PID", None)
    from ipykernel.kernelapp import IPKernelApp

    kernel_class, pristine, stamp = _kernel_class()
    app = IPKernelApp.instance(kernel_class=kernel_class)
    app.initialize(sys.argv[1:])
    app.kernel.pristine = None  # an attribute of its own before the snapshot, so setting it is no change
    app.kernel.pristine = pristine(app.kernel)
    sys.audit(ARM_EVENT, stamp.__code__, kernel_class.do_execute.__code__)
    app.start()


if __name__ == "__main__":
    main()
