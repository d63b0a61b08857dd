"""The bench's other models in a real browser (issue 18): on the demo corpus, DocNADE and NVDM
trained from the Train page's "More models" box, both on Compare with finite perplexities (the
exact model marked so), and each explored: its units (DocNADE) or dimensions (NVDM) with their
words, and a document's words coloured by those on for it (or a note that none is)."""

from __future__ import annotations

import pytest

from tests.app.browser import (
    WAIT,
    choose,
    compare_rows,
    goto_page,
    idle,
    open_app,
    settings_box,
    train,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MODELS = (("DocNADE", "docnade-10", {"Units": 10}), ("NVDM", "nvdm-10", {"Dimensions": 10}))


def pick_kind(page, label: str) -> None:
    """Choose the model of the "More models" box."""
    box = settings_box(page, "bench_settings")
    box.locator('[data-testid="stSelectbox"]').first.click()
    page.keyboard.type(label)
    page.get_by_role("option").filter(has_text=label).first.click()
    idle(page)


def test_docnade_and_nvdm_train_compare_and_explore(browser, server):
    context, page = open_app(browser, server)
    goto_page(page, "Train")
    for label, name, size in MODELS:
        pick_kind(page, label)
        train(page, "bench_settings", {**size, "Time budget (s, 0 = none)": 6}, f"Train {label}", name)

    goto_page(page, "Compare")
    rows = compare_rows(page)
    assert set(rows) == {"docnade-10", "nvdm-10"}, rows
    for cells in rows.values():
        for column in ("perplexity (bound)", "perplexity (importance sampled)", "perplexity (document completion)"):
            assert 10 < float(cells[column].replace(",", "").rstrip("*")) < 100_000, cells
    main = page.locator('[data-testid="stMain"]').inner_text()
    assert "exact" in main  # DocNADE's figures are its exact likelihood, and the page says so

    # Explore: DocNADE first (the registry's order), NVDM beside it; then NVDM on its own. A
    # document's words are coloured by the units on for it; when none is on (an NVDM dimension is
    # on at a posterior mean above 1, which a model trained seconds may not reach), the page says so.
    goto_page(page, "Explore")
    coloured = page.locator('[data-testid="stHtml"] span[title^="unit "]')
    for name, unit_label in (("docnade-10", "Unit"), ("nvdm-10", "Dimension")):
        choose(page, "Model", name)
        page.locator('[data-testid="stSelectbox"]', has_text=unit_label).first.wait_for(timeout=WAIT)
        choose(page, unit_label, "3 ·")
        page.get_by_role("heading", name="Documents that switch a unit on").wait_for(timeout=WAIT)
        main = page.locator('[data-testid="stMain"]').inner_text()
        none_on = f"No {unit_label.lower()} is on for this document" in main
        assert none_on or coloured.count() > 0, (name, main[-2000:])
        if name == "docnade-10":
            assert coloured.count() > 0, main[-2000:]
        assert page.locator('[data-testid="stException"]').count() == 0
    context.close()
