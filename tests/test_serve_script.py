"""`make serve`: the book (a preview at once, the full build behind it), the lab server, the demo and the
monitoring stack come up together and go together."""

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from book_site import BANNER

from book_support import PRINTED, write_small_book
from conftest import REPO
from opslab.background import free_port, port_is_free


def get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read().decode(errors="replace")


@pytest.fixture
def small_book(tmp_path):
    return write_small_book(tmp_path)


def test_serve_starts_everything_prints_the_urls_and_stops_it_all_on_ctrl_c(small_book):
    ports = {"--port": free_port(), "--server-port": free_port(), "--demo-port": free_port(),
             "--prometheus-port": free_port(), "--alertmanager-port": free_port(), "--webhook-port": free_port()}
    taken = socket.socket()  # someone else's Prometheus on the requested port: serve picks another, says so
    taken.bind(("127.0.0.1", ports["--prometheus-port"]))
    taken.listen()
    command = [sys.executable, str(REPO / "scripts" / "serve.py"), "--book", str(small_book)]
    command += [str(x) for pair in ports.items() for x in pair]
    # SIGINT ignored in the child, as for a job a shell starts in the background: Ctrl-C must still work
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    printed = []
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            printed.append(line)
            if line.startswith("book (preview):"):  # served before anything else starts: the preview
                lab = get(f"http://127.0.0.1:{ports['--port']}/lab.html")[1]
                assert BANNER.split(",")[0] in lab and PRINTED not in lab
            if "Ctrl-C stops them all" in line:
                break
        text = "".join(printed)
        assert "Ctrl-C stops them all" in text, text[-3000:]
        book, server, demo, _, alertmanager, webhook = (f"http://127.0.0.1:{ports[k]}" for k in ports)
        assert f"{book}/" in text and f"{server}/docs" in text and f"{demo}/" in text
        assert f"port {ports['--prometheus-port']} is taken, so Prometheus uses port" in text
        prometheus = text.split("prometheus:")[1].split()[0].rstrip("/")
        assert f"{alertmanager}/" in text and f"{webhook}/received" in text
        assert "Page one." in get(f"{book}/intro.html")[1] and "book (preview):" in text
        assert get(f"{server}/health") == (200, '{"status":"ok"}')
        assert get(f"{server}/docs")[0] == 200
        assert get(f"{demo}/")[0] == 200
        assert get(f"{alertmanager}/-/ready")[0] == 200 and get(f"{webhook}/received") == (200, "[]")
        deadline = time.monotonic() + 60  # Prometheus scrapes the lab server it started (every 15 s)
        while time.monotonic() < deadline:
            targets = json.loads(get(f"{prometheus}/api/v1/targets")[1])["data"]["activeTargets"]
            if [t["health"] for t in targets] == ["up"]:
                break
            time.sleep(1)
        assert [(t["scrapeUrl"], t["health"]) for t in targets] == [(f"{server}/metrics", "up")]
        rules = json.loads(get(f"{prometheus}/api/v1/rules")[1])["data"]["groups"]
        assert {g["name"] for g in rules} == {"opslab-sli", "opslab-alerts"}
        while "the full book is served now" not in text and time.monotonic() < deadline + 240:  # executed behind
            line = process.stdout.readline()
            if not line:
                break
            text += line
        assert "the full book is served now" in text, text[-3000:]
        lab = get(f"{book}/lab.html")[1]
        assert PRINTED in lab and BANNER.split(",")[0] not in lab
    finally:
        taken.close()
        process.send_signal(signal.SIGINT)
        try:
            code = process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.terminate()  # the same clean stop path as Ctrl-C
            process.wait(timeout=60)
            raise
    assert code == 0
    assert "stopping the book, the lab server, the demo and the monitoring stack" in process.stdout.read()
    ports["--prometheus-port"] = int(prometheus.rsplit(":", 1)[1])
    deadline = time.monotonic() + 10
    while not all(port_is_free("127.0.0.1", p) for p in ports.values()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert all(port_is_free("127.0.0.1", p) for p in ports.values()), "something still listens after Ctrl-C"


def test_serve_without_a_built_book_says_what_to_run(tmp_path):
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "serve.py"), "--site", str(tmp_path)], capture_output=True, text=True
    )
    assert result.returncode == 1 and "run `make book` first" in result.stderr
