"""Every page of the app through Streamlit's AppTest: the normal path on a tiny planted corpus
and the error paths a user can reach (bad uploads, bad settings, bad model files)."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from app import resources
from corpora.prepare import PrepareOptions, prepare
from tests.conftest import ROOT

MAIN = str(ROOT / "app" / "main.py")
TIMEOUT = 60
TOPICS = {
    "space": "orbit rocket launch moon shuttle planet nasa satellite",
    "sport": "game team season player score coach league match",
    "food": "recipe butter flour oven sugar bake bread cheese",
}


def planted_csv(n_docs: int = 60, seed: int = 0, extra: dict | None = None) -> bytes:
    """Documents that each use the words of one of three topics (the topic is the label)."""
    rng = np.random.default_rng(seed)
    lines = ["doc_id,topic,body"]
    names = list(TOPICS)
    for i in range(n_docs):
        topic = names[i % 3]
        words = rng.choice(TOPICS[topic].split(), size=12)
        text = " ".join(words)
        if extra and i in extra:
            text = extra[i] + " " + text
        lines.append(f'd{i},{topic},"{text}"')
    return ("\n".join(lines) + "\n").encode()


def run(at: AppTest) -> AppTest:
    at.run(timeout=TIMEOUT)
    assert not at.exception, [e.value for e in at.exception]
    return at


def new_app() -> AppTest:
    return run(AppTest.from_file(MAIN, default_timeout=TIMEOUT))


def shown(markdown: str) -> str:
    """Markdown source as the reader sees it (backslash escapes removed)."""
    return re.sub(r"\\(.)", r"\1", markdown)


def errors(at: AppTest) -> list[str]:
    return [shown(e.value) for e in at.error]


def upload(at: AppTest, files) -> AppTest:
    at.radio(key="corpus_source").set_value("Upload files")
    run(at)
    at.file_uploader(key="corpus_upload").set_value(files)
    return run(at)


def upload_planted(at: AppTest, data: bytes | None = None) -> AppTest:
    upload(at, ("planted.csv", data or planted_csv(), "text/csv"))
    at.number_input(key="opt_min_df").set_value(1)
    at.selectbox(key="upload_label_column").set_value("topic")
    run(at)
    at.button(key="prepare_upload").click()
    run(at)
    assert at.session_state["dataset_name"] == "upload: planted.csv", errors(at)
    return at


def train(at: AppTest, kind: str, **fields) -> AppTest:
    at.switch_page("pages/train.py")
    run(at)
    for key, value in fields.items():
        widget = at.text_input(key=key) if key in ("sbn_layers", "sbn_name", "lda_name") else at.number_input(key=key)
        widget.set_value(value)
    next(b for b in at.button if b.label == f"Train {kind}").click()
    run(at)
    training = at.session_state["training_run"]
    if training is not None:
        training.join(TIMEOUT)
    return run(at)


def train_both(at: AppTest) -> AppTest:
    train(at, "SBN", sbn_layers="4", sbn_epochs=3, sbn_seconds=0)
    train(at, "LDA", lda_units=3, lda_iter=5, lda_seconds=0)
    assert set(at.session_state["models"]) == {"sbn-nvil-4", "lda-batch-3"}
    return at


@pytest.fixture(scope="module")
def trained() -> AppTest:
    """An app with the planted corpus and a tiny SBN and LDA (shared by read-only tests)."""
    return train_both(upload_planted(new_app()))


# ---- Corpus ------------------------------------------------------------------------------------
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
    assert any("no text column in numbers.csv" in e for e in errors(at)), errors(at)
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


# ---- Train -------------------------------------------------------------------------------------
def test_train_both_models_in_the_background(trained):
    at = trained
    sbn = at.session_state["models"]["sbn-nvil-4"].model
    assert sbn.n_units_ == 4 and sbn.history_[-1]["epoch"] == 3
    table = at.dataframe[-1].value
    assert list(table["name"]) == ["sbn-nvil-4", "lda-batch-3"]
    assert set(table["fits this corpus"]) == {True}


def test_cancel_keeps_the_best_model_so_far():
    at = upload_planted(new_app())
    at.switch_page("pages/train.py")
    run(at)
    at.text_input(key="sbn_layers").set_value("3")
    at.number_input(key="sbn_epochs").set_value(10_000)
    at.number_input(key="sbn_seconds").set_value(0)
    at.number_input(key="sbn_patience").set_value(10_000)
    at.text_input(key="sbn_name").set_value("long-run")
    next(b for b in at.button if b.label == "Train SBN").click()
    run(at)
    assert at.session_state["training_run"].name == "long-run"
    at.button(key="cancel_training").click()
    run(at)
    at.session_state["training_run"].join(TIMEOUT)
    run(at)
    model = at.session_state["models"]["long-run"].model
    assert model.stopped_ == "cancelled" and len(model.history_) < 10_000
    assert any("cancelled: the best model so far was kept" in s.value for s in at.success)


def test_bad_training_settings_are_refused():
    at = new_app()
    at.switch_page("pages/train.py")
    run(at)
    at.text_input(key="sbn_layers").set_value("ten")
    next(b for b in at.button if b.label == "Train SBN").click()
    run(at)
    assert any("layers must be whole numbers" in e for e in errors(at))
    at.text_input(key="sbn_layers").set_value("4")
    at.text_input(key="sbn_name").set_value("bad name!")
    next(b for b in at.button if b.label == "Train SBN").click()
    run(at)
    assert any("model names may hold letters" in e for e in errors(at))
    assert at.session_state["training_run"] is None


def test_a_failed_training_run_is_reported(monkeypatch):
    from docmodel.errors import ModelError
    from docmodel.models.sbn.estimator import SBNTopicModel

    def fail(self, *args, **kwargs):
        raise ModelError("the learning rate exploded")

    monkeypatch.setattr(SBNTopicModel, "fit", fail)
    at = train(new_app(), "SBN", sbn_layers="4", sbn_epochs=2)
    assert any("the learning rate exploded" in e for e in errors(at)), errors(at)
    assert at.session_state["models"] == {}


def test_duplicate_names_are_refused(trained):
    at = trained
    at.switch_page("pages/train.py")
    run(at)
    at.text_input(key="lda_name").set_value("lda-batch-3")
    next(b for b in at.button if b.label == "Train LDA").click()
    run(at)
    assert any("A model named lda-batch-3 exists already" in e for e in errors(at)), errors(at)
    at.text_input(key="lda_name").set_value("")
    run(at)


# ---- Compare -----------------------------------------------------------------------------------
def test_compare_measures_every_model(trained):
    at = trained
    at.switch_page("pages/compare.py")
    run(at)
    table = at.table[0].value
    assert list(table["model"]) == ["sbn-nvil-4", "lda-batch-3"]
    for column in ("perplexity (bound)", "perplexity (importance sampled)", "perplexity (document completion)"):
        values = [float(v.replace(",", "")) for v in table[column]]
        assert all(1 < v < 1000 for v in values), (column, values)  # 24 planted words
    assert "label accuracy" in table.columns
    assert "test split (12 documents)" in at.caption[0].value
    figures = at.session_state["evaluations"]["sbn-nvil-4"]["figures"]
    assert len(figures["npmi_per_unit"]) == 4
    assert {b.label for b in at.download_button} >= {"Download the report (Markdown)", "Download the figures (JSON)"}


def test_compare_opens_a_document_in_explore(trained):
    at = trained
    at.switch_page("pages/compare.py")
    run(at)
    chosen = at.selectbox(key="scatter_pick").value  # a test document where the models disagree most
    at.button(key="scatter_open").click()
    run(at)
    assert at.title[0].value == "Explore"
    assert at.radio(key="explore_split").value == "test"
    assert at.selectbox(key="explore_doc").value == chosen


def test_compare_without_a_test_split_says_so():
    at = new_app()
    at.radio(key="corpus_source").set_value("Upload files")
    run(at)
    at.file_uploader(key="corpus_upload").set_value(("planted.csv", planted_csv(), "text/csv"))
    run(at)
    at.slider(key="opt_test_fraction").set_value(0.0)
    at.number_input(key="opt_min_df").set_value(1)
    run(at)
    at.button(key="prepare_upload").click()
    run(at)
    assert at.session_state["dataset"].test is None
    train(at, "LDA", lda_units=3, lda_iter=3)
    at.switch_page("pages/compare.py")
    run(at)
    assert "held out from training (this corpus has no test split)" in at.caption[0].value
    assert len(at.table[0].value) == 1


def test_pages_without_models_point_to_train():
    at = new_app()
    for page in ("pages/compare.py", "pages/explore.py"):
        at.switch_page(page)
        run(at)
        assert "No models for this corpus yet" in at.info[0].value


# ---- Explore -----------------------------------------------------------------------------------
def test_explore_units_documents_and_colouring(trained):
    at = trained
    at.switch_page("pages/explore.py")
    run(at)
    assert at.selectbox(key="explore_sbn").value == "sbn-nvil-4"
    assert at.selectbox(key="explore_lda").value == "lda-batch-3"
    units = at.dataframe[0].value
    assert len(units) == 4 and "top words" in units.columns
    assert len(at.dataframe[1].value) == 3  # LDA's topics beside
    at.selectbox(key="explore_unit").set_value(2)
    run(at)
    top_docs = at.dataframe[2].value
    assert len(top_docs) == 10 and top_docs["q(h_k = 1 | document)"].is_monotonic_decreasing
    at.selectbox(key="explore_doc").set_value(5)
    run(at)
    html = " ".join(h.proto.body for h in at.get("html"))
    ds = at.session_state["dataset"]
    assert ds.test.doc_ids[5] in " ".join(m.value for m in at.markdown)
    assert "<div" in html and "unit " in html
    assert any("q(h_k = 1 | document)" in m.value for m in at.markdown)


def test_explore_relevance_slider_and_unit_columns(trained):
    """The words shown follow the one rule at the slider's lambda (0.6 to start), each unit is
    named by its first three words and carries its on-share, NPMI and label purity."""
    at = trained
    at.switch_page("pages/explore.py")
    run(at)
    assert at.slider(key="explore_relevance").value == 0.6
    sbn = at.session_state["models"]["sbn-nvil-4"].model
    units = at.dataframe[0].value
    assert list(units["top words"]) == [" ".join(w) for w in sbn.top_words(10, relevance=0.6)]
    assert list(units["unit"]) == [f"{k} · {' '.join(w[:3])}" for k, w in enumerate(sbn.top_words(10))]
    for column in ("on in (% of docs)", "NPMI", "label purity"):
        assert column in units.columns
    at.slider(key="explore_relevance").set_value(1.0)
    run(at)
    units = at.dataframe[0].value
    assert list(units["top words"]) == [" ".join(w) for w in sbn.top_words(10, relevance=1.0)]
    at.slider(key="explore_relevance").set_value(0.6)  # the shared session goes on at the default
    run(at)


def test_explore_escapes_document_text():
    at = upload_planted(new_app(), planted_csv(extra={i: "<script>alert(1)</script> <b>bold</b>" for i in range(60)}))
    train(at, "SBN", sbn_layers="3", sbn_epochs=2)
    at.switch_page("pages/explore.py")
    run(at)
    html = " ".join(h.proto.body for h in at.get("html"))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>" not in html and "<b>bold</b>" not in html
    at.text_input(key="explore_search").input("rocket orbit")
    run(at)
    hits = at.dataframe[-1].value
    assert len(hits) > 0 and all("rocket" in m or "orbit" in m for m in hits["match"])
    assert "No SBN" not in " ".join(i.value for i in at.info)


# ---- Models ------------------------------------------------------------------------------------
def test_models_page_offers_downloads(trained):
    at = trained
    at.switch_page("pages/models.py")
    run(at)
    labels = [b.label for b in at.download_button]
    assert "Download model (.pt)" in labels and "Top words (CSV)" in labels
    assert any(label.startswith("Download document-unit probabilities q(h_k=1|x) (CSV, 48 x 4)") for label in labels)
    at.selectbox(key="csv_model").set_value("lda-batch-3")
    at.radio(key="csv_split").set_value("test")
    run(at)
    assert any("document-topic proportions (CSV, 12 x 3)" in b.label for b in at.download_button)


def test_load_a_model_file_and_refuse_bad_ones(trained):
    from app import exports

    at = trained
    model = at.session_state["models"]["lda-batch-3"].model
    at.switch_page("pages/models.py")
    run(at)
    at.file_uploader(key="model_upload").set_value(("broken.pt", b"garbage", "application/octet-stream"))
    run(at)
    assert any("broken.pt is not a" in e for e in errors(at)), errors(at)
    assert "broken" not in at.session_state["models"]

    buf = io.BytesIO()
    torch.save({"format": "docmodel-model", "code": Exploit()}, buf)
    at.file_uploader(key="model_upload").set_value(("exploit.pt", buf.getvalue(), "application/octet-stream"))
    run(at)
    assert any("refused without loading it" in e for e in errors(at)), errors(at)

    at.file_uploader(key="model_upload").set_value(("my lda.pt", exports.checkpoint_bytes(model), "application/octet-stream"))
    run(at)
    loaded = at.session_state["models"]["my-lda"]
    assert loaded.origin == "uploaded" and loaded.fits(at.session_state["dataset"])
    assert any("Loaded" in s.value for s in at.success)
    at.selectbox(key="models_pick").set_value("my-lda")
    run(at)
    at.button(key="remove_model").click()
    run(at)
    assert "my-lda" not in at.session_state["models"]


class Exploit:
    def __reduce__(self):
        return (print, ("unpickled!",))


def test_sessions_do_not_share_corpus_or_models(trained):
    other = new_app()
    assert other.session_state["dataset_name"] == resources.DEMO_NAME
    assert other.session_state["models"] == {}
    assert trained.session_state["dataset_name"] == "upload: planted.csv"
