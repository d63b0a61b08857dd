"""Bag-of-words files (.feat, Matrix Market) and the array-built count matrices."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io
import scipy.sparse as sp

from corpora.bow import bag_of_words, load_feat, load_mtx, read_feat, read_mtx, remap_columns
from corpora.errors import CorpusError
from corpora.vocabulary import Vocabulary
from tests.conftest import shared_path

VOCAB = Vocabulary(("who", "out", "which", "what"))


@pytest.fixture
def vocab_file(tmp_path):
    path = tmp_path / "vocab.new"
    path.write_text("who 10\nout 7\nwhich 3\nwhat 1\n", encoding="utf-8")
    return path


def test_bag_of_words_counts_runs_of_ids():
    X = bag_of_words(np.array([2, 0, 2, 1, 1, 1]), np.array([3, 0, 3]), 4)
    assert X.dtype == np.int32 and X.has_canonical_format
    assert X.toarray().tolist() == [[1, 0, 2, 0], [0, 0, 0, 0], [0, 3, 0, 0]]


def test_remap_columns_moves_and_drops():
    X = sp.csr_matrix(np.array([[1, 2, 3], [0, 4, 0]]))
    out = remap_columns(X, np.array([2, -1, 0]), 3)
    assert out.toarray().tolist() == [[3, 0, 1], [0, 0, 0]] and out.has_sorted_indices


def test_read_feat(tmp_path, vocab_file):
    path = tmp_path / "train.feat"
    path.write_text("3 1:2 4:1\n7 \n5 2:1 2:3\n\n1\t3:9\n", encoding="utf-8")
    bow = read_feat(path, Vocabulary.from_file(vocab_file))
    corpus = bow.corpus
    assert bow.n_dropped_empty == 2
    assert corpus.X.toarray().tolist() == [[2, 0, 0, 1], [0, 4, 0, 0], [0, 0, 9, 0]]
    assert corpus.labels == ("3", "5", "1")
    assert corpus.doc_ids == ("train-1", "train-3", "train-5")
    assert load_feat(path, vocab_file).n_docs == 3


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("1 5:1", "bad.feat:2: word id 5 is out of range: the vocabulary has 4 words (ids 1..4)"),
        ("1 0:1", "bad.feat:2: word id 0 is out of range: ids are 1-based (1..4)"),
        ("1 2:0", "bad.feat:2: count 0 for word id 2: counts must be positive integers"),
        ("1 2:-1", "bad.feat:2: negative count -1 for word id 2: counts must be positive integers"),
        ("1 2:1.5", "bad.feat:2: count '1.5' for word id 2 is not an integer"),
        ("1 x:1", "bad.feat:2: word id 'x' in 'x:1' is not a positive integer"),
        ("1 2:1 3", "bad.feat:2: '3' is not an id:count pair"),
        ("1 1:2:3", "bad.feat:2: count '2:3' for word id 1 is not an integer"),
        ("2:1 3:1", "bad.feat:2: line starts with '2:1'; expected a label, then id:count pairs"),
        ("1 2:99999999999", "bad.feat:2: count 99999999999 for word id 2 is too large"),
    ],
)
def test_bad_feat_lines_name_file_line_and_problem(tmp_path, line, message):
    path = tmp_path / "bad.feat"
    path.write_text(f"1 1:1\n{line}\n1 2:2\n", encoding="utf-8")
    with pytest.raises(CorpusError) as info:
        read_feat(path, VOCAB)
    assert message in str(info.value)


def test_missing_feat_file(tmp_path, vocab_file):
    with pytest.raises(CorpusError, match="bag-of-words file not found: .*none.feat"):
        load_feat(tmp_path / "none.feat", vocab_file)
    with pytest.raises(CorpusError, match="vocabulary file not found"):
        load_feat(vocab_file, tmp_path / "none.new")


def test_nvdm_train_feat_totals_equal_the_vocab_count_column():
    vocab_path = shared_path("20news_nvdm", "vocab.new")
    corpus = load_feat(shared_path("20news_nvdm", "train_rebuilt.feat"), vocab_path)
    assert (corpus.n_docs, corpus.n_words, corpus.n_tokens) == (11268, 2000, 1128881)
    column = [int(line.split()[1]) for line in vocab_path.read_text().splitlines()]
    assert np.asarray(corpus.X.sum(axis=0)).ravel().tolist() == column
    assert sorted(set(corpus.labels), key=int) == [str(k) for k in range(1, 21)]


def test_prodlda_feat_skips_its_empty_last_line():
    vocab = Vocabulary.from_file(shared_path("20news_prodlda", "vocab.new"))
    bow = read_feat(shared_path("20news_prodlda", "test.feat"), vocab)
    assert (bow.corpus.n_docs, bow.corpus.n_tokens, bow.n_dropped_empty) == (7487, 629312, 1)


def test_mtx_docs_by_words_and_words_by_docs(tmp_path, vocab_file):
    X = sp.csr_matrix(np.array([[1, 0, 0, 2], [0, 0, 0, 0], [0, 3, 0, 0]]))
    scipy.io.mmwrite(tmp_path / "docs.mtx", X)
    scipy.io.mmwrite(tmp_path / "words.mtx", X.T)
    for name in ("docs.mtx", "words.mtx"):
        bow = read_mtx(tmp_path / name, Vocabulary.from_file(vocab_file))
        assert bow.corpus.X.toarray().tolist() == [[1, 0, 0, 2], [0, 3, 0, 0]]
        assert bow.n_dropped_empty == 1 and bow.corpus.labels is None
        assert bow.corpus.doc_ids == (f"{name[:-4]}-1", f"{name[:-4]}-3")
    assert load_mtx(tmp_path / "docs.mtx", vocab_file).n_docs == 2


@pytest.mark.parametrize(
    ("matrix", "message"),
    [
        (
            np.ones((2, 3)),
            "matrix of shape 2 x 3 matches neither docs x words nor words x docs for a vocabulary of 4 words",
        ),
        (np.array([[1.5, 0, 0, 0]]), "counts must be non-negative integers"),
        (np.array([[-1, 0, 0, 0]]), "counts must be non-negative integers"),
    ],
)
def test_bad_mtx(tmp_path, matrix, message):
    scipy.io.mmwrite(tmp_path / "m.mtx", sp.coo_matrix(matrix))
    with pytest.raises(CorpusError) as info:
        read_mtx(tmp_path / "m.mtx", VOCAB)
    assert message in str(info.value)


def test_unreadable_mtx(tmp_path):
    (tmp_path / "m.mtx").write_text("not a matrix market file\n")
    with pytest.raises(CorpusError, match="is not a readable Matrix Market file"):
        read_mtx(tmp_path / "m.mtx", VOCAB)
    with pytest.raises(CorpusError, match="bag-of-words file not found"):
        read_mtx(tmp_path / "none.mtx", VOCAB)
