"""``opslab demo``: start the Gradio demo against a lab server, offline (no analytics, no share link)."""

from __future__ import annotations


def launch_demo(server_url: str | None = None, host: str = "127.0.0.1", port: int = 7860, block: bool = True):
    """Build and launch the demo; with ``block=False`` return the running Blocks (call ``.close()``)."""
    from opslab.demo.app import build_demo  # Gradio takes seconds to import: only when launching

    demo = build_demo(server_url)
    demo.launch(
        server_name=host,
        server_port=port,
        share=False,
        inbrowser=False,
        ssr_mode=False,
        mcp_server=False,
        prevent_thread_lock=not block,
        quiet=True,
    )
    return demo


def configure(parser) -> None:
    parser.add_argument(
        "--server-url",
        default=None,
        help="the lab server (default: $OPSLAB_SERVER_URL or http://127.0.0.1:8000)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7860, help="port (default: 7860)")


def command(args) -> int:
    from opslab.demo.client import server_url

    print(
        f"opslab demo: http://{args.host}:{args.port} (lab server: {server_url(args.server_url)})", flush=True
    )
    try:
        launch_demo(args.server_url, args.host, args.port, block=True)
    except OSError as err:  # most often: the port is taken (another demo, or `make serve` already runs)
        print(f"opslab demo: cannot serve on {args.host}:{args.port}: {err}")
        return 2
    return 0
