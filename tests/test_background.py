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
