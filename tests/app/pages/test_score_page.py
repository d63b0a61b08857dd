"""The Score new documents page through Streamlit's AppTest (issue 16): uploaded documents scored
with a workspace model show the values ``model.transform`` gives, wordless documents are counted
as left out, the downloads hold the table shown, a bad upload gets the Corpus page's message, and
nothing of the workspace changes."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

from corpora.prepare import PrepareOptions, prepare
from tests.app.pages.apptest import assert_settings_kept, errors, new_app, run, shown
from tests.app.pages.test_upload_messages import PNG, PNG_AS_CSV

NEW = {
    "n0": "orbit rocket launch moon zebra quasar",
    "n1": "recipe butter oven bake bread unicorn",
    "n2": "zebra unicorn quasar",  # no word of the vocabulary: left out
    "n3": "game team coach league season player",
}


def new_csv() -> bytes:
    return ("doc_id,body\n" + "".join(f"{i},{text}\n" for i, text in NEW.items())).encode()


@pytest.fixture
def downloads(monkeypatch) -> dict:
    """The bytes each download button of a run holds, by file name."""
    held = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def keep(self, path_or_data, mimetype, kind, filename=None):
        held[filename] = path_or_data
        return original(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", keep)
    return held


def workspace_state(at) -> tuple:
    """What the user already had: the corpus object, the models and the workspace's index."""
    return at.session_state["dataset"], dict(at.session_state["models"]), at.session_state["workspace"].index()


def score(at, files, model: str = "lda-batch-3", **columns):
    at.switch_page("pages/score.py")
    run(at)
    at.selectbox(key="score_model").set_value(model)
    at.file_uploader(key="score_upload").set_value(files)
    run(at)
    for key, value in columns.items():
        at.selectbox(key=key).set_value(value)
    if columns:
        run(at)
    at.button(key="score_documents").click()
    return run(at)


def scores_shown(at) -> pd.DataFrame:
    (table,) = [d.value for d in at.dataframe if "perplexity_bound" in d.value.columns]
    return table


def metric(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_an_uploaded_table_is_scored_with_the_models_values(trained, tmp_path, downloads):
    at = trained
    before = workspace_state(at)
    score(at, ("new.csv", new_csv(), "text/csv"), score_text_column="body")
    assert not errors(at), errors(at)
    table = scores_shown(at)
    assert list(table["doc_id"]) == ["n0", "n1", "n3"]
    model = at.session_state["models"]["lda-batch-3"].model
    (tmp_path / "new.csv").write_bytes(new_csv())
    expected = prepare(str(tmp_path / "new.csv"), vocabulary=model.vocabulary_, text_column="body",
                       id_column="doc_id", options=PrepareOptions(test_fraction=0.0)).train
    assert list(expected.doc_ids) == ["n0", "n1", "n3"]
    np.testing.assert_allclose(table[["topic_0", "topic_1", "topic_2"]].to_numpy(), model.transform(expected.X),
                               rtol=1e-6)
    bound = model.log_likelihood_bound(expected.X, random_state=0)
    np.testing.assert_allclose(table["perplexity_bound"], np.exp(-bound / expected.doc_lengths), rtol=1e-6)
    assert list(table["n_tokens"]) == [4, 5, 6]
    first = int(np.argmax(model.transform(expected.X)[0]))
    assert table["top_units"][0].startswith(f"{first} · ") and table["top_units"][0].count(" | ") == 2
    # n2 is left out and counted; zebra, quasar and unicorn are outside the vocabulary (6 tokens)
    assert metric(at, "Documents scored") == "3" and metric(at, "Documents left out") == "1"
    assert metric(at, "Tokens outside it") == "6" and metric(at, "Tokens in the vocabulary") == "15"
    assert "Left out: 1 with no word of the model's vocabulary." in [shown(c.value) for c in at.caption]

    # the downloads hold the table shown
    csv = pd.read_csv(io.BytesIO(downloads["scored-lda-batch-3.csv"]))
    pd.testing.assert_frame_equal(csv, table.reset_index(drop=True), check_dtype=False)
    parquet = pd.read_parquet(io.BytesIO(downloads["scored-lda-batch-3.parquet"]))
    pd.testing.assert_frame_equal(parquet, table.reset_index(drop=True))

    # one document opened in the document view, its words coloured by topic
    at.selectbox(key="score_doc").set_value(2)
    run(at)
    assert any(shown(m.value).startswith("**n3** · 6 tokens in the vocabulary") for m in at.markdown)
    assert any('title="unit' in h.proto.body and "coach" in h.proto.body for h in at.get("html"))
    assert workspace_state(at) == before


def test_a_png_renamed_csv_gets_the_corpus_pages_message_and_changes_nothing(trained):
    at = trained
    before = workspace_state(at)
    at.switch_page("pages/score.py")
    run(at)
    at.file_uploader(key="score_upload").set_value(("picture.csv", PNG, "text/csv"))
    run(at)
    (message,) = errors(at)
    assert message == PNG_AS_CSV, message  # the Corpus page's, word for word
    assert "score_documents" not in [b.key for b in at.button]  # nothing to score
    assert workspace_state(at) == before


def test_documents_without_a_word_of_the_vocabulary_are_told_and_counted(trained):
    at = trained
    before = workspace_state(at)
    score(at, ("lines.txt", b"zebra quasar\norbit rocket moon\n", "text/plain"), model="sbn-nvil-4")
    assert not errors(at), errors(at)
    assert list(scores_shown(at)["doc_id"]) == ["line-2"]
    assert metric(at, "Documents left out") == "1"
    assert {"q_unit_0", "q_unit_3"} <= set(scores_shown(at).columns)

    score(at, ("none.txt", b"zebra quasar\nunicorn\n", "text/plain"))
    (message,) = errors(at)
    vocabulary = len(at.session_state["models"]["lda-batch-3"].model.vocabulary_)
    assert message == (f"no document of none.txt has a word of the vocabulary of model lda-batch-3 ({vocabulary} "
                       "words); upload documents in the language and on the subjects of the corpus it was trained "
                       "on"), message
    assert "--" not in message and "Traceback" not in message
    assert workspace_state(at) == before


SCORES = "".join(f"{i},{i * 0.5},orbit rocket moon\n" for i in range(6))


@pytest.mark.parametrize("files, columns, expected", [
    ([("docs.feat", b"1 0:2 1:1\n", "text/plain"), ("vocab.new", b"orbit\nrocket\n", "text/plain")], {},
     "docs.feat, vocab.new is a bag-of-words file, and scoring needs the documents' text to encode it with the "
     "model's vocabulary; upload text files, an archive of them or a table with a column of text"),
    ([("numbers.csv", b"a,b\n1,2\n3,4\n", "text/csv")], {},
     "numbers.csv has no column of text for (automatic) to use (its columns: a, b); choose the column that "
     "holds the documents' text in the Text column picker"),
    ([("scores.csv", f"id,score,body\n{SCORES}".encode(), "text/csv")], {"score_text_column": "score"},
     "column 'score' of scores.csv gives no document with words: its values are not text or are empty; choose "
     "the column that holds the documents' text in the Text column picker"),
    ([("stop.txt", b"the and of\nit is\n", "text/plain")], {},
     "no document in stop.txt has a word once stop words are removed; upload documents with more text"),
])
def test_uploads_that_cannot_be_scored_are_told_in_the_pages_words(trained, files, columns, expected):
    at = trained
    before = workspace_state(at)
    score(at, files, **columns)
    assert errors(at) == [expected]
    assert workspace_state(at) == before


def test_settings_are_kept_across_pages(trained):
    assert_settings_kept(trained, "pages/score.py", "pages/corpus.py")


def test_an_upload_and_its_column_choices_are_kept_across_pages_until_forgotten(trained):
    """The Corpus page's upload box: the browser forgets the files when the page changes; the staged
    copy and the pickers' values stay until the upload is forgotten."""
    at = trained
    at.switch_page("pages/score.py")
    run(at)
    at.file_uploader(key="score_upload").set_value(("new.csv", new_csv(), "text/csv"))
    run(at)
    assert "Uploaded: a CSV table with columns doc_id, body." in [shown(m.value) for m in at.markdown]
    assert at.selectbox(key="score_label_column").options == ["(automatic)", "(none)", "doc_id", "body"]
    kept = assert_settings_kept(at, "pages/score.py", "pages/corpus.py")
    assert {"score_text_column", "score_label_column", "score_id_column"} <= set(kept)
    text = " ".join(shown(m.value) for m in at.markdown)
    assert "Still uploaded from before: a CSV table with columns doc_id, body." in text, text
    assert not at.button(key="score_documents").disabled
    at.button(key="score_forget_upload").click()
    run(at)
    assert at.button(key="score_documents").disabled
    assert "score_staged_upload" not in at.session_state


def test_a_workspace_without_models_points_to_the_train_page():
    at = new_app()
    at.switch_page("pages/score.py")
    run(at)
    assert any("no model in this workspace yet" in i.value for i in at.info)
    assert not at.get("file_uploader")
