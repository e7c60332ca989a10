"""BackgroundServer: waits for a real HTTP server, reports a process that dies, always stops it."""

from __future__ import annotations

import gc
import sys
import warnings

import pytest

from opslab.background import BackgroundServer, free_port


def test_waits_until_the_url_answers_then_stops_the_process():
    port = free_port()
    server = BackgroundServer(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        f"http://127.0.0.1:{port}/",
        timeout=30,
    )
    with server:
        assert server.process.poll() is None
    assert server.process.poll() is not None, "the process outlived the with block"


def test_a_process_that_exits_is_reported_with_its_output():
    crash = [sys.executable, "-c", "print('no model here'); raise SystemExit(3)"]
    with pytest.raises(RuntimeError, match=r"exited with code 3:\s+no model here"):
        BackgroundServer(crash, f"http://127.0.0.1:{free_port()}/", timeout=30).start()


def test_a_process_that_never_answers_is_stopped_after_the_timeout():
    silent = BackgroundServer(
        [sys.executable, "-c", "import time; time.sleep(60)"], f"http://127.0.0.1:{free_port()}/", timeout=1
    )
    with pytest.raises(TimeoutError, match="did not answer within 1 s"):
        silent.start()
    assert silent.process.poll() is not None, "the silent process was left running"


def _resource_warnings_of(cycle) -> list[str]:
    """The ResourceWarnings (unclosed files, pipes, sockets) raised by running ``cycle`` and collecting it."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        cycle()
        gc.collect()
    return [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]


@pytest.mark.parametrize("keep_log", [False, True], ids=["temporary-log", "log-file"])
def test_a_start_stop_cycle_leaves_no_file_open_and_keeps_the_output(tmp_path, keep_log):
    port = free_port()
    log_path = tmp_path / "server.log" if keep_log else None
    outputs = []

    def cycle():
        server = BackgroundServer([sys.executable, "-u", "-m", "http.server", str(port), "--bind", "127.0.0.1"],
                                  f"http://127.0.0.1:{port}/", timeout=30, log_path=log_path)
        with server:
            pass
        outputs.append(server.output())  # still readable once the log file is closed

    assert _resource_warnings_of(cycle) == []
    assert "GET / HTTP" in outputs[0], outputs[0]
    if keep_log:
        assert "GET / HTTP" in log_path.read_text()


def test_a_server_that_fails_to_start_leaves_no_file_open():
    def cycle():
        crash = [sys.executable, "-c", "print('no model here'); raise SystemExit(3)"]
        with pytest.raises(RuntimeError, match="no model here"):
            BackgroundServer(crash, f"http://127.0.0.1:{free_port()}/", timeout=30).start()

    assert _resource_warnings_of(cycle) == []


def test_a_foreign_server_on_the_port_is_a_clear_error_never_ready():
    """The URL answers 2xx, but from a server this BackgroundServer did not start (the learner's own
    server on the port, say): that is an error naming the other process, not "ready"."""
    import http.server
    import os
    import threading

    from opslab.background import ServerError

    foreign = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=foreign.serve_forever, daemon=True).start()
    port = foreign.server_address[1]
    never_binds = BackgroundServer([sys.executable, "-c", "import time; time.sleep(60)"],
                                   f"http://127.0.0.1:{port}/", timeout=30)
    try:
        with pytest.raises(ServerError, match=rf"not from server .*pid {os.getpid()}\) listens on port {port}"):
            never_binds.start()
        assert never_binds.process.poll() is not None, "the child was left running"
    finally:
        foreign.shutdown()
        foreign.server_close()


def test_readiness_survives_an_answer_that_is_not_http_and_stop_never_raises():
    """A port that answers garbage is "not ready yet" (then a timeout), never a crash of the poller; and
    stop() returns even when the process ignores SIGTERM and outlives every wait."""
    import socket
    import subprocess
    import threading

    garbage = socket.create_server(("127.0.0.1", 0))
    port = garbage.getsockname()[1]

    def answer_garbage():
        while True:
            try:
                connection, _ = garbage.accept()
            except OSError:
                return
            connection.sendall(b"\x00\x01 not http at all\r\n\r\n")
            connection.close()

    threading.Thread(target=answer_garbage, daemon=True).start()
    server = BackgroundServer([sys.executable, "-c", "import time; time.sleep(60)"], f"http://127.0.0.1:{port}/",
                              timeout=2)
    try:
        with pytest.raises(TimeoutError, match="did not answer within 2 s"):
            server.start()
    finally:
        garbage.close()
    stubborn = BackgroundServer([sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, "
                                 "signal.SIG_IGN); print('up', flush=True); time.sleep(60)"], "http://127.0.0.1:1/")
    stubborn.launch()
    real_wait = stubborn.process.wait

    def wait(timeout=None):  # as a process stuck in the kernel would: even SIGKILL does not end it in time
        raise subprocess.TimeoutExpired(stubborn.args, timeout)

    stubborn.process.wait = wait
    try:
        stubborn.stop(grace=0.5)  # must not raise
        assert stubborn._log is None, "the log was not closed"
    finally:
        stubborn.process.wait = real_wait
        stubborn.kill()
