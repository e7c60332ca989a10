"""Serve the built book (and the course's live pieces) until Ctrl-C; `make serve` runs this."""

from __future__ import annotations

import argparse
import functools
import http.server
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="port of the book site")
    args = parser.parse_args()
    site = REPO / "_build" / "html"
    if not (site / "index.html").exists():
        print(f"serve: no built book in {site}; run `make book` first", file=sys.stderr)
        return 1
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    with http.server.ThreadingHTTPServer((args.host, args.port), handler) as httpd:
        print(f"book:       http://{args.host}:{args.port}/", flush=True)
        print("Ctrl-C stops everything.", flush=True)
        try:
            httpd.serve_forever()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
