"""`make serve`: the book site, the lab server and the Gradio demo together, until Ctrl-C.

Trains the course's default model first when the registry has none (a fresh clone), prints the
three URLs, and stops all three on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OPSLAB = [sys.executable, "-m", "opslab"]


def wait_until_up(url: str, process: subprocess.Popen, name: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with code {process.returncode} before it answered")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"{name} did not answer on {url} within {timeout:.0f} s")


def start(command: list[str], name: str) -> subprocess.Popen:
    print(f"starting {name}: {' '.join(command[2:] if command[:2] == OPSLAB[:2] else command)}", flush=True)
    return subprocess.Popen(command, start_new_session=True)  # own process group: stopped as a whole


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def serve_site(site: Path, host: str, port: int) -> http.server.ThreadingHTTPServer:
    handler = functools.partial(QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer((host, port), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the signature is http.server's
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="the book site")
    parser.add_argument("--server-port", type=int, default=8000, help="the lab server")
    parser.add_argument("--demo-port", type=int, default=7860, help="the Gradio demo")
    parser.add_argument("--site", type=Path, default=REPO / "_build" / "html", help="the built book")
    args = parser.parse_args(argv)
    if not (args.site / "index.html").exists():
        print(f"serve: no built book in {args.site}; run `make book` first", file=sys.stderr)
        return 1

    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    server_url = f"http://{args.host}:{args.server_port}"
    demo_url = f"http://{args.host}:{args.demo_port}"
    processes: list[subprocess.Popen] = []
    try:
        subprocess.run(OPSLAB + ["train"], check=True)  # no-op when the champion model exists
        server = start(OPSLAB + ["serve", "--host", args.host, "--port", str(args.server_port)], "lab server")
        processes.append(server)
        demo = start(
            OPSLAB + ["demo", "--host", args.host, "--port", str(args.demo_port), "--server-url", server_url], "demo"
        )
        processes.append(demo)
        wait_until_up(f"{server_url}/health", server, "lab server")
        wait_until_up(demo_url, demo, "demo")
        httpd = serve_site(args.site, args.host, args.port)
        print(f"\nbook:        http://{args.host}:{args.port}/", flush=True)
        print(f"lab server:  {server_url}/docs", flush=True)
        print(f"demo:        {demo_url}/", flush=True)
        print("Ctrl-C stops all three.", flush=True)
        while not stopping.is_set():
            for process, name in [(server, "lab server"), (demo, "demo")]:
                if process.poll() is not None:
                    print(f"serve: the {name} stopped (exit code {process.returncode}); stopping", file=sys.stderr)
                    return 1
            stopping.wait(1)
        httpd.shutdown()
        return 0
    except KeyboardInterrupt:
        return 0
    except (RuntimeError, subprocess.CalledProcessError) as err:
        print(f"serve: {err}", file=sys.stderr)
        return 1
    finally:
        stop(processes)


if __name__ == "__main__":
    sys.exit(main())
