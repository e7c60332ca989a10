"""Shared by the browser tests: Debian's Chromium under Playwright, and a recorder of the requests a
page makes (the course runs offline, so a page may only ask this machine)."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
LOCAL_SCHEMES = {"data", "blob", "about"}


@contextmanager
def chromium():
    """A headless Debian Chromium (closed on exit)."""
    from playwright import sync_api

    assert Path(CHROMIUM).exists(), f"no Chromium at {CHROMIUM}: scripts/setup.sh installs Debian's chromium"
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


def is_local(url: str) -> bool:
    """True for a URL on this machine (loopback) or one that needs no network (data:, blob:)."""
    parts = urlsplit(url)
    return parts.scheme in LOCAL_SCHEMES or (parts.hostname or "") in LOCAL_HOSTS


class RequestLog:
    """Every URL a page asks for (requests and WebSockets, in all its frames) inside ``with``."""

    def __init__(self, page):
        self.page, self.urls = page, []

    def __enter__(self) -> RequestLog:
        self.page.on("request", self.on_request)
        self.page.on("websocket", self.on_websocket)
        return self

    def __exit__(self, *exc) -> None:
        self.page.remove_listener("request", self.on_request)
        self.page.remove_listener("websocket", self.on_websocket)

    def on_request(self, request) -> None:
        self.urls.append(request.url)

    def on_websocket(self, socket) -> None:
        self.urls.append(socket.url)

    def foreign(self) -> list[str]:
        """The URLs that left this machine (sorted, without repeats)."""
        return sorted({url for url in self.urls if not is_local(url)})

