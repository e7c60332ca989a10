"""The lab server's interactive docs (Swagger UI at /docs), served offline.

FastAPI's own /docs page loads its JavaScript, CSS and favicon from CDNs, so with no network it is
blank. Here the same page loads the copies that the ``fastapi-offline`` package ships, from this
server. The app is created with ``docs_url=None, redoc_url=None`` and :func:`add_offline_docs` adds
/docs back. ReDoc (/redoc) stays off: its bundle always fetches its logo from Redocly's CDN.
"""

from __future__ import annotations

import re
from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_URL = "/docs"
ASSETS_URL = "/docs-assets"  # starts with /docs: the index page leaves it out of its endpoint list

# Swagger UI's defaults would ask validator.swagger.io to validate the schema and show its badge.
SWAGGER_PARAMETERS = {"validatorUrl": None}


def asset_folder() -> str:
    """Where the Swagger UI files are: the ``static`` folder of ``fastapi_offline``."""
    folder = files("fastapi_offline") / "static"
    if not (folder / "swagger-ui-bundle.js").is_file():
        raise RuntimeError(f"fastapi-offline's assets are missing from {folder}: reinstall fastapi-offline")
    return str(folder)


def referenced_urls(html: str) -> list[str]:
    """Every URL a Swagger UI page loads: ``src``/``href`` attributes and the schema's ``url: '...'``.

    A docs page that works offline references only paths of its own server (they start with ``/``);
    the lab server's tests and Lab 3.1's app check their /docs with it.
    """
    return re.findall(r"""(?:src|href)=["']([^"']+)["']""", html) + re.findall(r"url: '([^']+)'", html)


def add_offline_docs(app: FastAPI) -> None:
    """Serve /docs for ``app`` from local assets (``app`` has ``docs_url=None``)."""
    app.mount(ASSETS_URL, StaticFiles(directory=asset_folder()), name="docs-assets")

    def url(request: Request, path: str) -> str:
        return f"{request.scope.get('root_path', '')}{path}"

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=url(request, app.openapi_url),
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=app.swagger_ui_oauth2_redirect_url,
            swagger_js_url=url(request, f"{ASSETS_URL}/swagger-ui-bundle.js"),
            swagger_css_url=url(request, f"{ASSETS_URL}/swagger-ui.css"),
            swagger_favicon_url=url(request, f"{ASSETS_URL}/favicon.png"),
            swagger_ui_parameters={**SWAGGER_PARAMETERS, **(app.swagger_ui_parameters or {})},
        )

    @app.get(app.swagger_ui_oauth2_redirect_url, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()


__all__ = ["add_offline_docs", "referenced_urls", "DOCS_URL"]
