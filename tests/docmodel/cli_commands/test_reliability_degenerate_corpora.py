"""The edge corpora a user can hand to ``docmodel prepare``, ``train`` and ``evaluate``: empty,
one document, one word, identical documents and a single document of a million tokens.

Each is refused with one line naming what to change, or prepared and trained to finite figures.
The checks are in ``tests/corpora/bad_inputs.py``; every run is under a hard time limit.
"""

from __future__ import annotations

import contextlib
import io
import json
import tracemalloc

import numpy as np
import pytest

from docmodel.cli import main
from tests.corpora.bad_inputs import check_prepare, run_prepare

EMPTY_SOURCES = [
    ("empty.txt", b"", "empty.txt is empty; there are no documents to load"),
    ("empty.csv", b"", "empty.csv is empty; there are no documents to load"),
    ("empty.jsonl", b"", "empty.jsonl is empty; there are no documents to load"),
    ("empty.parquet", b"", "empty.parquet is empty; there are no documents to load"),
    ("empty.zip", b"", "empty.zip is empty; there are no documents to load"),
    ("blank.txt", b" \n\n\t\r\n", "blank.txt: every line is blank"),
    ("header.csv", b"text,label\n", "the table has a header but no rows"),
    ("nulls.jsonl", b"{}\n{}\n", "the table has no columns"),
    ("empty.feat", b"", "empty.feat holds no documents"),
    ("blank.feat", b"\n3\n \n", "of 3 training documents, 0 had fewer than 1 tokens and 3 had no word"),
    ("empty.mtx", b"", "empty.mtx is not a readable Matrix Market file"),
]


@pytest.mark.parametrize("name, data, message", EMPTY_SOURCES, ids=[s[0] for s in EMPTY_SOURCES])
def test_empty_sources_are_refused_with_a_message(tmp_path, name, data, message):
    (tmp_path / name).write_bytes(data)
    (tmp_path / "vocab.new").write_text("apple\nbanana\n")
    code, _, err = run_prepare(tmp_path / name, "-o", tmp_path / "out")
    assert code == 2 and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists()


def test_an_empty_folder_is_refused(tmp_path):
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / ".hidden").write_text("apple")
    code, _, err = run_prepare(tmp_path / "corpus", "-o", tmp_path / "out")
    assert code == 2 and "the folder has no files (hidden ones are ignored)" in err


def test_one_document_needs_both_document_frequency_limits_opened(tmp_path):
    (tmp_path / "one.txt").write_text("apple banana kiwi apple\n")
    code, _, err = run_prepare(tmp_path / "one.txt", "-o", tmp_path / "out")
    assert code == 2 and "1 had no word in the vocabulary (0 words)" in err
    assert "lower --min-df (now 2) or raise --max-df" in err
    code, _, err = run_prepare(tmp_path / "one.txt", "--min-df", "1", "-o", tmp_path / "out")
    assert code == 2 and "raise --max-df (now 0.95)" in err and "lower --min-df" not in err
    data = check_prepare(tmp_path / "one.txt", "--min-df", "1", "--max-df", "1",
                         output=tmp_path / "out")
    assert data.train.n_docs == 1 and data.test is None
    assert data.vocabulary.words == ("apple", "banana", "kiwi")
    assert data.train.X.toarray().tolist() == [[2, 1, 1]]


def test_one_document_trains_lda_but_not_an_sbn_which_needs_validation_documents(tmp_path):
    (tmp_path / "one.txt").write_text("apple banana kiwi apple\n")
    check_prepare(tmp_path / "one.txt", "--min-df", "1", "--max-df", "1", output=tmp_path / "c")
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["train", str(tmp_path / "c"), "--units", "2", "--epochs", "2",
                     "-o", str(tmp_path / "sbn")])
    assert code == 2 and "non-empty training documents (got 1 sample)" in err.getvalue()
    assert err.getvalue().count("\n") == 1
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(["train", str(tmp_path / "c"), "--model", "lda", "--units", "2", "--epochs",
                     "2", "-o", str(tmp_path / "lda")]) == 0
        assert main(["evaluate", str(tmp_path / "lda"), str(tmp_path / "c"), "--split", "train",
                     "--samples", "5", "--json", str(tmp_path / "e.json")]) == 0
    figures = json.loads((tmp_path / "e.json").read_text())
    assert np.isfinite(figures["perplexity_bound"]) and figures["perplexity_bound"] >= 1


@pytest.mark.parametrize("model", ["sbn", "lda"])
@pytest.mark.parametrize(
    "lines, words",
    [(["apple apple"] * 10 + ["apple"] * 20, ("apple",)),
     (["apple banana kiwi"] * 30, ("apple", "banana", "kiwi"))],
    ids=["one-word-vocabulary", "identical-documents"],
)
def test_degenerate_corpora_prepare_and_train_to_finite_figures(tmp_path, model, lines, words):
    (tmp_path / "d.txt").write_text("\n".join(lines) + "\n")
    code, _, err = run_prepare(tmp_path / "d.txt", "-o", tmp_path / "c")
    assert code == 2 and "the vocabulary is empty" in err and "raise --max-df" in err
    data = check_prepare(tmp_path / "d.txt", "--max-df", "1", output=tmp_path / "c")
    assert data.vocabulary.words == words and data.train.n_docs == 24 and data.test.n_docs == 6
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        assert main(["train", str(tmp_path / "c"), "--model", model, "--units", "2", "--epochs",
                     "2", "--val-docs", "5", "-o", str(tmp_path / "m")]) == 0, out.getvalue()
        assert main(["evaluate", str(tmp_path / "m"), str(tmp_path / "c"), "--samples", "5",
                     "--json", str(tmp_path / "e.json")]) == 0, out.getvalue()
    figures = json.loads((tmp_path / "e.json").read_text())
    for key in ("perplexity_bound", "perplexity_is", "perplexity_completion"):
        # Perplexity is at least 1 for the exact log p(x) <= 0; these are estimates from 5 to 10
        # samples, whose log p(x) can exceed 0 by sampling noise on documents of one or two tokens
        # (with one word in the vocabulary the exact perplexity is 1).
        assert np.isfinite(figures[key]) and figures[key] >= 0.9, (key, figures[key])


def test_a_million_token_document_is_prepared_with_bounded_memory(tmp_path):
    """One line of 1,000,000 tokens (5 MB): prepared within the hard time limit, and the
    Python allocations at their peak stay under 60 bytes per input byte."""
    rng = np.random.default_rng(0)
    words = np.array([f"w{a}{b}x" for a in "abcdefghijklmnopqrstuvwxyz" for b in "abcdefghij"])
    text = " ".join(words[rng.integers(0, len(words), 1_000_000)])
    (tmp_path / "long.txt").write_text(text + "\n")
    tracemalloc.start()
    try:
        data = check_prepare(tmp_path / "long.txt", "--min-df", "1", "--max-df", "1",
                             output=tmp_path / "c")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert data.train.n_docs == 1 and data.train.n_tokens == 1_000_000
    assert len(data.vocabulary) == len(words)
    assert peak < 60 * len(text), f"peak {peak / 1e6:.0f} MB for {len(text) / 1e6:.0f} MB of text"
