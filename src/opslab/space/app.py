"""The Space's ASGI app: the lab server under /api and the Gradio demo at /, in one process.

The lab server is the unchanged app of :mod:`opslab.serve.app`, mounted at ``API_PREFIX``; the demo is
the unchanged Blocks of :mod:`opslab.demo.app`, mounted at the root with ``gradio.mount_gradio_app``, so
the page a Space shows is the demo. The demo still calls the lab server over HTTP, as it does anywhere
else: here at ``http://127.0.0.1:PORT/api``, the same process (``opslab space serve`` sets
``OPSLAB_SERVER_URL`` to that address before uvicorn starts).
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from dataclasses import replace

from fastapi import FastAPI

from opslab.serve.app import ServeSettings, create_app

API_PREFIX = "/api"


def create_space_app(settings: ServeSettings, server_url: str) -> FastAPI:
    """The lab server for ``settings`` at /api and the demo (a client of ``server_url``) at /. A Space is
    public: its lab server has no /predictions (the log of every visitor's input)."""
    from opslab.demo.app import build_demo, gr  # Gradio takes seconds to import: only when serving

    lab_server = create_app(replace(settings, public=True))

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # a mounted app's own lifespan never runs: this one loads the lab server's model and closes
        # its prediction log, as `opslab serve` does
        async with lab_server.router.lifespan_context(lab_server):
            yield

    app = FastAPI(title="opslab Space", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.mount(API_PREFIX, lab_server, name="lab-server")  # before the demo's mount at /, which takes the rest
    return gr.mount_gradio_app(
        app,
        build_demo(server_url),
        path="/",
        ssr_mode=False,  # no Node server: the page renders in the browser
        mcp_server=False,
        footer_links=["api"],
    )


def app_from_env() -> FastAPI:
    """The uvicorn factory ``opslab space serve`` uses: lab server settings and OPSLAB_SERVER_URL from env."""
    import os

    return create_space_app(ServeSettings.from_env(), os.environ["OPSLAB_SERVER_URL"])


__all__ = ["API_PREFIX", "create_space_app", "app_from_env"]
