"""Work is never lost, in a real browser: the demo corpus prepared with its own options and an
SBN trained; the page reloaded mid-training finds the corpus and the running job (progress,
cancel) and the job's model reaches Compare; the server stopped and started again on the same
data directory shows the same corpus, model and figures at the same address, while another
browser context gets a workspace of its own and reaches nothing by guessing. Then a server
SIGKILLed mid-training: started again, it resumes the run, whose model is kept, and every file
of the workspace is readable.

The harness (the app as a subprocess, Debian's chromium through Playwright) is in ``browser.py``
and ``conftest.py``.
"""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import torch

from tests.app.browser import WAIT, WIDTH, goto_page, idle, running_app, set_number, settings_box
from tests.app.test_workspace_recovery import readable

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TRAIN_SECONDS = 20


def workspace_of(page) -> str:
    page.wait_for_url(re.compile(r"[?&]workspace="), timeout=WAIT)
    return parse_qs(urlparse(page.url).query)["workspace"][0]


def sidebar(page) -> str:
    return page.locator('[data-testid="stSidebar"]').inner_text()


def open_page(browser, url: str, ready: str = "Most frequent words"):
    """A new browser context at ``url``, once ``ready`` shows; returns (context, page)."""
    context = browser.new_context(viewport={"width": WIDTH, "height": 900})
    page = context.new_page()
    page.goto(url, timeout=WAIT)
    page.get_by_text(ready).first.wait_for(timeout=WAIT)
    idle(page)
    return context, page


def prepare_demo(page, max_words: int) -> None:
    set_number(page, "Vocabulary size", max_words)
    idle(page)
    page.get_by_role("button", name="Prepare the demo corpus").click()
    page.get_by_text("Corpus ready").wait_for(timeout=WAIT)
    idle(page)
    assert f"{max_words:,} words" in sidebar(page)


def start_sbn(page, units: int) -> None:
    goto_page(page, "Train")
    box = settings_box(page, "sbn_settings")
    for label, value in {"Units per layer": units, "Max. epochs": 100_000, "Time budget (s, 0 = none)": TRAIN_SECONDS,
                         "Early-stopping patience (epochs)": 100_000}.items():
        set_number(page, label, value, box)
        idle(page)
    box.get_by_role("button", name="Train SBN").click()
    page.get_by_text(re.compile(r" % · ([2-9]|\d\d+)(\.\d)? epochs ·")).wait_for(timeout=WAIT)


def compare_rows(page) -> list[str]:
    goto_page(page, "Compare")
    table = page.locator('[data-testid="stTable"]').first
    table.wait_for(timeout=120_000)
    return [row.locator("th, td").first.inner_text().strip() for row in table.locator("tbody tr").all()]


def test_work_survives_a_reload_and_a_server_restart(browser, tmp_path):
    env = {"DOCMODEL_DATA_DIR": str(tmp_path / "data")}
    with running_app(tmp_path / "first.log", env=env) as (url, _):
        context, page = open_page(browser, url)
        ws_id = workspace_of(page)
        prepare_demo(page, 1000)
        start_sbn(page, 10)

        page.reload()  # mid-training: a new browser session on the same address
        page.locator("h1", has_text="Train").wait_for(timeout=WAIT)
        page.get_by_text(re.compile(r" % · [\d.]+ epochs? ·")).wait_for(timeout=WAIT)
        assert workspace_of(page) == ws_id
        assert "1,000 words" in sidebar(page) and "Training sbn-nvil-10 in the background" in sidebar(page)
        assert page.get_by_role("button", name="Cancel (keep the best model so far)").is_visible()
        page.get_by_text("Model sbn-nvil-10 is trained").wait_for(timeout=120_000)
        idle(page)
        assert compare_rows(page) == ["sbn-nvil-10"]
        context.close()

    with running_app(tmp_path / "second.log", env=env) as (url, _):
        context, page = open_page(browser, f"{url}/?workspace={ws_id}")
        assert workspace_of(page) == ws_id
        assert "1,000 words" in sidebar(page) and "sbn-nvil-10 (SBN, 10 units)" in sidebar(page)
        assert "Bookmark this page's address" in sidebar(page)
        assert compare_rows(page) == ["sbn-nvil-10"]  # figures read back

        # Another browser context: a workspace of its own, the demo and no model.
        other, page2 = open_page(browser, url)
        assert workspace_of(page2) != ws_id
        assert "2,000 words" in sidebar(page2) and "sbn-nvil-10" not in sidebar(page2)
        # Guessing: a near id and a path are refused, and reach nothing.
        near = ws_id[:-1] + ("A" if ws_id[-1] != "A" else "B")
        for guess, notice in ((near, "There is no workspace"), ("../" + ws_id, "does not hold a valid workspace id")):
            page2.goto(f"{url}/?workspace={guess}", timeout=WAIT)
            page2.get_by_text(notice).wait_for(timeout=WAIT)
            idle(page2)
            assert workspace_of(page2) not in (ws_id, near) and "sbn-nvil-10" not in sidebar(page2)
        other.close()

        # The sidebar's button starts afresh; the first workspace stays at its address.
        page.get_by_role("button", name="Start a new workspace").click()
        page.wait_for_url(lambda u: ws_id not in u, timeout=WAIT)
        # (The address changes before the new workspace's sidebar is drawn.)
        from playwright.sync_api import expect

        expect(page.locator('[data-testid="stSidebar"]')).not_to_contain_text("sbn-nvil-10", timeout=WAIT)
        page.goto(f"{url}/?workspace={ws_id}", timeout=WAIT)
        page.get_by_text("sbn-nvil-10 (SBN, 10 units)").wait_for(timeout=WAIT)
        context.close()


def saved_state(data: Path, ws_id: str) -> Path | None:
    """The resume state of the workspace's run once it has two saved epochs, else None."""
    for state in (data / "workspaces" / ws_id / "runs").glob("*/train_state.pt"):
        try:
            if torch.load(state, weights_only=True)["run"]["epoch"] >= 2:
                return state
        except (OSError, RuntimeError, KeyError):
            continue
    return None


def test_a_killed_server_resumes_the_run_and_keeps_its_model(browser, tmp_path):
    data = tmp_path / "data"
    env = {"DOCMODEL_DATA_DIR": str(data), "DOCMODEL_APP_STATE_SECONDS": "1"}
    with running_app(tmp_path / "first.log", env=env) as (url, proc):
        context, page = open_page(browser, url)
        ws_id = workspace_of(page)
        start_sbn(page, 8)
        deadline = time.monotonic() + 60
        while saved_state(data, ws_id) is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert saved_state(data, ws_id) is not None
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        context.close()
    readable(data / "workspaces" / ws_id)  # the kill left nothing half written

    with running_app(tmp_path / "second.log", env=env) as (url, _):
        context, page = open_page(browser, f"{url}/train?workspace={ws_id}", ready="Resumed after the server restarted")
        page.locator('[data-testid="stSidebar"]').get_by_text("Training sbn-nvil-8 in the background").wait_for(
            timeout=WAIT)
        page.get_by_text("Model sbn-nvil-8 is trained").wait_for(timeout=120_000)
        idle(page)
        assert "sbn-nvil-8 (SBN, 8 units)" in sidebar(page)
        assert compare_rows(page) == ["sbn-nvil-8"]  # the model is usable
        context.close()
    files = readable(data / "workspaces" / ws_id)
    assert "model.pt" in files and "train_state.pt" not in files
