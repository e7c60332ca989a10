"""Launch the Gradio demo against a lab server, offline (no analytics, no share link)."""

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
