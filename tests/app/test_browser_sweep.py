"""The sweep over the number of units in a real browser (issue 16): on the demo corpus, two sizes
of the NVIL-trained SBN and LDA with short budgets; Enter in the sizes field starts nothing, the
button does; the chart appears while the sweep runs, the table when it is finished, and its
models are listed in Compare. The finished page is docs/screenshots/sweep.png."""

from __future__ import annotations

import re

import pytest

from tests.app.browser import WAIT, goto_page, idle, open_app, screenshot, set_number, settings_box

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NAMES = ("sweep-sbn_nvil-5", "sweep-lda-5", "sweep-sbn_nvil-10", "sweep-lda-10")


def test_a_sweep_fills_its_chart_and_its_models_open_in_compare(browser, server):
    context, page = open_app(browser, server)
    goto_page(page, "Train")
    box = settings_box(page, "sweep_settings")
    set_number(page, "Time budget per model (s)", 3, box)
    idle(page)
    sizes = box.get_by_label("Sizes (units / topics)", exact=True)
    sizes.fill("5, 10")
    sizes.press("Enter")
    idle(page)
    main = page.locator('[data-testid="stMain"]')
    assert "Sweeping the number of units" not in main.inner_text()

    box.get_by_role("button", name="Run sweep").click()
    page.get_by_text(re.compile(r"Pair [1-4] of 4: ")).first.wait_for(timeout=WAIT)
    # Once the first pair is finished the chart is drawn while the others train.
    page.get_by_text(re.compile(r"sweep: [1-3] of 4 finished")).first.wait_for(timeout=120_000)
    page.locator('[data-testid="stVegaLiteChart"]').first.wait_for(timeout=WAIT)
    page.get_by_text("The sweep is finished: 4 models").wait_for(timeout=240_000)
    idle(page)
    page.get_by_role("heading", name="Number of units: the latest sweep").wait_for(timeout=WAIT)
    assert page.locator('[data-testid="stVegaLiteChart"]').count() >= 1
    assert "the best validation bound is at" in main.inner_text()
    sidebar = page.locator('[data-testid="stSidebar"]').inner_text()
    assert all(name in sidebar for name in NAMES), sidebar
    screenshot(page, "sweep")

    goto_page(page, "Compare")
    page.get_by_role("heading", name="Figures").wait_for(timeout=120_000)
    idle(page, timeout=120_000)
    chosen = page.locator('[data-testid="stMultiSelect"]').first.inner_text()
    assert all(name in chosen for name in NAMES), chosen
    context.close()
