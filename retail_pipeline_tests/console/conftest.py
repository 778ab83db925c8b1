"""Browser fixtures for the console: the real sidecar on a loopback port, Debian's Chromium driven by
Playwright, a page signed in through the sign-in form, and the README's screenshots.

`make test` installs Chromium (Debian's package) when it is missing; CHROMIUM_PATH names another build.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine

from retail_pipeline.api.keys import create_api_key
from retail_pipeline.api.server import sidecar_server
from retail_pipeline.settings import PROJECT_ROOT
from retail_pipeline_tests.process_tree import free_port

SCREENSHOTS = PROJECT_ROOT / "docs" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update"]
VIEWPORT = {"width": 1366, "height": 850}


def chromium_path() -> str:
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail("no Chromium: `make test` installs Debian's chromium package; or set CHROMIUM_PATH")
    return path


@dataclass
class LiveSidecar:
    url: str
    app: FastAPI


@pytest.fixture
def live_sidecar(app: FastAPI) -> Iterator[LiveSidecar]:
    """The sidecar app over this test's database, served by uvicorn on a loopback port in a thread."""
    port = free_port()
    # The production server: it ends open event streams when it shuts down (api/server.py).
    server = sidecar_server(app, "127.0.0.1", port, log_level="warning", timeout_graceful_shutdown=1)
    thread = threading.Thread(target=server.run, name="live-sidecar", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the sidecar did not start on loopback")
        time.sleep(0.02)
    yield LiveSidecar(url=f"http://127.0.0.1:{port}", app=app)
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium per test module (each test gets its own context: cookies apart). Not per
    session: Playwright's sync API keeps its event loop running in the main thread while it is open, and
    every later test in the process calling asyncio.run() (the order assets, the channel clients) would
    fail with "cannot be called from a running event loop"."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser, live_sidecar: LiveSidecar):
    """new_page() → a Page in a fresh browser context (its own cookies) with the sidecar as base URL."""
    contexts = []

    def make():
        context = browser.new_context(base_url=live_sidecar.url, viewport=VIEWPORT)
        context.set_default_timeout(5000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def sign_in(page, api_key: str) -> None:
    page.goto("/console/signin")
    page.get_by_label("API key").fill(api_key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/console")


@pytest.fixture
def signed_in(new_page, engine: Engine) -> Callable[..., object]:
    """signed_in("operator") → a Page signed in through the form with a fresh key of that role."""

    def make(role: str = "operator", label: str | None = None):
        page = new_page()
        key = create_api_key(engine, role, label or f"{role} (browser test)")
        sign_in(page, key)
        page.api_key = key  # the test may need it (e.g. to revoke it)
        return page

    return make


@pytest.fixture
def screenshot() -> Callable[[object, str], Path]:
    """screenshot(page, "pack") → docs/screenshots/pack.png, the README's picture of that page."""

    def take(page, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 5000, f"{path} is nearly empty"
        return path

    return take
