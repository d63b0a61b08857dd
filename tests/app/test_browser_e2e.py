"""The app end to end in a real browser: upload 300 real newsgroup posts, prepare them, train a
small SBN and LDA, read the comparison, explore a unit and a document, download a CSV, score 40
posts of the test split, and check
that a second browser session sees none of it. Screenshots of every page go to test-artifacts/
and docs/screenshots/ (the README links those).

The harness (the app as a subprocess, Debian's chromium through Playwright) is in ``browser.py``
and ``conftest.py``.
"""

from __future__ import annotations

import csv
import io
import tarfile
import time

import pytest

from tests.app.browser import WAIT, WIDTH, choose, compare_rows, goto_page, idle, screenshot, train
from tests.conftest import shared_path

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PER_GROUP = 15  # 300 training posts


def newsgroup_csv(split: str = "20news-bydate-train", per_group: int = PER_GROUP) -> bytes:
    """The first ``per_group`` posts of each of the 20 groups of a 20 Newsgroups split
    (300 of the training split by default), as a CSV (id, label, text)."""
    tarball = shared_path("20news_bydate", "20news-bydate.tar.gz")
    counts: dict[str, int] = {}
    rows = []
    with tarfile.open(tarball) as tar:
        for member in tar:
            parts = member.name.split("/")
            if not member.isfile() or len(parts) != 3 or parts[0] != split:
                continue
            group = parts[1]
            if counts.get(group, 0) >= per_group:
                continue
            text = tar.extractfile(member).read().decode("latin-1")
            counts[group] = counts.get(group, 0) + 1
            rows.append({"id": f"{group}/{parts[2]}", "label": group, "text": text})
            if len(rows) >= 20 * per_group:
                break
    assert len(rows) == 20 * per_group and len(counts) == 20
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["id", "label", "text"])
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


# ---- the test -------------------------------------------------------------------------------
@pytest.fixture
def news_csv() -> bytes:
    return newsgroup_csv()


def show_a_coloured_document(page) -> None:
    """Choose, on the Explore or Score page, the first document of a newsgroup that switches a unit
    on, and wait for its coloured words. With a sparse prior some documents switch none on; the
    page then says so, and the next newsgroup is tried."""
    coloured = page.locator('[data-testid="stHtml"] span[title^="unit "]')
    for group in ("sci.space/", "rec.", "comp.", "talk.", "sci.", "alt.", "soc.", "misc."):
        choose(page, "Document", group)
        idle(page)
        if coloured.count() > 0:
            break
        assert page.get_by_text("is on for this document").count() > 0  # none on: said, not silent
    coloured.first.wait_for(timeout=WAIT)
    assert coloured.count() > 0


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
    train(page, "sbn_settings",
          {"Units per layer": 20, "Max. epochs": 200, "Time budget (s, 0 = none)": 15}, "Train SBN",
          "sbn-nvil-20", shot="train-progress")
    train(page, "lda_settings",
          {"Topics": 20, "Max. iterations (passes)": 30, "Time budget (s, 0 = none)": 6}, "Train LDA",
          "lda-batch-20")
    screenshot(page, "train")

    phase("training done")

    # Compare: the figures table lists both models with finite perplexities.
    goto_page(page, "Compare")
    rows = compare_rows(page)
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
    show_a_coloured_document(page)
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

    # Score: 40 posts of the test split, which no model has seen.
    goto_page(page, "Score new documents")
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(
        {"name": "new-posts.csv", "mimeType": "text/csv", "buffer": newsgroup_csv("20news-bydate-test", 2)}
    )
    page.get_by_text("The first rows of new-posts.csv").wait_for(timeout=WAIT)
    idle(page)
    page.get_by_role("button", name="Score", exact=True).click()
    page.get_by_text("Documents scored").wait_for(timeout=WAIT)
    idle(page)
    metrics = page.locator('[data-testid="stMetric"]').all_inner_texts()
    assert any("Documents scored" in m and "40" in m for m in metrics), metrics
    show_a_coloured_document(page)
    screenshot(page, "score")

    phase("score done")

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
