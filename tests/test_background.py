"""BackgroundServer: waits for a real HTTP server, reports a process that dies, always stops it."""

from __future__ import annotations

import sys

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
    with pytest.raises(RuntimeError, match=r"exited with 3:\s+no model here"):
        BackgroundServer(crash, f"http://127.0.0.1:{free_port()}/", timeout=30).start()


def test_a_process_that_never_answers_is_stopped_after_the_timeout():
    silent = BackgroundServer(
        [sys.executable, "-c", "import time; time.sleep(60)"], f"http://127.0.0.1:{free_port()}/", timeout=1
    )
    with pytest.raises(TimeoutError, match="did not answer within 1 s"):
        silent.start()
    assert silent.process.poll() is not None, "the silent process was left running"
