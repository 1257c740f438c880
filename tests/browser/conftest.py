"""Real-browser fixtures: Debian's Chromium driven by Playwright (never a downloaded browser),
and the app served for real by werkzeug in a thread, CSRF on, on the test's SQLite database."""
from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--no-first-run", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1366, "height": 768}
TIMEOUT_MS = 10_000


def _launch(pw):
    return pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS, timeout=30_000)


def why_no_browser() -> str | None:
    """None when Playwright can launch Debian's Chromium here; otherwise the reason it cannot."""
    if not os.access(CHROMIUM, os.X_OK):
        return f"no Chromium at {CHROMIUM}: install Debian's 'chromium' package (make browser does, as root)"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        return f"Playwright for Python is not installed ({exc}); pip install -e '.[dev]'"
    try:
        with sync_playwright() as pw:
            _launch(pw).close()
    except Exception as exc:  # any launch failure means: no browser here, say why
        return f"Playwright cannot launch {CHROMIUM}: {type(exc).__name__}: {_brief(exc)}"
    return None


def _brief(exc: Exception) -> str:
    """The launch error without Playwright's echo of the whole command line."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip() and "<launching>" not in line]
    text = " | ".join(lines[:6])
    return text if len(text) <= 500 else text[:500] + " …"


@pytest.fixture(scope="module")
def chromium_browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        try:
            browser = _launch(pw)
        except Exception as exc:
            pytest.skip(f"Playwright cannot launch {CHROMIUM}: {type(exc).__name__}: {_brief(exc)}")
        yield browser
        browser.close()


@pytest.fixture
def live_server(db_url, request) -> str:
    """The app served over HTTP on 127.0.0.1 (a free port); yields its base URL."""
    if not db_url.startswith("sqlite"):  # checked before deploying anything on another backend
        pytest.skip("the browser tests run on SQLite only")
    deployed = request.getfixturevalue("deployed")
    assert deployed.engine.dialect.name == "sqlite"
    from werkzeug.serving import make_server

    from orchestrator.web import create_app
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "DATABASE_URL": "unused"}, env=deployed)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="polku-live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture
def page(chromium_browser, live_server):
    """A fresh browser context (no cookies) at 1366×768 on the live server; fails on page
    script errors and on server errors (5xx) it saw."""
    context = chromium_browser.new_context(base_url=live_server, viewport=VIEWPORT, locale="fi-FI")
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    pg = context.new_page()
    script_errors: list[str] = []
    server_errors: list[str] = []
    pg.on("pageerror", lambda exc: script_errors.append(str(exc)))
    pg.on("response", lambda r: server_errors.append(f"{r.status} {r.request.method} {r.url}")
          if r.status >= 500 else None)
    try:
        yield pg
        assert not script_errors, f"script errors on the page: {script_errors}"
        assert not server_errors, f"server errors: {server_errors}"
    finally:
        context.close()


@pytest.fixture
def screenshot():
    """screenshot(page, name): saved as $POLKU_SCREENSHOTS/<name>.png when that is set, else nothing."""
    target = os.environ.get("POLKU_SCREENSHOTS")

    def take(pg, name: str) -> Path | None:
        if not target:
            return None
        folder = Path(target)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.png"
        pg.screenshot(path=str(path), full_page=True)
        return path
    return take
