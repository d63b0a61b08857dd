"""The app under concurrent use: eight browser sessions on one server, each with its own corpus.

One Streamlit server (started with a 1 MB upload limit) and one Debian chromium with eight
Playwright contexts. Every session uploads a small corpus of its own, with marker words no other
session has, prepares it and trains a small SBN; the steps are issued to all sessions before any
is waited for, so uploads, preparation and training overlap on the server. Meanwhile one session
first drops a 2 MB file on the uploader and must be told it is over the limit, then carries on.
At the end every session must show its own markers and none of the others' (in its page, its
sidebar and its model's top words), and the server's resident memory, sampled from
/proc/PID/status all along, must stay under a generous bound.

Browser helpers come from ``browser.py``; the server is started here because it needs
the smaller upload limit and its process id.
"""

from __future__ import annotations

import csv
import threading
from pathlib import Path

import numpy as np
import pytest

from tests.app.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    WAIT,
    goto_page,
    idle,
    need_chromium,
    running_app,
    set_number,
    settings_box,
)
from tests.time_limit import time_limit

pytestmark = [pytest.mark.browser, pytest.mark.slow]

N_SESSIONS = 8
UPLOAD_LIMIT_MB = 1
TOTAL_SECONDS = 600  # the whole test; a hang fails it
MAX_GROWTH_BYTES = 1 << 30  # over the idle server; eight sessions add far less
TRAIN_SECONDS = 15
COMMON = ("river", "mountain", "forest", "desert", "ocean", "valley", "glacier", "canyon")
TAGS = ("alpha", "bravo", "delta", "gamma", "sigma", "omega")


def markers(session: int) -> list[str]:
    """Words only this session's corpus has (letters only, so the tokenizer keeps them)."""
    letter = "abcdefghijklmnopqrstuvwxyz"[session]
    return [f"zq{letter}{tag}" for tag in TAGS]


def corpus_text(session: int) -> bytes:
    """600 documents, one per line: three of the session's markers and four common words each
    (enough that 10,000 epochs outlast the time budget: every session trains for all of it)."""
    rng = np.random.default_rng(session)
    own = markers(session)
    lines = [
        " ".join(rng.permutation([*rng.choice(own, 3, replace=False), *rng.choice(COMMON, 4)]))
        for _ in range(600)
    ]
    return ("\n".join(lines) + "\n").encode()


class RssSampler(threading.Thread):
    """Reads a process's resident set size from /proc every half second."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.samples, self.done = pid, [], threading.Event()

    def rss(self) -> int | None:
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            return None
        return None

    def run(self) -> None:
        while not self.done.wait(0.5):
            value = self.rss()
            if value is not None:
                self.samples.append(value)


@pytest.fixture
def limited_server(tmp_path):
    """The app on a free local port with a 1 MB upload limit; its URL and process."""
    with running_app(tmp_path / "streamlit.log", f"--server.maxUploadSize={UPLOAD_LIMIT_MB}") as app:
        yield app


def upload(page, name: str, data: bytes) -> None:
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(
        {"name": name, "mimeType": "text/plain", "buffer": data}
    )


def fill_training(page) -> None:
    """A small SBN that trains for its whole time budget, so that all sessions train at once."""
    box = settings_box(page, "sbn_settings")
    fields = {"Units per layer": 4, "Max. epochs": 10_000, "Time budget (s, 0 = none)": TRAIN_SECONDS,
              "Early-stopping patience (epochs)": 10_000}
    for label, value in fields.items():
        set_number(page, label, value, box)


def top_words_csv(page, tmp_path: Path, session: int) -> str:
    goto_page(page, "Models")
    with page.expect_download(timeout=WAIT) as download:
        page.get_by_role("button", name="Top words (CSV)").click()
    path = tmp_path / f"top-{session}.csv"
    download.value.save_as(path)
    with open(path, newline="", encoding="utf-8") as f:
        return " ".join(" ".join(row) for row in csv.reader(f))


def test_eight_sessions_upload_and_train_at_once_without_mixing(limited_server, tmp_path):
    need_chromium()
    from playwright.sync_api import sync_playwright

    url, proc = limited_server
    sampler = RssSampler(proc.pid)
    sampler.start()
    with time_limit(TOTAL_SECONDS), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            contexts = [browser.new_context(viewport={"width": 1400, "height": 900},
                                            accept_downloads=True) for _ in range(N_SESSIONS)]
            pages = [c.new_page() for c in contexts]
            for page in pages:
                page.goto(url, timeout=WAIT)  # eight pages load at once on a busy machine
            for page in pages:
                page.get_by_text("Most frequent words").wait_for(timeout=WAIT)
                idle(page)
                page.get_by_text("Upload files", exact=True).click()
            idle_rss = max(sampler.samples[-3:] or [sampler.rss() or 0])

            # Session 0 drops a file over the limit: it is told so, and nothing reaches the server.
            too_big = b"toolarge " * ((2 * UPLOAD_LIMIT_MB << 20) // 9)
            upload(pages[0], "too-big.txt", too_big)
            pages[0].get_by_text(f"File must be {UPLOAD_LIMIT_MB}.0MB or smaller").wait_for(timeout=WAIT)

            # Every session uploads its own corpus, then all prepare at once.
            for i, page in enumerate(pages):
                upload(page, f"docs-{markers(i)[0]}.txt", corpus_text(i))
            for page in pages:
                page.get_by_text("a text file, one document per line").wait_for(timeout=WAIT)
                idle(page)
            for page in pages:
                page.get_by_role("button", name="Prepare corpus").click()
            for page in pages:
                page.get_by_text("Corpus ready").wait_for(timeout=WAIT)
                idle(page)

            # All train at once.
            for page in pages:
                goto_page(page, "Train")
            for page in pages:  # every form filled first, then the eight buttons pressed together
                fill_training(page)
            for page in pages:
                settings_box(page, "sbn_settings").get_by_role("button", name="Train SBN").click()
            assert pages[0].get_by_text("Model sbn-nvil-4 is trained").count() == 0, (
                "the first session finished before the last one started: nothing ran at once"
            )
            for page in pages:
                page.get_by_text("Model sbn-nvil-4 is trained").wait_for(timeout=240_000)
                idle(page)

            # Nobody sees anybody else's data: not in the page, the sidebar or the model.
            for i, page in enumerate(pages):
                others = [m for j in range(N_SESSIONS) if j != i for m in markers(j)]
                goto_page(page, "Corpus")
                html = page.content()
                sidebar = page.locator('[data-testid="stSidebar"]').inner_text()
                words = top_words_csv(page, tmp_path, i)
                assert f"upload: docs-{markers(i)[0]}.txt" in sidebar and "sbn-nvil-4" in sidebar
                assert any(m in html for m in markers(i)), f"session {i} lost its own documents"
                assert any(m in words for m in markers(i)), f"session {i}'s model lacks its words"
                leaked = [m for m in others if m in html or m in sidebar or m in words]
                assert leaked == [], f"session {i} sees {leaked}"
                assert "toolarge" not in html and "too-big.txt" not in sidebar
        finally:
            browser.close()
    sampler.done.set()
    sampler.join()
    assert proc.poll() is None, "the server died"
    peak = max(sampler.samples)
    assert len(sampler.samples) > 10
    assert peak - idle_rss < MAX_GROWTH_BYTES, (
        f"server RSS peaked at {peak / 2**20:.0f} MiB (idle {idle_rss / 2**20:.0f} MiB)"
    )
    print(f"server RSS: idle {idle_rss / 2**20:.0f} MiB, peak {peak / 2**20:.0f} MiB over "
          f"{len(sampler.samples)} samples")
