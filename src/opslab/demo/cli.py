"""``opslab demo [--server-url URL] [--port P]``: the Gradio demo that scores customers through the lab server."""

from __future__ import annotations

from opslab.demo.client import server_url
from opslab.demo.launch import launch_demo


def configure(parser) -> None:
    parser.add_argument(
        "--server-url",
        default=None,
        help="the lab server (default: $OPSLAB_SERVER_URL or http://127.0.0.1:8000)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7860, help="port (default: 7860)")


def command(args) -> int:
    print(
        f"opslab demo: http://{args.host}:{args.port} (lab server: {server_url(args.server_url)})", flush=True
    )
    try:
        launch_demo(args.server_url, args.host, args.port, block=True)
    except OSError as err:  # most often: the port is taken (another demo, or `make serve` already runs)
        print(f"opslab demo: cannot serve on {args.host}:{args.port}: {err}")
        return 2
    return 0
