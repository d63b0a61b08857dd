"""Topic quality measures: NPMI against hand-computed values and against gensim's c_npmi on the
Lee corpus, diversity and label accuracy on planted cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from docmodel.errors import ModelError
from docmodel.quality import label_accuracy, npmi_coherence, top_word_ids, topic_diversity


def test_npmi_by_hand():
    # 4 documents over words 0..3: 0 and 1 always together, 2 with 0 once, 3 alone.
    X = sp.csr_matrix(np.array([[1, 2, 0, 0], [1, 1, 1, 0], [0, 0, 0, 3], [0, 0, 1, 0]]))
    eps = 1e-12
    # Words 0 and 1: p = 1/2 each, together 1/2.
    perfect = math.log((0.5 + eps) / 0.25) / -math.log(0.5 + eps)
    # Words 0 and 2: p = 1/2 each, together 1/4 -> PMI 0.
    independent = math.log((0.25 + eps) / 0.25) / -math.log(0.25 + eps)
    # Words 0 and 3: never together.
    apart = math.log(eps / (0.5 * 0.25)) / -math.log(eps)
    got = npmi_coherence([[0, 1], [0, 2], [0, 3], [0, 1, 2]], X, n_top=3)
    np.testing.assert_allclose(got[:3], [perfect, independent, apart], rtol=1e-12)
    assert perfect == pytest.approx(1.0) and independent == pytest.approx(0.0, abs=1e-10)
    assert -1 < apart < -0.9
    pairs_012 = [perfect, independent, math.log((0.25 + eps) / 0.25) / -math.log(0.25 + eps)]
    assert got[3] == pytest.approx(np.mean(pairs_012), rel=1e-12)


def test_npmi_uses_only_n_top_words_and_accepts_strings():
    X = sp.csr_matrix(np.array([[1, 1, 0], [1, 1, 0], [0, 0, 1], [1, 0, 1]]))
    ids = npmi_coherence([[0, 1, 2]], X, n_top=2)
    words = npmi_coherence([["a", "b", "c"]], X, n_top=2, vocabulary=["a", "b", "c"])
    np.testing.assert_array_equal(ids, words)
    assert ids[0] == pytest.approx(math.log((0.5 + 1e-12) / (0.75 * 0.5)) / -math.log(0.5 + 1e-12))


def test_npmi_word_absent_from_training_scores_minus_one():
    X = sp.csr_matrix(np.array([[1, 0, 0], [1, 1, 0]]))
    assert npmi_coherence([[0, 2]], X)[0] == -1.0


def test_npmi_agrees_with_gensim_on_lee():
    gensim = pytest.importorskip("gensim")
    from gensim.corpora import Dictionary
    from gensim.models.coherencemodel import CoherenceModel
    from gensim.test.utils import datapath
    from gensim.utils import simple_preprocess

    with open(datapath("lee_background.cor"), encoding="utf-8") as f:
        texts = [simple_preprocess(line) for line in f]
    dictionary = Dictionary(texts)
    rows = [dictionary.doc2bow(t) for t in texts]
    X = sp.csr_matrix(
        (
            [c for row in rows for _, c in row],
            ([d for d, row in enumerate(rows) for _ in row], [i for row in rows for i, _ in row]),
        ),
        shape=(len(rows), len(dictionary)),
    )
    # Topics: random sets of fairly frequent words: many co-occurring pairs, and some (19) that
    # never occur together, which exercises the epsilon convention.
    rng = np.random.default_rng(0)
    frequent = np.argsort(-np.asarray((X > 0).sum(axis=0)).ravel())[:300]
    topics = [[dictionary[int(i)] for i in rng.choice(frequent, 10, replace=False)] for _ in range(12)]
    # A window as long as the longest document makes every document exactly one window, so
    # gensim's sliding-window estimate becomes document co-occurrence.
    reference = CoherenceModel(
        topics=topics,
        texts=texts,
        dictionary=dictionary,
        coherence="c_npmi",
        window_size=max(len(t) for t in texts),
        topn=10,
        processes=1,
    ).get_coherence_per_topic()
    ours = npmi_coherence(topics, X, n_top=10, vocabulary=[dictionary[i] for i in range(len(dictionary))])
    np.testing.assert_allclose(ours, reference, rtol=1e-9, atol=1e-12)
    assert gensim.__version__


def test_npmi_errors():
    X = sp.csr_matrix(np.eye(3))
    with pytest.raises(ModelError, match="need the vocabulary"):
        npmi_coherence([["a", "b"]], X)
    with pytest.raises(ModelError, match="unit 0: top word 'z' is not in the vocabulary"):
        npmi_coherence([["a", "z"]], X, vocabulary=["a", "b", "c"])
    with pytest.raises(ModelError, match=r"top word ids must lie in \[0, 3\)"):
        npmi_coherence([[0, 7]], X)
    with pytest.raises(ModelError, match="n_top must be at least 2"):
        npmi_coherence([[0, 1]], X, n_top=1)


def test_top_word_ids_rank_best_first():
    unit_word = np.array([[0.1, 0.5, 0.4], [0.7, 0.1, 0.2]])
    np.testing.assert_array_equal(top_word_ids(unit_word, 2), [[1, 2], [0, 2]])


def test_topic_diversity():
    assert topic_diversity([[0, 1, 2], [3, 4, 5]], n_top=3) == 1.0
    assert topic_diversity([["a", "b"], ["a", "b"]], n_top=2) == 0.5
    # Only the first n_top words count.
    assert topic_diversity([[0, 1, 9], [2, 3, 9]], n_top=2) == 1.0
    assert topic_diversity([[0, 1, 9], [2, 3, 9]], n_top=3) == pytest.approx(5 / 6)
    with pytest.raises(ModelError, match="at least one unit"):
        topic_diversity([])


def test_label_accuracy_planted_and_uninformative():
    rng = np.random.default_rng(0)
    labels = rng.choice(["a", "b", "c"], size=300)
    informative = np.eye(3)[np.searchsorted(["a", "b", "c"], labels)] * 3 + rng.normal(size=(300, 3))
    noise = rng.normal(size=(300, 3))
    assert label_accuracy(informative, labels) > 0.9
    assert label_accuracy(noise, labels) < 0.5


def test_label_accuracy_drops_missing_labels_and_rare_classes():
    rng = np.random.default_rng(1)
    labels = ["x"] * 40 + ["y"] * 40 + [None] * 10 + ["rare"] * 3
    features = np.r_[np.zeros((40, 2)), np.ones((40, 2)), rng.normal(size=(13, 2))]
    features = features + 0.01 * rng.normal(size=features.shape)
    assert label_accuracy(features, labels) == 1.0
    assert label_accuracy(features, ["x"] * 90 + [None] * 3) is None
    assert label_accuracy(features, ["x"] * 89 + ["y"] * 4, cv=5) is None


def test_label_accuracy_errors():
    with pytest.raises(ModelError, match=r"3 labels for a doc_unit matrix of shape \(2, 2\)"):
        label_accuracy(np.zeros((2, 2)), ["a", "b", "c"])
    with pytest.raises(ModelError, match="cv must be at least 2"):
        label_accuracy(np.zeros((2, 2)), ["a", "b"], cv=1)
