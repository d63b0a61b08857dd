"""The app end to end in a real browser: upload 300 real newsgroup posts, prepare them, train a
small SBN and LDA, read the comparison, explore a unit and a document, download a CSV, and check
that a second browser session sees none of it. Screenshots of every page go to test-artifacts/
and docs/screenshots/ (the README links those).

Runs Streamlit as a subprocess on a free local port and drives Debian's chromium with
Playwright's sync API (Playwright's own browser download is not used).
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT, shared_path

pytestmark = [pytest.mark.browser, pytest.mark.slow]

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


def newsgroup_csv() -> bytes:
    """300 posts of the 20 Newsgroups training split, 15 from each group, as a CSV
    (id, label, text)."""
    tarball = shared_path("20news_bydate", "20news-bydate.tar.gz")
    per_group: dict[str, int] = {}
    rows = []
    with tarfile.open(tarball) as tar:
        for member in tar:
            parts = member.name.split("/")
            if not member.isfile() or len(parts) != 3 or parts[0] != "20news-bydate-train":
                continue
            group = parts[1]
            if per_group.get(group, 0) >= PER_GROUP:
                continue
            text = tar.extractfile(member).read().decode("latin-1")
            per_group[group] = per_group.get(group, 0) + 1
            rows.append({"id": f"{group}/{parts[2]}", "label": group, "text": text})
            if len(rows) >= N_POSTS:
                break
    assert len(rows) == N_POSTS and len(per_group) == 20
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["id", "label", "text"])
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_app(log_path: Path, *options: str):
    """Start the app on a free local port with extra ``--name=value`` options; yield its URL and
    process, and always stop it at the end."""
    port = free_port()
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(ROOT / "app" / "main.py"),
        f"--server.port={port}", "--server.address=127.0.0.1", "--server.headless=true",
        "--browser.gatherUsageStats=false", "--server.fileWatcherType=none", *options,
    ]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
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


@pytest.fixture
def server(tmp_path):
    """The app on a free local port; always stopped at the end."""
    log_path = tmp_path / "streamlit.log"
    try:
        with running_app(log_path) as (url, _):
            yield url
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copyfile(log_path, ARTIFACTS / "streamlit.log")


@pytest.fixture
def browser():
    need_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


# ---- helpers -------------------------------------------------------------------------------
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


def set_number(page, label: str, value, form=None) -> None:
    scope = form if form is not None else page
    box = scope.get_by_label(label, exact=True)
    box.fill(str(value))
    box.press("Tab")


def choose(page, label: str, option_text: str) -> None:
    """Pick an option of a selectbox by typing part of it."""
    box = page.locator('[data-testid="stSelectbox"]', has_text=label).first
    box.click()
    page.keyboard.type(option_text)
    page.get_by_role("option").filter(has_text=option_text).first.click()
    idle(page)


def train(page, form_title: str, fields: dict, button: str, name: str, shot: str | None = None) -> None:
    form = page.locator('[data-testid="stForm"]', has_text=form_title)
    for label, value in fields.items():
        set_number(page, label, value, form)
    form.get_by_role("button", name=button).click()
    if shot:  # the live progress: bar, time left, validation curve
        page.get_by_text(re.compile(r"· epoch ([3-9]|\d\d+) ·")).wait_for(timeout=WAIT)
        page.locator('[data-testid="stVegaLiteChart"]').first.wait_for(timeout=WAIT)
        screenshot(page, shot, wait_idle=False)
    page.get_by_text(f"Model {name} is trained").wait_for(timeout=120_000)
    idle(page)


# ---- the test -------------------------------------------------------------------------------
@pytest.fixture
def news_csv() -> bytes:
    return newsgroup_csv()


def test_upload_train_compare_explore_download(news_csv, browser, server, tmp_path):
    data = news_csv
    started = time.monotonic()

    def phase(name: str) -> None:  # printed with the output of a failed run
        print(f"{time.monotonic() - started:6.1f} s  {name}", flush=True)

    context = browser.new_context(viewport={"width": WIDTH, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.goto(server)
    page.locator("h1", has_text="Corpus").wait_for(timeout=WAIT)
    page.get_by_text("Most frequent words").wait_for(timeout=WAIT)  # the demo corpus is ready
    idle(page)

    # Corpus: upload the CSV, strip the news headers, prepare.
    page.get_by_text("Upload files", exact=True).click()
    idle(page)
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(
        {"name": "newsgroups.csv", "mimeType": "text/csv", "buffer": data}
    )
    page.get_by_text("a CSV table with columns id, label, text").wait_for(timeout=WAIT)
    idle(page)
    page.get_by_text("Strip e-mail/news headers").click()
    idle(page)
    page.get_by_role("button", name="Prepare corpus").click()
    page.get_by_text("Corpus ready").wait_for(timeout=WAIT)
    idle(page)
    sidebar = page.locator('[data-testid="stSidebar"]')
    assert "upload: newsgroups.csv" in sidebar.inner_text()
    assert "237 training and 60 test documents" in sidebar.inner_text()  # 3 posts had no words left
    page.get_by_text("Documents per label").wait_for()
    screenshot(page, "corpus")

    phase("corpus done")

    # Train: a small SBN and LDA, a few seconds each.
    goto_page(page, "Train")
    train(page, "Sigmoid belief network",
          {"Units per layer": 20, "Max. epochs": 200, "Time budget (s, 0 = none)": 15}, "Train SBN",
          "sbn-nvil-20", shot="train-progress")
    train(page, "Latent Dirichlet allocation",
          {"Topics": 20, "Max. iterations (passes)": 30, "Time budget (s, 0 = none)": 6}, "Train LDA",
          "lda-batch-20")
    screenshot(page, "train")

    phase("training done")

    # Compare: the figures table lists both models with finite perplexities.
    goto_page(page, "Compare")
    table = page.locator('[data-testid="stTable"]').first
    table.wait_for(timeout=WAIT)
    header = [c.strip() for c in table.locator("thead th").all_inner_texts()]
    rows = {}
    for row in table.locator("tbody tr").all():
        cells = [c.strip() for c in row.locator("th, td").all_inner_texts()]
        rows[cells[0]] = dict(zip(header, cells))
    assert set(rows) == {"sbn-nvil-20", "lda-batch-20"}, rows
    for cells in rows.values():
        for column in ("perplexity (bound)", "perplexity (importance sampled)", "perplexity (document completion)"):
            assert 10 < float(cells[column].replace(",", "")) < 100_000, cells
        assert cells["label accuracy"].endswith("%") or cells["label accuracy"] == "n/a"
    screenshot(page, "compare")

    phase("compare done")

    # Explore: a unit's documents, then one document with its words coloured by unit.
    goto_page(page, "Explore")
    choose(page, "Unit", "3 ·")
    first_doc = page.locator('[data-testid="stDataFrame"]').nth(2)
    first_doc.wait_for()
    choose(page, "Document", "sci.space/")
    coloured = page.locator('[data-testid="stHtml"] span[title^="unit "]')
    coloured.first.wait_for(timeout=WAIT)
    assert coloured.count() > 0
    screenshot(page, "explore")

    phase("explore done")

    # Models: the document-unit CSV has one row per training document and one column per unit.
    goto_page(page, "Models")
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download document-unit probabilities").click()
    csv_path = tmp_path / "doc_unit.csv"
    download_info.value.save_as(csv_path)
    with open(csv_path, newline="", encoding="utf-8") as f:
        table_rows = list(csv.reader(f))
    header, body = table_rows[0], table_rows[1:]
    assert header[:2] == ["doc_id", "label"] and len(header) == 2 + 20
    assert len(body) == 237 and all(len(r) == len(header) for r in body)
    assert all(0.0 <= float(v) <= 1.0 for r in body for v in r[2:])
    screenshot(page, "models")

    phase("models done")

    # A second browser session has the demo corpus and no models: nothing leaks between sessions.
    other = browser.new_context(viewport={"width": WIDTH, "height": 900})
    page2 = other.new_page()
    page2.goto(server)
    page2.get_by_text("Most frequent words").wait_for(timeout=WAIT)
    idle(page2)
    side2 = page2.locator('[data-testid="stSidebar"]').inner_text()
    assert "demo: Lee news stories" in side2
    assert "newsgroups.csv" not in side2 and "sbn-nvil-20" not in side2
    other.close()
    assert "upload: newsgroups.csv" in page.locator('[data-testid="stSidebar"]').inner_text()
    context.close()
