"""The Score new documents page on uploads that hold no document (issue 16): an empty file, a text
file of blank lines, an archive without files, a table without rows. Each is one sentence that
names the upload as the user named it (never the server's staging path), with no traceback, and
the workspace's corpus, models and index stay as they were."""

from __future__ import annotations

import io
import zipfile

import pytest

from tests.app.pages.apptest import errors, run
from tests.app.pages.test_score_page import score, workspace_state


def empty_zip() -> bytes:
    held = io.BytesIO()
    with zipfile.ZipFile(held, "w"):
        pass
    return held.getvalue()


def test_an_empty_file_is_told_on_upload_and_offers_nothing_to_score(trained):
    at = trained
    before = workspace_state(at)
    at.switch_page("pages/score.py")
    run(at)
    at.file_uploader(key="score_upload").set_value(("empty.txt", b"", "text/plain"))
    run(at)
    assert errors(at) == ["empty.txt is empty; there are no documents in it"]
    assert "score_documents" not in [b.key for b in at.button]
    assert workspace_state(at) == before


@pytest.mark.parametrize(("name", "data", "mime", "expected"), [
    ("blank.txt", b"\n  \n\t\n", "text/plain", "blank.txt holds no documents; upload another file"),
    ("none.zip", empty_zip(), "application/zip", "none.zip holds no documents; upload another file"),
    ("header.csv", b"doc_id,body\n", "text/csv", "no documents in header.csv: the table has a header but no rows"),
])
def test_an_upload_without_documents_is_one_sentence_in_the_users_names(trained, name, data, mime, expected):
    at = trained
    before = workspace_state(at)
    score(at, (name, data, mime))
    assert errors(at) == [expected]  # run() has checked that no exception is shown
    assert workspace_state(at) == before
