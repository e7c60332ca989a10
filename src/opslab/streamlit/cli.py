"""``opslab streamlit [--server-url URL] [--host H] [--port P]``: the course's Streamlit app on a lab server."""

from __future__ import annotations

import os
import sys

from opslab.streamlit import streamlit_command


def configure(parser) -> None:
    parser.add_argument(
        "--server-url",
        default=None,
        help="the lab server (default: $OPSLAB_SERVER_URL or http://127.0.0.1:8000)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8501, help="port (default: 8501)")


def command(args) -> int:
    try:
        import streamlit  # noqa: F401  (the app needs it; say so before handing over)
    except ImportError:
        print("opslab streamlit: Streamlit is not installed (pip install streamlit, or opslab[all])")
        return 2
    argv = streamlit_command(args.server_url, args.port, args.host)
    print(f"opslab streamlit: http://{args.host}:{args.port} ({' '.join(argv[1:])})", flush=True)
    sys.stderr.flush()
    # Streamlit itself takes over this process, so Ctrl-C and SIGTERM reach it directly.
    os.execv(sys.executable, argv)
    return 0  # not reached
