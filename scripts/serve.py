"""`make serve`: the book site, the lab server and the Gradio demo together, until Ctrl-C.

Trains the course's default model first when the registry has none (a fresh clone), prints the
three URLs, and stops all three on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from opslab.background import BackgroundServer, ServerError, opslab_command

REPO = Path(__file__).resolve().parents[1]


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

    # Ctrl-C and a service manager's SIGTERM both stop everything: installed explicitly, because a
    # process started in the background by a shell inherits SIGINT as ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    server_url = f"http://{args.host}:{args.server_port}"
    demo_url = f"http://{args.host}:{args.demo_port}"
    server = BackgroundServer(
        opslab_command("serve", "--host", args.host, "--port", str(args.server_port)),
        f"{server_url}/ready",
        name="lab server",
    )
    demo = BackgroundServer(
        opslab_command("demo", "--host", args.host, "--port", str(args.demo_port), "--server-url", server_url),
        f"{demo_url}/",
        timeout=180,
        name="demo",
    )
    httpd = None
    try:
        subprocess.run(opslab_command("train"), check=True)  # says "nothing to do" when the champion exists
        print("starting the lab server and the demo", flush=True)
        server.launch()
        demo.launch()  # gradio takes a while to import: start both, then wait for each
        server.wait_until_ready()
        demo.wait_until_ready()
        httpd = serve_site(args.site, args.host, args.port)
        print(f"\nbook:        http://{args.host}:{args.port}/", flush=True)
        print(f"lab server:  {server_url}/docs", flush=True)
        print(f"demo:        {demo_url}/", flush=True)
        print("Ctrl-C stops all three.", flush=True)
        while True:
            for piece in (server, demo):
                if piece.process.poll() is not None:
                    print(f"serve: the {piece.name} stopped:\n{piece.output()}", file=sys.stderr)
                    return 1
            time.sleep(1)
    except KeyboardInterrupt:
        print("\nstopping the book, the lab server and the demo", flush=True)
        return 0
    except (ServerError, TimeoutError, subprocess.CalledProcessError) as err:
        print(f"serve: {err}", file=sys.stderr)
        return 1
    finally:
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        server.stop()
        demo.stop()


if __name__ == "__main__":
    sys.exit(main())
