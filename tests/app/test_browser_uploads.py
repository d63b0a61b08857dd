"""Bad uploads in a real browser (issue 15): a PNG renamed .csv or .txt, a table without text, a
chosen column without words and a PNG renamed .pt each show one sentence that names the file, and
the corpus or the models already there stay. The same uploads through AppTest, with the exact
messages, are in ``pages/test_upload_messages.py``; a model file loaded on the Models page is
listed in the sidebar at once."""

from __future__ import annotations

import pytest

from tests.app.browser import WAIT, choose, goto_page, idle, open_app, train
from tests.app.pages.test_upload_messages import PNG

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DEMO = "demo: Lee news stories"
PICK_TEXT = "choose the column that holds the documents' text in the Text column picker"
SCORES = ("id,score,body\n" + "".join(f"{i},{i * 0.5},some words about topic {i % 3}\n" for i in range(20))).encode()


def upload(page, name: str, data: bytes, mime: str) -> None:
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(
        {"name": name, "mimeType": mime, "buffer": data}
    )
    idle(page)


def the_error(page) -> str:
    """The one error the page shows, which must be one sentence (no line break, no traceback)."""
    alert = page.locator('[data-testid="stAlertContentError"] [data-testid="stMarkdownContainer"]')
    alert.first.wait_for(timeout=WAIT)
    assert alert.count() == 1, alert.all_inner_texts()
    text = alert.inner_text().strip()
    assert "\n" not in text and "Traceback" not in text and "--" not in text, text
    return text


def sidebar(page) -> str:
    return page.locator('[data-testid="stSidebar"]').inner_text()


def prepare(page) -> None:
    page.get_by_role("button", name="Prepare corpus").click()
    idle(page)


def png_csv(page) -> None:
    upload(page, "picture.csv", PNG, "text/csv")
    assert the_error(page) == (
        "picture.csv is not a CSV table: its bytes are not text (an image or other binary file?), and a CSV, "
        "TSV, JSON-lines or Parquet table with one document per row and a column of text was expected; upload "
        "such a table in the box above"
    )


def png_txt(page) -> None:
    upload(page, "picture.txt", PNG, "text/plain")
    assert the_error(page) == (
        "picture.txt is not a text file: its bytes are not text (an image or other binary file?), and plain text "
        "(one document per line, or the whole file as one document) was expected; upload such a file in the box "
        "above"
    )


def table_without_text(page) -> None:
    upload(page, "numbers.csv", b"a,b\n1,2\n3,4\n", "text/csv")
    page.get_by_text(f"(automatic) finds no column of text in numbers.csv (its columns: a, b); {PICK_TEXT}.",
                     exact=True).wait_for(timeout=WAIT)
    prepare(page)
    assert the_error(page) == (
        f"numbers.csv has no column of text for (automatic) to use (its columns: a, b); {PICK_TEXT}"
    )


def column_without_words(page) -> None:
    upload(page, "scores.csv", SCORES, "text/csv")
    choose(page, "Text column", "score")
    prepare(page)
    assert the_error(page) == (
        f"column 'score' of scores.csv gives no document with words: its values are not text or are empty; "
        f"{PICK_TEXT}"
    )


@pytest.mark.parametrize("bad_upload", [png_csv, png_txt, table_without_text, column_without_words])
def test_a_bad_corpus_upload_says_so_in_one_sentence_and_keeps_the_corpus(browser, server, bad_upload):
    context, page = open_app(browser, server)
    page.get_by_text("Upload files", exact=True).click()
    idle(page)
    bad_upload(page)
    assert "Corpus ready" not in page.locator('[data-testid="stMain"]').inner_text()
    assert f"Corpus: {DEMO}" in sidebar(page)
    page.get_by_role("heading", name=DEMO).wait_for(timeout=WAIT)  # its statistics are still shown
    context.close()


def test_a_png_renamed_pt_is_refused_and_a_loaded_model_joins_the_sidebar(browser, server):
    context, page = open_app(browser, server)
    goto_page(page, "Train")
    train(page, "lda_settings", {"Topics": 3, "Max. iterations (passes)": 3, "Time budget (s, 0 = none)": 0},
          "Train LDA", "lda-batch-3")
    goto_page(page, "Models")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download model (.pt)").click()
    checkpoint = download.value.path().read_bytes()

    upload(page, "picture.pt", PNG, "application/octet-stream")
    assert the_error(page) == (
        "picture.pt is not a docmodel model file (expected a .pt checkpoint saved by docmodel or the Models page)"
    )
    text = sidebar(page)
    assert "lda-batch-3 (LDA, 3 units)" in text and text.count("units)") == 1 and "picture" not in text, text

    # A real checkpoint is loaded and listed in the sidebar at once, beside the model already there.
    upload(page, "mine.pt", checkpoint, "application/octet-stream")
    page.get_by_text("Loaded mine (LDA, 3 units) into the workspace.").wait_for(timeout=WAIT)
    text = sidebar(page)
    assert "mine (LDA, 3 units)" in text and "lda-batch-3 (LDA, 3 units)" in text, text
    context.close()
