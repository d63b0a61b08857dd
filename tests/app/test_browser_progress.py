"""Training progress as a newcomer sees it, in a real browser (issue 15): a figure that moves and a
validation point within the first epoch of an SBN on the demo corpus, cancel that ends the run in
the epoch it was pressed in, and an epoch count that counts epochs (the models table's column is
checked with AppTest). Behaviour, not timings: the first epoch is made long (one document per
minibatch, two layers of 1,000 units) and the test watches what the page shows while it lasts."""

from __future__ import annotations

import re

import pytest

from tests.app.browser import WAIT, goto_page, idle, open_app, set_number, settings_box, train

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FIRST_EPOCH = re.compile(r"(\d+) % · 0\.\d epochs · ([\d,]+) documents seen")


def progress_text(page) -> str:
    bar = page.locator('[data-testid="stProgress"]')
    return bar.first.inner_text() if bar.count() else ""


def test_progress_a_validation_point_and_cancel_within_the_first_epoch(browser, server):
    context, page = open_app(browser, server)
    goto_page(page, "Train")
    box = settings_box(page, "sbn_settings")
    for label, value in {"Name": "live", "Units per layer": "1000, 1000", "Batch size (0 = automatic)": 1,
                         "Max. epochs": 1000, "Time budget (s, 0 = none)": 0}.items():
        set_number(page, label, value, box)
        idle(page)
    box.get_by_role("button", name="Train SBN").click()

    # A non-zero figure while the first epoch runs (the text says 0.x epochs done).
    seen = None
    for _ in range(600):
        match = FIRST_EPOCH.search(progress_text(page))
        if match and int(match.group(2).replace(",", "")) > 0:
            seen = match
            break
        page.wait_for_timeout(100)
    assert seen is not None, f"no progress within the first epoch; the bar said: {progress_text(page)!r}"

    # The live chart gets a validation point while the first epoch still runs.
    chart = page.locator('[data-testid="stVegaLiteChart"]')
    for _ in range(600):
        if chart.count() and FIRST_EPOCH.search(progress_text(page)):
            break
        page.wait_for_timeout(100)
    assert chart.count(), "no validation point on the live chart"
    assert FIRST_EPOCH.search(progress_text(page)), f"the first epoch ended first: {progress_text(page)!r}"

    # Cancel early in an epoch (the page shows the run as it was up to a second ago): the run ends
    # in that epoch, with its best model kept.
    early = re.compile(r" % · (\d+)\.[0-3] epochs ·")
    for _ in range(1200):
        match = early.search(progress_text(page))
        if match:
            break
        page.wait_for_timeout(50)
    assert match, f"never early in an epoch: {progress_text(page)!r}"
    page.get_by_role("button", name="Cancel (keep the best model so far)").click()
    ended = int(match.group(1)) + 1
    # (After the stop, fit still works out each unit's words: with 1,000 units that takes a while.)
    page.get_by_text(re.compile(rf"Model live is trained: {ended} epochs? in .* \(cancelled")).wait_for(timeout=3 * WAIT)
    idle(page)

    # A run that is not stopped counts its epochs, not its validations (one after the three).
    train(page, "sbn_settings", {"Name": "three", "Units per layer": 5, "Batch size (0 = automatic)": 0,
                                 "Max. epochs": 3}, "Train SBN", "three")
    page.get_by_text(re.compile(r"Model three is trained: 3 epochs in ")).wait_for(timeout=WAIT)
    context.close()
