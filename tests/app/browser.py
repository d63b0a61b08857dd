"""The harness of the real-browser tests: the app as a Streamlit subprocess on a free local port,
Debian's chromium driven by Playwright's sync API (Playwright's own browser download is not used),
and the steps a user takes (go to a page, set a number, pick an option, train a model).
The fixtures that start the app and the browser are in ``conftest.py``."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT

CHROMIUM = Path(os.environ.get("DOCMODEL_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-quic", "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts"
SCREENSHOTS = ROOT / "docs" / "screenshots"
WIDTH = 1400
N_POSTS, PER_GROUP = 300, 15
WAIT = 60_000  # ms


def need_chromium() -> None:
    """Skip without chromium or Playwright, unless DOCMODEL_REQUIRE_SHARED_DATA makes it a failure."""
    reason = None
    if not CHROMIUM.exists():
        reason = f"chromium not found at {CHROMIUM} (install Debian's chromium: make browser)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "the playwright package is not installed (pip install -e '.[test]')"
    if reason is None:
        return
    if os.environ.get("DOCMODEL_REQUIRE_SHARED_DATA"):
        pytest.fail(reason + "; DOCMODEL_REQUIRE_SHARED_DATA is set, so this is a failure")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_app(log_path: Path, *options: str, env: dict | None = None):
    """Start the app on a free local port with extra ``--name=value`` options (and environment
    variables ``env`` besides this process's); yield its URL and process, and always stop it at
    the end."""
    port = free_port()
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(ROOT / "app" / "main.py"),
        f"--server.port={port}", "--server.address=127.0.0.1", "--server.headless=true",
        "--browser.gatherUsageStats=false", "--server.fileWatcherType=none", *options,
    ]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                env=None if env is None else {**os.environ, **env})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.read().strip() == b"ok":
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the app did not start:\n{log_path.read_text(errors='replace')[-3000:]}")
            time.sleep(0.3)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


# ---- steps -------------------------------------------------------------------------------------
def idle(page, timeout: float = WAIT) -> None:
    """Wait until the app has finished its current run (no 'running' indicator)."""
    page.wait_for_timeout(300)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout
    )
    page.wait_for_timeout(200)


def goto_page(page, title: str) -> None:
    page.locator('[data-testid="stSidebarNavLink"]', has_text=title).click()
    page.locator("h1", has_text=title).wait_for(timeout=WAIT)
    idle(page)


def screenshot(page, name: str, wait_idle: bool = True) -> None:
    """A full-page screenshot (the app scrolls inside its main block, so grow the viewport)."""
    if wait_idle:
        idle(page)
    height = page.evaluate(
        "() => { const m = document.querySelector('[data-testid=\"stMain\"]');"
        " return Math.max(m ? m.scrollHeight : 0, 900); }"
    )
    page.set_viewport_size({"width": WIDTH, "height": int(height) + 40})
    page.wait_for_timeout(1200)  # charts re-lay out at the new size
    ARTIFACTS.mkdir(exist_ok=True)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    shutil.copyfile(ARTIFACTS / f"{name}.png", SCREENSHOTS / f"{name}.png")
    page.set_viewport_size({"width": WIDTH, "height": 900})


def set_number(page, label: str, value, scope=None) -> None:
    """Type ``value`` into the field labelled ``label`` (within ``scope``) and leave it with Tab,
    which commits it (one run of the page), as a user moving on to the next field does."""
    box = (scope if scope is not None else page).get_by_label(label, exact=True)
    box.fill(str(value))
    box.press("Tab")


def choose(page, label: str, option_text: str) -> None:
    """Pick an option of a selectbox by typing part of it."""
    box = page.locator('[data-testid="stSelectbox"]', has_text=label).first
    box.click()
    page.keyboard.type(option_text)
    page.get_by_role("option").filter(has_text=option_text).first.click()
    idle(page)


def settings_box(page, key: str):
    """The Train page's box of one model's settings (``sbn_settings``, ``lda_settings``)."""
    return page.locator(f".st-key-{key}")


def train(page, box_key: str, fields: dict, button: str, name: str, shot: str | None = None) -> None:
    """Set ``fields`` (label -> value) in a Train page box, press its button, wait for the model."""
    box = settings_box(page, box_key)
    for label, value in fields.items():
        set_number(page, label, value, box)
        idle(page)
    box.get_by_role("button", name=button).click()
    if shot:  # the live progress: bar, time left, validation curve
        page.get_by_text(re.compile(r" % · ([3-9]|\d\d+)(\.\d)? epochs ·")).wait_for(timeout=WAIT)
        page.locator('[data-testid="stVegaLiteChart"]').first.wait_for(timeout=WAIT)
        screenshot(page, shot, wait_idle=False)
    page.get_by_text(f"Model {name} is trained").wait_for(timeout=120_000)
    idle(page)


def compare_rows(page) -> dict[str, dict[str, str]]:
    """The Compare page's figures table: model name -> {column header: cell text}."""
    table = page.locator('[data-testid="stTable"]').first
    table.wait_for(timeout=WAIT)
    header = [c.strip() for c in table.locator("thead th").all_inner_texts()]
    rows = {}
    for row in table.locator("tbody tr").all():
        cells = [c.strip() for c in row.locator("th, td").all_inner_texts()]
        rows[cells[0]] = dict(zip(header, cells))
    return rows


def open_app(browser, url: str):
    """A new browser context on the app, once the demo corpus is ready; returns (context, page)."""
    context = browser.new_context(viewport={"width": WIDTH, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.goto(url)
    page.locator("h1", has_text="Corpus").wait_for(timeout=WAIT)
    page.get_by_text("Most frequent words").wait_for(timeout=WAIT)
    idle(page)
    return context, page
