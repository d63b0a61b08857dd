"""The Corpus page through Streamlit's AppTest: the demo corpus, uploads of tables, text files and
bag-of-words files, a prepared corpus folder, and the error paths a user can reach (bad and too
large uploads, a table without text, an unexpected error); settings and an upload kept across
pages."""

from __future__ import annotations

import pytest

from app import resources
from corpora.prepare import PrepareOptions, prepare
from tests.app.pages.apptest import (
    TOPICS,
    assert_settings_kept,
    errors,
    new_app,
    planted_csv,
    run,
    shown,
    upload,
    upload_planted,
)


def test_a_session_starts_with_the_demo_corpus():
    at = new_app()
    assert at.title[0].value == "Corpus"
    assert at.session_state["dataset_name"] == resources.DEMO_NAME
    assert at.metric[0].label == "Training documents" and at.metric[0].value == "240"
    assert "demo" in " ".join(m.value for m in at.sidebar.markdown)


def test_the_demo_can_be_prepared_with_other_options():
    at = new_app()
    at.number_input(key="opt_max_words").set_value(500)
    at.checkbox(key="opt_stem").check()
    run(at)
    at.button(key="prepare_demo").click()
    run(at)
    assert len(at.session_state["dataset"].vocabulary) == 500
    assert any("Corpus ready" in s.value for s in at.success)


def test_upload_a_table_and_pick_its_columns():
    at = upload_planted(new_app())
    ds = at.session_state["dataset"]
    assert ds.train.n_docs == 48 and ds.test.n_docs == 12 and ds.train.has_labels
    assert at.selectbox(key="upload_text_column").options == ["(automatic)", "doc_id", "topic", "body"]
    assert "orbit" in ds.vocabulary
    assert any(m.value == "##### Documents per label" for m in at.markdown)


def test_upload_several_text_files_and_a_lines_file():
    at = new_app()
    files = [(f"{name}-{i}.txt", f"{words} {words}".encode(), "text/plain")
             for name, words in TOPICS.items() for i in range(4)]
    upload(at, files)
    assert "12 text files, one document each" in " ".join(m.value for m in at.markdown)
    at.number_input(key="opt_min_df").set_value(1)
    at.button(key="prepare_upload").click()
    run(at)
    ds = at.session_state["dataset"]
    assert ds.train.n_docs + ds.test.n_docs == 12

    lines = "\n".join(" ".join(w.split()[:5]) for w in TOPICS.values() for _ in range(3)).encode()
    upload(at, ("notes.txt", lines, "text/plain"))
    at.button(key="prepare_upload").click()
    run(at)
    assert at.session_state["dataset"].train.n_docs + at.session_state["dataset"].test.n_docs == 9
    at.radio(key="upload_lines_mode").set_value("one document")
    at.slider(key="opt_test_fraction").set_value(0.0)
    at.slider(key="opt_max_df").set_value(1.0)
    run(at)
    at.button(key="prepare_upload").click()
    run(at)
    assert at.session_state["dataset"].train.n_docs == 1


@pytest.mark.parametrize(
    "files, message",
    [
        (("broken.csv", b'doc_id,body\n1,"never closed\n', "text/csv"), "malformed CSV in broken.csv"),
        (("picture.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "image/png"), "cannot read picture.png"),
        (("empty.txt", b"", "text/plain"), "empty.txt is empty"),
        (("train.feat", b"1 1:2 2:1\n", "text/plain"), "needs its vocabulary"),
    ],
)
def test_bad_uploads_show_a_message_and_keep_the_corpus(files, message):
    at = new_app()
    before = at.session_state["dataset"]
    upload(at, files)
    assert any(message in e for e in errors(at)), errors(at)
    assert at.session_state["dataset"] is before
    assert at.session_state["dataset_name"] == resources.DEMO_NAME


def test_a_table_without_text_fails_when_prepared_and_keeps_the_corpus():
    at = new_app()
    upload(at, ("numbers.csv", b"a,b\n1,2\n3,4\n", "text/csv"))
    at.button(key="prepare_upload").click()
    run(at)
    assert any("numbers.csv has no column of text for (automatic) to use" in e for e in errors(at)), errors(at)
    assert at.session_state["dataset_name"] == resources.DEMO_NAME


def test_too_large_uploads_are_refused(monkeypatch):
    import streamlit

    original = streamlit.get_option
    monkeypatch.setattr(streamlit, "get_option", lambda name: 1 if name == "server.maxUploadSize" else original(name))
    at = new_app()
    upload(at, ("big.txt", b"word " * 250_000, "text/plain"))
    assert any("more than the limit of 1.0 MB" in e for e in errors(at)), errors(at)
    assert at.session_state["dataset_name"] == resources.DEMO_NAME


def test_bag_of_words_upload():
    at = new_app()
    feat = "".join(f"{i % 2 + 1} {1 + i % 3}:2 {4 + i % 2}:1\n" for i in range(20)).encode()
    vocab = b"apple\npear\nplum\ncar\nvan\n"
    upload(at, [("train.feat", feat, "text/plain"), ("vocab.new", vocab, "text/plain")])
    at.button(key="prepare_upload").click()
    run(at)
    assert at.session_state["dataset"].vocabulary.words == ("apple", "pear", "plum", "car", "van")


def test_a_prepared_corpus_folder(tmp_path):
    folder = tmp_path / "corpus"
    prepare("lee", options=PrepareOptions(max_words=300)).save(folder)
    at = new_app()
    at.radio(key="corpus_source").set_value("Prepared corpus folder")
    run(at)
    at.text_input(key="prepared_path").input(str(tmp_path / "missing"))
    run(at)
    at.button(key="load_prepared").click()
    run(at)
    assert any("corpus directory not found" in e for e in errors(at))
    assert at.session_state["dataset_name"] == resources.DEMO_NAME
    at.text_input(key="prepared_path").input(str(folder))
    run(at)
    at.button(key="load_prepared").click()
    run(at)
    assert len(at.session_state["dataset"].vocabulary) == 300


def test_unexpected_errors_are_a_short_message(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(resources, "corpus_tables", broken)
    at = new_app()
    assert any("Something went wrong while showing the corpus statistics: RuntimeError: disk on fire" in e
               for e in errors(at))


def test_corpus_settings_are_kept_after_visiting_another_page():
    at = new_app()
    kept = assert_settings_kept(at, "pages/corpus.py", "pages/train.py")
    assert {"corpus_source", "opt_stopwords", "opt_max_words", "opt_test_fraction"} <= set(kept)


def test_an_upload_is_kept_after_visiting_another_page():
    """The browser forgets the files of an upload widget when the page changes; the staged copy
    and the column choices stay until other files are uploaded or the upload is forgotten."""
    at = new_app()
    upload(at, ("planted.csv", planted_csv(), "text/csv"))
    at.selectbox(key="upload_label_column").set_value("topic")
    at.number_input(key="opt_min_df").set_value(1)
    run(at)
    at.switch_page("pages/train.py")
    run(at)
    at.switch_page("pages/corpus.py")
    run(at)
    text = " ".join(shown(m.value) for m in at.markdown)
    assert "Still uploaded from before: a CSV table with columns doc_id, topic, body" in text, text
    assert at.selectbox(key="upload_label_column").value == "topic"
    at.button(key="prepare_upload").click()
    run(at)
    assert at.session_state["dataset_name"] == "upload: planted.csv", errors(at)
    assert at.session_state["dataset"].train.has_labels
    at.button(key="forget_upload").click()
    run(at)
    assert at.button(key="prepare_upload").disabled
    assert "staged_upload" not in at.session_state
