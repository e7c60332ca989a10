"""A tiny webhook receiver: it records every JSON body POSTed to it, one line each, in a file.

Standard library only, so it starts in milliseconds (``python -S webhook_server.py --port P --out F``).
``GET /received`` answers everything recorded so far, ``GET /ready`` answers 200 once it listens.
"""

from __future__ import annotations

import argparse
import http.server
import json
import threading
import time

MAX_BODY = 1024 * 1024  # a notification of Alertmanager is a few kB; anything past this is refused (413)


class Recorder(http.server.BaseHTTPRequestHandler):
    out = None  # the JSON-lines file, set by main
    lock = threading.Lock()
    records: list = []

    def _answer(self, status: int, body) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):  # noqa: N802 - http.server's name
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return self._answer(400, {"detail": "Content-Length is not a number"})
        if length < 0 or length > MAX_BODY:
            self.close_connection = True  # the body is not read: the connection cannot be reused
            return self._answer(413, {"detail": f"the body is {length} bytes; at most {MAX_BODY} are accepted"})
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw)
        except ValueError:
            return self._answer(400, {"detail": "the body is not JSON"})
        record = {"received_at": time.time(), "path": self.path, "body": body}
        with self.lock:
            self.records.append(record)
            with open(self.out, "a") as f:
                f.write(json.dumps(record) + "\n")
        self._answer(200, {"status": "recorded"})

    def do_GET(self):  # noqa: N802
        if self.path == "/ready":
            return self._answer(200, {"status": "ready"})
        if self.path == "/received":
            with self.lock:
                return self._answer(200, list(self.records))
        self._answer(404, {"detail": f"no such path {self.path}: GET /received, POST anything"})

    def log_message(self, format, *args):  # noqa: A002
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", required=True, help="JSON-lines file to append each notification to")
    args = parser.parse_args()
    Recorder.out = args.out
    server = http.server.ThreadingHTTPServer((args.host, args.port), Recorder)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
