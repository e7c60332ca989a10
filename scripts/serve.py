"""`make serve`: the book site, the lab server, the Gradio demo and the monitoring stack, until Ctrl-C.

Serves the book first: a preview built with execution off, under a banner, while the full build executes
every lab behind it and replaces it when done (scripts/book_site.py); ``--site DIR`` serves a built site
as it is instead. Then trains the course's default model when the registry has none (a fresh clone),
starts Prometheus (scraping the lab server, with the course's rules) and Alertmanager (notifying a local
webhook receiver), prints every URL, and stops everything on Ctrl-C or SIGTERM.
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

from book_site import BookError, BookSite

from opslab.background import BackgroundServer, ServerError, free_port, opslab_command, port_is_free
from opslab.env import labs_home
from opslab.monitoring import MonitoringStack

REPO = Path(__file__).resolve().parents[1]


def serve_site(site: Path, host: str, port: int) -> http.server.ThreadingHTTPServer:
    handler = functools.partial(QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer((host, port), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the signature is http.server's
        pass


def pick_port(host: str, port: int, what: str) -> int:
    """``port`` if it is free, else a free one, said out loud (another Prometheus may run here)."""
    if port_is_free(host, port):
        return port
    other = free_port(host)
    print(f"serve: port {port} is taken, so {what} uses port {other}", flush=True)
    return other


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="the book site")
    parser.add_argument("--server-port", type=int, default=8000, help="the lab server")
    parser.add_argument("--demo-port", type=int, default=7860, help="the Gradio demo")
    parser.add_argument("--prometheus-port", type=int, default=9090, help="Prometheus (another if taken)")
    parser.add_argument("--alertmanager-port", type=int, default=9093, help="Alertmanager (another if taken)")
    parser.add_argument("--webhook-port", type=int, default=9095, help="the alert webhook receiver")
    parser.add_argument("--book", type=Path, default=REPO, help="the book to build and serve, its labs executed "
                        "behind a preview (default: the repository's)")
    parser.add_argument("--site", type=Path, help="a built book to serve as it is instead")
    args = parser.parse_args(argv)
    if args.site is not None and not (args.site / "index.html").exists():
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
    monitoring = MonitoringStack(
        labs_home() / "serve-monitoring",
        [server_url],
        prometheus_port=pick_port(args.host, args.prometheus_port, "Prometheus"),
        alertmanager_port=pick_port(args.host, args.alertmanager_port, "Alertmanager"),
        webhook_port=pick_port(args.host, args.webhook_port, "the webhook receiver"),
    )
    httpd = None
    book = BookSite(args.book.resolve()) if args.site is None else None
    try:
        if book is not None:  # the book first: a learner can read while the rest starts and the labs execute
            print("building the book's preview (labs not executed yet)", flush=True)
            book.show(book.build_preview())
            httpd = serve_site(book.served, args.host, args.port)
            print(f"book (preview): http://{args.host}:{args.port}/ (the labs execute behind it: "
                  f"{book.full_log})", flush=True)
            book.start_full_build()
        else:
            httpd = serve_site(args.site, args.host, args.port)
        subprocess.run(opslab_command("train"), check=True)  # says "nothing to do" when the champion exists
        print("starting the lab server and the demo", flush=True)
        server.launch()
        demo.launch()  # gradio takes a while to import: start both, then wait for each
        server.wait_until_ready()
        monitoring.start()
        demo.wait_until_ready()
        print(f"\nbook:          http://{args.host}:{args.port}/", flush=True)
        print(f"lab server:    {server_url}/docs", flush=True)
        print(f"demo:          {demo_url}/", flush=True)
        print(f"prometheus:    {monitoring.prometheus.url}/", flush=True)
        print(f"alertmanager:  {monitoring.alertmanager.url}/", flush=True)
        print(f"alert webhook: {monitoring.webhook.base_url}/received", flush=True)
        print("Ctrl-C stops them all.", flush=True)
        while True:
            if book is not None and book.full_build_state() in ("done", "failed"):
                if book.full_build_state() == "done":
                    book.show(book.full_html)
                    print("book: every lab executed; the full book is served now", flush=True)
                else:
                    print(f"serve: the book's full build failed; the preview stays (see {book.full_log})",
                          file=sys.stderr, flush=True)
                book.full = None
            for piece in (server, demo, monitoring.prometheus, monitoring.alertmanager, monitoring.webhook):
                if piece.process.poll() is not None:
                    print(f"serve: the {piece.name} stopped:\n{piece.output()}", file=sys.stderr)
                    return 1
            time.sleep(1)
    except KeyboardInterrupt:
        print("\nstopping the book, the lab server, the demo and the monitoring stack", flush=True)
        return 0
    except (ServerError, TimeoutError, subprocess.CalledProcessError, BookError) as err:
        print(f"serve: {err}", file=sys.stderr)
        return 1
    finally:
        if book is not None:
            book.stop()
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        monitoring.stop()
        server.stop()
        demo.stop()


if __name__ == "__main__":
    sys.exit(main())
