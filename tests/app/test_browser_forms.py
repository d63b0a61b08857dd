"""Settings that do not surprise, in a real browser (issue 15): Enter in a model's Name field
starts no run, only the Train button does; settings and an uploaded file are kept when the user
visits another page and comes back."""

from __future__ import annotations

import pytest

from tests.app.browser import WAIT, goto_page, idle, open_app, set_number, settings_box, train

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TABLE = (
    "id,topic,body\n"
    + "".join(f"{i},{'ab'[i % 2]},{'apples pears plums figs' if i % 2 else 'cars vans trucks buses'} {i}\n"
              for i in range(20))
).encode()


def test_enter_in_the_name_field_does_not_start_a_run(browser, server):
    context, page = open_app(browser, server)
    goto_page(page, "Train")
    for key in ("sbn_settings", "lda_settings"):
        name = settings_box(page, key).get_by_label("Name", exact=True)
        name.fill(f"entered-{key[:3]}")
        name.press("Enter")
        idle(page)
    main = page.locator('[data-testid="stMain"]')
    assert "No models in this session yet." in main.inner_text()
    assert "Training entered" not in main.inner_text()
    assert page.locator('[data-testid="stProgress"]').count() == 0
    # The name entered is the one the button then trains under.
    train(page, "sbn_settings", {"Units per layer": 5, "Max. epochs": 2, "Time budget (s, 0 = none)": 0},
          "Train SBN", "entered-sbn")
    context.close()


def test_settings_and_an_upload_are_kept_after_visiting_other_pages(browser, server):
    context, page = open_app(browser, server)
    page.get_by_text("Upload files", exact=True).click()
    idle(page)
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(
        {"name": "fruit.csv", "mimeType": "text/csv", "buffer": TABLE}
    )
    page.get_by_text("a CSV table with columns id, topic, body").wait_for(timeout=WAIT)
    idle(page)
    set_number(page, "Vocabulary size", 1500)
    idle(page)

    goto_page(page, "Train")
    set_number(page, "Learning rate", "0.0085", settings_box(page, "sbn_settings"))
    idle(page)
    goto_page(page, "Compare")
    goto_page(page, "Train")
    assert settings_box(page, "sbn_settings").get_by_label("Learning rate", exact=True).input_value() == "0.0085"

    goto_page(page, "Corpus")
    assert page.get_by_label("Vocabulary size", exact=True).input_value() == "1500"
    page.get_by_text("Still uploaded from before: a CSV table with columns id, topic, body").wait_for(timeout=WAIT)
    page.get_by_role("button", name="Prepare corpus").click()
    page.get_by_text("Corpus ready").wait_for(timeout=WAIT)
    idle(page)
    assert "upload: fruit.csv" in page.locator('[data-testid="stSidebar"]').inner_text()
    context.close()
