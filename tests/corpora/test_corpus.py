"""Corpus and Dataset values: validation, subsets, and the on-disk round trip."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp

from corpora.corpus import Corpus, Dataset
from corpora.errors import CorpusError
from corpora.vocabulary import Vocabulary

VOCAB = Vocabulary(("alpha", "beta", "gamma"))


def make_corpus(rows, labels=None, texts=None, vocab=VOCAB) -> Corpus:
    X = sp.csr_matrix(np.array(rows))
    return Corpus(
        X=X,
        vocabulary=vocab,
        doc_ids=[f"d{i}" for i in range(len(rows))],
        labels=labels,
        texts=texts,
    )


def test_counts_become_canonical_int32():
    X = sp.coo_matrix(([1.0, 2.0, 3.0], ([0, 0, 1], [2, 2, 0])), shape=(2, 3)).tocsr()
    corpus = Corpus(X=X, vocabulary=VOCAB, doc_ids=("a", "b"))
    assert corpus.X.dtype == np.int32 and corpus.X.has_canonical_format
    assert corpus.X.toarray().tolist() == [[0, 0, 3], [3, 0, 0]]
    assert corpus.doc_lengths.tolist() == [3, 3] and corpus.n_tokens == 6
    assert (corpus.n_docs, corpus.n_words) == (2, 3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            dict(X=sp.csr_matrix(np.ones((2, 2)))),
            "count matrix has 2 columns but the vocabulary has 3 words",
        ),
        (dict(doc_ids=("a",)), "1 document ids for 2 documents"),
        (dict(labels=("x",)), "1 labels for 2 documents"),
        (dict(texts=("t", "u", "v")), "3 texts for 2 documents"),
        (
            dict(X=sp.csr_matrix(np.array([[0.5, 0, 0], [0, 0, 1]]))),
            "word counts must be non-negative integers",
        ),
        (
            dict(X=sp.csr_matrix(np.array([[-1, 0, 0], [0, 0, 1]]))),
            "word counts must be non-negative integers",
        ),
    ],
)
def test_corpus_validation(kwargs, message):
    args = dict(
        X=sp.csr_matrix(np.ones((2, 3), dtype=np.int32)), vocabulary=VOCAB, doc_ids=("a", "b")
    )
    args.update(kwargs)
    with pytest.raises(CorpusError) as info:
        Corpus(**args)
    assert message in str(info.value)


def test_subset_and_drop_empty_keep_everything_aligned():
    corpus = make_corpus(
        [[1, 0, 0], [0, 0, 0], [0, 2, 1]], labels=("x", None, "z"), texts=("one", "", "three")
    )
    kept, n_dropped = corpus.drop_empty()
    assert n_dropped == 1
    assert (
        kept.doc_ids == ("d0", "d2")
        and kept.labels == ("x", "z")
        and kept.texts == ("one", "three")
    )
    assert kept.X.toarray().tolist() == [[1, 0, 0], [0, 2, 1]]
    sub = corpus.subset([2, 0])
    assert sub.doc_ids == ("d2", "d0") and sub.X.toarray()[0].tolist() == [0, 2, 1]
    same, zero = kept.drop_empty()
    assert same is kept and zero == 0


def test_has_labels():
    assert not make_corpus([[1, 0, 0]]).has_labels
    assert not make_corpus([[1, 0, 0]], labels=(None,)).has_labels
    assert make_corpus([[1, 0, 0], [0, 1, 0]], labels=(None, "a")).has_labels


def test_dataset_needs_one_vocabulary():
    other = make_corpus([[1, 0]], vocab=Vocabulary(("a", "b")))
    with pytest.raises(CorpusError, match="share one vocabulary"):
        Dataset(train=make_corpus([[1, 0, 0]]), test=other)


def test_dataset_round_trip_with_missing_labels_and_texts(tmp_path):
    train = make_corpus(
        [[1, 0, 2], [0, 3, 0]], labels=("sci", None), texts=("Café ü\nline two", "ok")
    )
    test = make_corpus([[0, 0, 5]], labels=(None,), texts=("",))
    data = Dataset(train=train, test=test, info={"source": "here", "n_dropped_empty": 2})
    folder = data.save(tmp_path / "corpus")
    back = Dataset.load(folder)
    for a, b in ((back.train, train), (back.test, test)):
        assert (a.X != b.X).nnz == 0 and a.X.dtype == np.int32
        assert a.doc_ids == b.doc_ids and a.labels == b.labels and a.texts == b.texts
    assert back.vocabulary == VOCAB and back.info == data.info
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["summary"] == data.summary() and meta["summary"]["n_dropped_empty"] == 2


def test_round_trip_without_labels_texts_or_test(tmp_path):
    data = Dataset(train=make_corpus([[1, 1, 1]]))
    back = Dataset.load(data.save(tmp_path / "c"))
    assert back.test is None and back.train.labels is None and back.train.texts is None
    assert back.summary()["n_docs_test"] == 0


def test_save_replaces_an_existing_corpus(tmp_path):
    Dataset(train=make_corpus([[1, 0, 0]], texts=("x",))).save(tmp_path / "c")
    Dataset(train=make_corpus([[0, 1, 0], [0, 0, 1]])).save(tmp_path / "c")
    back = Dataset.load(tmp_path / "c")
    assert back.train.n_docs == 2 and back.train.texts is None
    assert [p.name for p in tmp_path.iterdir()] == ["c"]


def test_load_errors(tmp_path):
    with pytest.raises(CorpusError, match="corpus directory not found"):
        Dataset.load(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match="is not a prepared corpus \\(no meta.json\\)"):
        Dataset.load(tmp_path / "empty")
    folder = Dataset(train=make_corpus([[1, 0, 0]])).save(tmp_path / "c")
    meta = json.loads((folder / "meta.json").read_text())
    (folder / "meta.json").write_text(json.dumps({**meta, "format_version": 99}))
    with pytest.raises(CorpusError, match="corpus format version 99"):
        Dataset.load(folder)
    (folder / "meta.json").write_text("{not json")
    with pytest.raises(CorpusError, match="is not valid JSON"):
        Dataset.load(folder)
    (folder / "meta.json").write_text(json.dumps({**meta, "format": "other"}))
    with pytest.raises(CorpusError, match="does not describe a docmodel corpus"):
        Dataset.load(folder)
    (folder / "meta.json").write_text(json.dumps(meta))
    (folder / "train.npz").unlink()
    with pytest.raises(CorpusError, match="is incomplete: train.npz is missing"):
        Dataset.load(folder)
