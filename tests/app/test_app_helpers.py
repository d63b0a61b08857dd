"""The app's helpers without a browser or AppTest: staging uploads, widget settings, exports,
the background training run, document display and the ``docmodel app`` command."""

from __future__ import annotations

import io
import pickle
import subprocess
import threading
import zipfile

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch

from app import exports, settings, text_view, uploads
from app.runner import CANCELLED, DONE, FAILED, TrainingRun
from corpora import Corpus, CorpusError, Vocabulary
from docmodel.cli import main as cli_main
from docmodel.cli_commands import app as app_command
from docmodel.errors import ModelError
from docmodel.models.lda.estimator import LDATopicModel

TABLE = b"id,topic,body\n1,a,apples and pears and plums\n2,b,cars and trucks and vans\n3,a,pears plums apples\n"


# ---- uploads ---------------------------------------------------------------------------------
def test_a_table_is_staged_with_its_columns(tmp_path):
    staged = uploads.stage_uploads([("docs.csv", TABLE)], tmp_path, max_bytes=10_000)
    assert staged.kind == "csv" and staged.columns == ("id", "topic", "body")
    assert staged.path.read_bytes() == TABLE
    assert "CSV table with columns id, topic, body" in staged.describe()


def test_several_text_files_become_a_folder(tmp_path):
    files = [("a.txt", b"first document"), ("b.txt", b"second one"), ("../../evil.txt", b"third")]
    staged = uploads.stage_uploads(files, tmp_path, max_bytes=10_000)
    assert staged.kind == "folder"
    assert sorted(p.name for p in staged.path.iterdir()) == ["a.txt", "b.txt", "evil.txt"]
    assert all(tmp_path in p.parents for p in staged.path.iterdir())  # no escape from the folder


def test_a_single_text_file_is_lines_or_one_document(tmp_path):
    staged = uploads.stage_uploads([("notes.txt", b"one\ntwo\n")], tmp_path, max_bytes=10_000)
    assert staged.kind == "lines"
    whole = uploads.as_single_document(staged)
    assert whole.kind == "folder" and [p.name for p in whole.path.iterdir()] == ["notes.txt"]
    assert staged.path.exists()  # the lines reading stays available


def test_zip_and_bag_of_words(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("docs/a.txt", "hello world")
    assert uploads.stage_uploads([("c.zip", buf.getvalue())], tmp_path / "z", max_bytes=10_000).kind == "zip"
    feat = b"1 1:2 2:1\n2 2:3\n"
    staged = uploads.stage_uploads([("train.feat", feat), ("vocab.new", b"apple\npear\n")], tmp_path / "f",
                                   max_bytes=10_000)
    assert staged.kind == "feat" and staged.vocabulary.name == "vocab.new"


@pytest.mark.parametrize(
    "files, message",
    [
        ([], "no file uploaded"),
        ([("empty.csv", b"")], "empty.csv is empty"),
        ([("big.txt", b"x" * 2040)], "the upload is 2.0 kB, more than the limit of 2.0 kB"),
        ([("image.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)], "cannot read image.png"),
        ([("train.feat", b"1 1:2\n")], "needs its vocabulary"),
        ([("a.csv", TABLE), ("b.txt", b"text")], "upload it on its own"),
        ([("bad.csv", b'text,label\n"abc,1\n')], "malformed CSV in bad.csv.*a CSV, TSV, JSON-lines or Parquet table"),
        ([("image.csv", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)], "image.csv is not a CSV table: its bytes are not text"),
        ([("image.jsonl", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)], "image.jsonl is not a JSONL table"),
        ([("image.txt", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)],
         r"^image.txt is not a text file: its bytes are not text \(an image or other binary file\?\), and plain text "
         r"\(one document per line, or the whole file as one document\) was expected; upload such a file in the box "
         r"above$"),
        ([("nums.csv", b"a,b\n1,2\n")], None),
    ],
)
def test_bad_uploads_are_refused_with_a_message(tmp_path, files, message):
    if message is None:  # numbers only: staged, but preparing finds no text column
        staged = uploads.stage_uploads(files, tmp_path, max_bytes=2000)
        with pytest.raises(CorpusError, match=r"nums.csv has no column of text for \(automatic\)"):
            uploads.prepare_staged(staged, settings.prepare_options())
        return
    with pytest.raises(CorpusError, match=message):
        uploads.stage_uploads(files, tmp_path, max_bytes=2000)


def test_prepare_staged_table_with_chosen_columns(tmp_path):
    staged = uploads.stage_uploads([("docs.csv", TABLE)], tmp_path, max_bytes=10_000)
    options = settings.prepare_options(min_df=1, test_fraction=0.0, stopwords=True)
    ds = uploads.prepare_staged(staged, options, text_column="body", label_column="topic", id_column="id")
    assert ds.train.doc_ids == ("1", "2", "3") and ds.train.labels == ("a", "b", "a")
    assert "apples" in ds.vocabulary and "and" not in ds.vocabulary


def test_staged_table_says_what_automatic_picks_and_previews_its_rows(tmp_path):
    staged = uploads.stage_uploads([("docs.csv", TABLE)], tmp_path, max_bytes=10_000)
    assert staged.automatic == ("body", "topic", "id")
    preview = uploads.preview_table(staged)
    assert list(preview.columns) == list(staged.columns) and len(preview) == 3
    long = b"n,words\n" + b"".join(b"%d,%s\n" % (i, b"w" * 500) for i in range(9))
    staged = uploads.stage_uploads([("long.csv", long)], tmp_path / "long", max_bytes=10_000)
    preview = uploads.preview_table(staged)
    assert len(preview) == uploads.PREVIEW_ROWS and preview["words"].str.len().max() == 200


@pytest.mark.parametrize(
    "table, column, message",
    [
        (b"body,n\n-,1\n.,2\n;,3\n", "body", "column 'body' of blank.csv gives no document with words: its values are not text or are empty; choose"),
        (b"body,n\n-,1\n.,2\n;,3\n", "n", "column 'n' of blank.csv gives no document with words"),
    ],
)
def test_a_column_without_words_is_named_in_page_terms(tmp_path, table, column, message):
    staged = uploads.stage_uploads([("blank.csv", table)], tmp_path, max_bytes=10_000)
    with pytest.raises(CorpusError) as info:
        uploads.prepare_staged(staged, settings.prepare_options(min_df=1), text_column=column)
    assert message in str(info.value) and "--" not in str(info.value)


def test_no_words_left_is_told_in_page_terms(tmp_path):
    files = [(f"{i}.txt", b"the and of") for i in range(4)]
    staged = uploads.stage_uploads(files, tmp_path, max_bytes=10_000)
    with pytest.raises(CorpusError, match="turn off 'Remove English stop words'") as info:
        uploads.prepare_staged(staged, settings.prepare_options())
    assert "--" not in str(info.value)
    words = ["apple pear plum grape melon", "car van bus tram truck", "red blue green pink gold",
             "oak elm ash pine birch"]
    files = [(f"{i}.txt", text.encode()) for i, text in enumerate(words)]
    staged = uploads.stage_uploads(files, tmp_path / "b", max_bytes=10_000)
    with pytest.raises(CorpusError, match=r"'Min. documents per word' \(2\)") as info:
        uploads.prepare_staged(staged, settings.prepare_options(min_df=2))
    assert "--" not in str(info.value)


# ---- settings --------------------------------------------------------------------------------
def test_prepare_options_from_widgets():
    opts = settings.prepare_options(extra_stopwords="Said, would\nalso", max_words=0, strip_headers=True)
    assert opts.extra_stopwords == ("said", "would", "also") and opts.max_words is None
    assert opts.strip_headers == "auto"
    with pytest.raises(CorpusError, match="max_df"):
        settings.prepare_options(max_df=0.0)


def test_layers_and_names():
    assert settings.parse_layers("50") == (50,) and settings.parse_layers("100, 50") == (100, 50)
    for bad in ("", "abc", "0", "10,-1"):
        with pytest.raises(CorpusError, match="layer"):
            settings.parse_layers(bad)
    assert settings.model_name(" my-model_1.v2 ") == "my-model_1.v2"
    with pytest.raises(CorpusError, match="model names"):
        settings.model_name("bad name/../x")
    assert settings.model_name_from_file("my model (1).pt") == "my-model-1"
    assert settings.model_name_from_file("...pt") == "uploaded"
    assert settings.default_name("sbn", "nvil", (100, 50)) == "sbn-nvil-100x50"


def test_estimators_from_settings():
    sbn = settings.sbn_estimator(layers=(8, 4), algorithm="wake-sleep", max_epochs=3, max_seconds=0,
                                 learning_rate=1e-3, encoder_learning_rate=0, batch_size=16, patience=2, seed=1)
    assert sbn.layers == (8, 4) and sbn.max_seconds is None and sbn.encoder_learning_rate is None
    lda = settings.lda_estimator(n_units=5, learning_method="online", max_iter=2, max_seconds=10, seed=0)
    assert lda.n_units == 5 and lda.max_seconds == 10.0 and lda.patience is None
    assert settings.lda_estimator(n_units=5, learning_method="batch", max_iter=2, max_seconds=0, seed=0,
                                  patience=3).patience == 3


# ---- exports ---------------------------------------------------------------------------------
def tiny_corpus(n_docs=30, seed=0):
    rng = np.random.default_rng(seed)
    rows = [rng.multinomial(20, np.r_[np.ones(4), np.zeros(4)] / 4 if i % 2 else np.r_[np.zeros(4), np.ones(4)] / 4)
            for i in range(n_docs)]
    vocab = Vocabulary(tuple(f"w{i}" for i in range(8)))
    return Corpus(sp.csr_matrix(np.array(rows)), vocab, tuple(f"d{i}" for i in range(n_docs)),
                  labels=tuple("ab"[i % 2] for i in range(n_docs)))


@pytest.fixture(scope="module")
def lda_model():
    corpus = tiny_corpus()
    return LDATopicModel(n_units=2, max_iter=5).fit(corpus.X, vocabulary=corpus.vocabulary), corpus


def test_checkpoint_round_trip_and_tables(lda_model):
    model, corpus = lda_model
    data = exports.checkpoint_bytes(model)
    back = exports.model_from_bytes("m.pt", data)
    np.testing.assert_allclose(back.transform(corpus.X), model.transform(corpus.X))
    table = exports.doc_unit_table(model, corpus)
    assert list(table.columns) == ["doc_id", "label", "topic_0", "topic_1"] and len(table) == corpus.n_docs
    np.testing.assert_allclose(table[["topic_0", "topic_1"]].sum(axis=1), 1.0, rtol=1e-6)
    top = exports.top_words_table(model, 3)
    assert list(top.columns) == ["unit", "word_1", "word_2", "word_3"] and len(top) == 2
    # Units numbered from 0, as the app, the report and docmodel topics number them.
    assert list(top["unit"]) == [0, 1] and list(top.iloc[1, 1:]) == model.top_words(3)[1]


class Payload:
    """Anything whose unpickling would run code."""

    def __reduce__(self):
        return (print, ("this must never run",))


@pytest.mark.parametrize(
    "data, message",
    [
        (b"not a checkpoint at all", r"^upload.pt is not a docmodel model file \(expected a .pt checkpoint saved by "
                                     r"docmodel or the Models page\)$"),
        (None, "refused without loading it"),
        (b"", "upload.pt is not a readable docmodel checkpoint"),
    ],
)
def test_malformed_or_unsafe_models_are_refused(data, message, capsys):
    if data is None:
        buf = io.BytesIO()
        torch.save({"format": "docmodel-model", "payload": Payload()}, buf)
        data = buf.getvalue()
    with pytest.raises(ModelError, match=message):
        exports.model_from_bytes("upload.pt", data)
    assert "must never run" not in capsys.readouterr().out


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_a_plain_pickle_is_refused():
    with pytest.raises(ModelError, match="x.pt is not a"):
        exports.model_from_bytes("x.pt", pickle.dumps({"format": "docmodel-model"}))


# ---- the background run ----------------------------------------------------------------------
class FakeEstimator:
    """Calls the callback once per 'epoch'; can wait for a signal, raise, or stop when told."""

    def __init__(self, epochs=3, error=None, gate=None):
        self.epochs, self.error, self.gate = epochs, error, gate
        self.fitted_epochs = 0

    def fit(self, X, *, vocabulary=None, X_val=None, callback=None):
        for epoch in range(1, self.epochs + 1):
            if self.gate is not None:
                self.gate.wait(10)
            if self.error is not None:
                raise self.error
            self.fitted_epochs = epoch
            if callback({"epoch": epoch, "seconds": 0.1 * epoch, "val_perplexity_bound": 100.0 / epoch}):
                break
        return self


def run_of(estimator, max_epochs=3):
    return TrainingRun("m", estimator, None, None, None, {}, max_epochs=max_epochs).start()


def test_a_run_reports_progress_and_finishes():
    run = run_of(FakeEstimator(epochs=4), max_epochs=4)
    run.join(10)
    p = run.snapshot()
    assert p.status == DONE and p.fraction == 1.0 and p.epoch == 4
    assert [h["val_perplexity_bound"] for h in p.history] == [100.0, 50.0, 100.0 / 3, 25.0]


def test_cancel_stops_at_the_next_callback():
    gate = threading.Event()
    run = run_of(FakeEstimator(epochs=100, gate=gate), max_epochs=100)
    run.cancel()
    gate.set()
    run.join(10)
    p = run.snapshot()
    assert p.status == CANCELLED and run.estimator.fitted_epochs == 1 and p.remaining is None


def test_progress_entries_move_the_figures_and_validation_points_make_the_curve():
    class Reporting:
        def fit(self, X, *, vocabulary=None, X_val=None, callback=None):
            callback({"step": 3, "epoch": 0, "epochs": 0.5, "docs_seen": 96, "seconds": 1.0, "progress": 0.05})
            callback({"step": 5, "epoch": 0, "epochs": 0.8, "docs_seen": 160, "seconds": 2.0, "progress": 0.08,
                      "val_perplexity_bound": 90.0, "interim": True})
            callback({"step": 6, "epoch": 1, "seconds": 2.2, "progress": 0.1, "val_perplexity_bound": 80.0})
            # A resumed run repeats the steps after its saved state: the later points are replaced.
            callback({"step": 5, "epoch": 0, "epochs": 0.8, "docs_seen": 160, "seconds": 2.0, "progress": 0.08,
                      "val_perplexity_bound": 85.0, "interim": True})
            callback({"step": 7, "epoch": 1, "epochs": 1.2, "docs_seen": 224, "seconds": 2.5, "progress": 0.12})
            return self

    run = run_of(Reporting(), max_epochs=10)
    run.join(10)
    p = run.snapshot()
    assert [h["val_perplexity_bound"] for h in p.history] == [85.0]
    assert p.epoch == 1 and p.epochs == 1.2 and p.docs_seen == 224


def test_failures_end_with_a_message():
    run = run_of(FakeEstimator(error=ModelError("bad setting x")))
    run.join(10)
    assert run.snapshot().status == FAILED and run.snapshot().error == "bad setting x"
    run = run_of(FakeEstimator(error=RuntimeError("boom")))
    run.join(10)
    assert run.snapshot().error == "training failed unexpectedly: RuntimeError: boom"


def test_progress_estimates_the_rest_from_the_fraction():
    gate = threading.Event()
    estimator = FakeEstimator(epochs=2, gate=gate)
    run = TrainingRun("m", estimator, None, None, None, {}, max_epochs=4).start()
    p = run.snapshot()
    assert p.status == "running" and p.fraction == 0.0 and p.remaining is None
    gate.set()
    run.join(10)
    assert run.snapshot().status == DONE


# ---- settings kept across pages ------------------------------------------------------------------
INPUTS = {"text_input", "text_area", "number_input", "checkbox", "toggle", "selectbox", "multiselect", "radio",
          "slider", "select_slider", "date_input", "time_input", "color_picker"}


def test_every_settings_widget_of_the_pages_is_kept_for_the_session():
    """Each input widget the pages (and their upload box, the sweep's box) draw passes ``persist_state=ui.KEEP``,
    those only some runs draw (an uploaded table's column pickers, a prepared folder's path)
    included; the page tests check that the values are kept."""
    import ast

    from tests.conftest import ROOT

    found, missing = 0, []
    for path in [*sorted((ROOT / "app" / "pages").glob("*.py")), ROOT / "app" / "upload_widget.py",
                 ROOT / "app" / "sweep_view.py"]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in INPUTS:
                found += 1
                keep = {k.arg: ast.unparse(k.value) for k in node.keywords}.get("persist_state")
                if keep != "ui.KEEP":
                    missing.append(f"{path.name}:{node.lineno} {node.func.attr}")
    assert found > 40 and not missing, missing


# ---- display -----------------------------------------------------------------------------------
def test_document_html_is_escaped():
    pieces = [("<script>alert(1)</script> ", -1), ("cats", 2), ("\nend & more", -1)]
    out = text_view.coloured_html(pieces, {2: "#abcdef"})
    assert "<script>" not in out and "&lt;script&gt;" in out and "&amp; more" in out
    assert '<span title="unit 2" style="background:#abcdef' in out and "<br>end" in out
    legend = text_view.legend_html({2: "#abcdef"}, {2: ["<b>bold</b>"]}, {2: 0.9})
    assert "<b>bold</b>" not in legend and "&lt;b&gt;" in legend


def test_search_and_snippets():
    texts = ("The cat sat.", "A dog ran after the cat.", "Nothing here")
    hits = text_view.search(texts, ("a", "b", "c"), "CAT dog")
    assert [i for i, _ in hits] == [1]
    assert text_view.search(texts, ("a", "b", "c"), "  ") == []
    assert text_view.snippet("x " * 200, 20).endswith("…") and len(text_view.snippet("x " * 200, 20)) == 20
    assert text_view.markdown_escape("a*b [c](d)") == "a\\*b \\[c\\]\\(d\\)"


def _lab(colour: str) -> tuple[np.ndarray, float]:
    """CIELAB coordinates (D65) of an sRGB colour "#rrggbb", and its relative luminance."""
    rgb = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)]) / 255
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ linear
    t = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(t > 0.008856, np.cbrt(t), 7.787 * t + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])]), xyz[1]


@pytest.mark.parametrize("n_units", [2, 5, 8, 20])
def test_word_colours_are_distinct_and_keep_the_text_readable(n_units):
    """The colours of a document's strongest units (issue 15: two oranges and two pinks) differ
    by more than 25 (CIE76 delta E: the old palette's two pinks were 14 apart), and black text on
    each keeps a contrast ratio of at least 7:1 (WCAG AAA)."""
    colours = text_view.unit_colours(list(range(n_units)))
    assert len(colours) == min(n_units, len(text_view.PALETTE))
    labs = [_lab(c) for c in colours.values()]
    gaps = [np.linalg.norm(a[0] - b[0]) for i, a in enumerate(labs) for b in labs[i + 1:]]
    assert min(gaps) > 25, sorted(gaps)[:3]
    assert all((y + 0.05) / 0.05 >= 7 for _, y in labs)
    assert np.linalg.norm(_lab("#f4a3a8")[0] - _lab("#ffafcc")[0]) < 15  # the old pinks fail the rule


def test_tables_are_as_tall_as_their_rows_up_to_a_cap():
    from app import ui

    def rows_shown(height):
        return (height - ui.TABLE_HEADER_PX) // ui.TABLE_ROW_PX

    assert [rows_shown(ui.table_height(n)) for n in (1, 4, 10, 20, 25)] == [1, 4, 10, 20, 25]
    assert ui.table_height(500) == ui.table_height(25) and ui.table_height(0) == ui.table_height(1)


def test_bag_of_words_pieces():
    pieces = text_view.bag_of_words_pieces([0, 2], [1, 3], ["a", "b", "c"], np.array([5, -1, -1]))
    assert pieces == [("a", 5), (" ", -1), ("c×3", -1), (" ", -1)]


# ---- docmodel app ------------------------------------------------------------------------------
def test_the_app_command_line(monkeypatch):
    cmd = app_command.command(8765, "127.0.0.1")
    assert cmd[1:4] == ["-m", "streamlit", "run"] and cmd[4].endswith("app/main.py")
    for flag in ("--server.port=8765", "--server.address=127.0.0.1", "--server.headless=true",
                 "--server.maxUploadSize=200", "--server.enableXsrfProtection=true",
                 "--browser.gatherUsageStats=false"):
        assert flag in cmd
    calls = []
    monkeypatch.setattr(subprocess, "call", lambda c, cwd, env: calls.append((c, cwd)) or 0)
    assert cli_main(["app", "--port", "8766"]) == 0
    assert "--server.port=8766" in calls[0][0] and (calls[0][1] / "app" / "main.py").is_file()


def test_the_app_command_refuses_bad_ports(capsys):
    assert cli_main(["app", "--port", "70000"]) == 2
    assert "--port must be between 1 and 65535, got 70000" in capsys.readouterr().err


def test_config_file_matches_the_command_line():
    import tomllib

    from tests.conftest import ROOT

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] == 200 and config["server"]["enableXsrfProtection"] is True
    assert config["browser"]["gatherUsageStats"] is False and config["server"]["headless"] is True
    flat = {f"{section}.{key}": value for section, values in config.items() for key, value in values.items()}
    for option, value in app_command.SERVER_OPTIONS.items():
        assert str(flat[option]).lower() == value, option


def test_pandas_tables_have_no_index_column(lda_model):
    model, corpus = lda_model
    csv_text = exports.doc_unit_table(model, corpus).to_csv(index=False)
    assert pd.read_csv(io.StringIO(csv_text)).columns[0] == "doc_id"


@pytest.mark.parametrize("n_train", [2, 30, 240, 5000])
def test_the_app_holds_out_validation_documents_by_the_compares_rule(n_train):
    from app import state
    from docmodel.compare import CompareSettings, validation_split

    rows = state.validation_rows(n_train)
    _, val = validation_split(n_train, CompareSettings.n_val_docs, 0)
    np.testing.assert_array_equal(rows, val)
    assert len(np.union1d(rows, state.training_rows(n_train))) == n_train


def test_colouring_note_says_what_the_colours_leave_out():
    from app.text_view import colouring_note

    assert colouring_note(3, 3, "unit") is None
    assert colouring_note(0, 0, "dimension") == (
        "No dimension is on for this document (none passes the model's threshold), so no word is coloured; "
        "the bars below show each dimension's value.")
    assert colouring_note(9, 8, "topic").startswith("1 more topic is on for this document")
    assert colouring_note(12, 8, "unit").startswith("4 more units are on for this document")
