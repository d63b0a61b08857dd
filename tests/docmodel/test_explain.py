"""docmodel.explain: word attribution, unit word distributions, the JS/MDS unit map, token spans
on planted cases whose answers are known."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from corpora import Vocabulary
from docmodel.errors import ModelError
from docmodel.explain import (
    attributed_segments,
    js_distances,
    token_spans,
    top_documents,
    unit_map,
    unit_word_distributions,
    word_attribution,
)
from docmodel.models.lda.estimator import LDATopicModel
from docmodel.models.sbn.estimator import SBNTopicModel


def fake_model(kind, doc_unit, unit_word, bias=None):
    """Just what explain.py reads of a fitted model."""
    unit_word = np.asarray(unit_word, dtype=np.float64)
    nets = None
    if bias is not None:
        visible = SimpleNamespace(bias=torch.tensor(bias, dtype=torch.float64))
        nets = SimpleNamespace(model=SimpleNamespace(visible=visible))
    return SimpleNamespace(
        kind=kind,
        n_words_=unit_word.shape[1],
        transform=lambda X: np.asarray(doc_unit, dtype=np.float64)[None, :],
        unit_word=lambda: unit_word,
        nets_=nets,
    )


def test_sbn_words_go_to_the_switched_on_unit_that_raises_them_most():
    # Units 0 and 1 are on; unit 2 is off although it would raise word 3 the most.
    U = [
        [2.0, 1.0, 0.0, 0.1, -1.0],
        [0.5, 3.0, 2.0, -0.5, -1.0],
        [0.0, 0.0, 0.0, 9.0, 0.0],
    ]
    model = fake_model("sbn", [0.9, 0.6, 0.1], U)
    x = np.array([3, 1, 2, 1, 4])
    units = word_attribution(model, x)
    # word 0: 0.9*2 > 0.6*0.5 -> unit 0; word 1: 0.6*3 > 0.9*1 -> unit 1; word 2 -> unit 1;
    # word 3: only unit 0 raises it among the units on -> unit 0; word 4: no unit on raises it.
    assert units.tolist() == [0, 1, 1, 0, -1]


def test_sbn_absent_words_and_no_active_unit():
    U = [[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]]
    model = fake_model("sbn", [0.2, 0.4], U)  # nothing above 0.5: every unit weighted by q
    units = word_attribution(model, sp.csr_matrix([[1, 0, 2]]))
    assert units.tolist() == [1, -1, 0]  # 0.4*3 > 0.2*1; word 1 absent; 0.2*3 > 0.4*1
    units = word_attribution(model, np.zeros(3))
    assert units.tolist() == [-1, -1, -1]


def test_lda_words_go_to_the_topic_with_the_largest_responsibility():
    beta = [[0.7, 0.2, 0.1], [0.1, 0.2, 0.7]]
    model = fake_model("lda", [0.3, 0.7], beta)
    assert word_attribution(model, [1, 1, 1]).tolist() == [0, 1, 1]  # 0.21 > 0.07; 0.06 < 0.14


def test_one_document_only():
    model = fake_model("lda", [0.5, 0.5], [[0.5, 0.5], [0.5, 0.5]])
    with pytest.raises(ModelError, match="one document"):
        word_attribution(model, np.ones((2, 2)))
    with pytest.raises(ModelError, match="2 words"):
        word_attribution(model, np.ones((1, 3)))


def planted_sbn():
    """A fitted SBN whose parameters are then set by hand: unit 0 adds words 0-4 and is switched on
    by them, unit 1 adds words 5-9 and is switched on by them, and a strong background (words
    10-19) dominates every document's word distribution."""
    rng = np.random.default_rng(0)
    X = np.zeros((200, 20))
    X[:, 10:] = rng.poisson(4.0, (200, 10))
    X[:100, :5] += rng.poisson(1.0, (100, 5)) + 1
    X[50:150, 5:10] += rng.poisson(1.0, (100, 5)) + 1
    X = sp.csr_matrix(X)
    model = SBNTopicModel(n_units=2, max_epochs=1, random_state=0).fit(X)
    nets = model.nets_
    with torch.no_grad():
        U = torch.zeros(20, 2)
        U[:5, 0], U[5:10, 1] = 2.0, 2.0
        nets.model.visible.weight.copy_(U)
        nets.model.visible.bias.copy_(torch.cat([torch.full((10,), -2.0), torch.full((10,), 2.0)]))
        nets.encoder.input_mean.zero_()
        W = torch.zeros(2, 20)
        W[0, :5], W[1, 5:10] = 10.0, 10.0
        nets.encoder.first.weight.copy_(W)
        nets.encoder.first.bias.fill_(-5.0)
    return model, X


def test_sbn_unit_distributions_are_what_each_unit_adds():
    from docmodel.models.sbn.words import added_word_distributions

    model, X = planted_sbn()
    P = added_word_distributions(model, X)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    assert P[0, :5].sum() > 0.99 and P[1, 5:10].sum() > 0.99
    # The map separates the two planted units: nothing they add is shared...
    model.word_distributions_ = P
    assert js_distances(unit_word_distributions(model))[0, 1] > 0.99
    # ...where the bias-dominated softmax(b + U[:, k]) puts them close together.
    bias_dominated = torch.softmax(model.nets_.model.visible.bias[None, :] + model.nets_.model.visible.weight.T, 1)
    assert js_distances(bias_dominated.detach().double().numpy())[0, 1] < 0.5


def test_js_distances_known_values():
    P = np.array([[0.5, 0.5, 0, 0], [0.5, 0.5, 0, 0], [0, 0, 0.5, 0.5]])
    D = js_distances(P)
    np.testing.assert_allclose(D, [[0, 0, 1], [0, 0, 1], [1, 1, 0]], atol=1e-7)
    with pytest.raises(ModelError, match="units x words"):
        js_distances(np.zeros(3))


def test_unit_map_keeps_planted_clusters_apart():
    rng = np.random.default_rng(0)
    base = np.zeros((2, 20))
    base[0, :10] = 1.0
    base[1, 10:] = 1.0
    rows = []
    for cluster in (0, 0, 0, 1, 1, 1):
        p = base[cluster] + 0.05 * rng.random(20)
        rows.append(p / p.sum())
    xy = unit_map(np.array(rows), random_state=0)
    assert xy.shape == (6, 2)
    d = np.linalg.norm(xy[:, None] - xy[None, :], axis=-1)
    within = max(d[:3, :3].max(), d[3:, 3:].max())
    between = d[:3, 3:].min()
    assert between > 3 * within
    assert unit_map(np.array(rows[:1])).shape == (1, 2)
    assert unit_map(np.array(rows[:2])).shape == (2, 2)


def test_top_documents_strongest_first():
    doc_unit = np.array([[0.1, 0.9], [0.8, 0.2], [0.5, 0.5]])
    assert top_documents(doc_unit, 0, n=2).tolist() == [1, 2]
    with pytest.raises(ModelError, match="between 0 and 1"):
        top_documents(doc_unit, 2)


def test_token_spans_follow_the_corpus_tokenizer():
    vocab = Vocabulary(("cats", "sat", "mat"))
    text = "The Cats sat on the MAT; cats!"
    spans = token_spans(text, None, vocab)  # default: lowercase, english stop words
    assert [(text[s:e], w) for s, e, w in spans] == [("Cats", 0), ("sat", 1), ("MAT", 2), ("cats", 0)]
    stemmed = token_spans(text, {"stem": True, "min_df": 2}, Vocabulary(("cat",)))
    assert [text[s:e] for s, e, _ in stemmed] == ["Cats", "cats"]


def test_token_spans_skip_a_stripped_header():
    text = "From: someone\nSubject: cats\n\ncats here"
    spans = token_spans(text, {"strip_headers": "auto"}, Vocabulary(("cats",)))
    assert [s for s, _, _ in spans] == [text.rindex("cats here")]


def test_attributed_segments_join_back_into_the_text():
    text = "cats sat, mat."
    spans = [(0, 4, 0), (5, 8, 1), (10, 13, 2)]
    pieces = attributed_segments(text, spans, np.array([3, -1, 0]))
    assert "".join(p for p, _ in pieces) == text
    assert pieces == [("cats", 3), (" sat, ", -1), ("mat", 0), (".", -1)]


def test_real_lda_attributes_planted_blocks():
    rng = np.random.default_rng(0)
    rows = [rng.multinomial(30, np.r_[np.ones(5), np.zeros(5)] / 5) for _ in range(40)]
    rows += [rng.multinomial(30, np.r_[np.zeros(5), np.ones(5)] / 5) for _ in range(40)]
    X = sp.csr_matrix(np.array(rows))
    vocab = Vocabulary(tuple(f"w{i}" for i in range(10)))
    model = LDATopicModel(n_units=2, max_iter=30, random_state=0).fit(X, vocabulary=vocab)
    units = word_attribution(model, np.ones(10))
    assert len(set(units[:5])) == 1 and len(set(units[5:])) == 1 and units[0] != units[5]
    P = unit_word_distributions(model)
    assert P.shape == (2, 10) and np.allclose(P.sum(axis=1), 1.0)
    assert js_distances(P)[0, 1] > 0.8


def test_label_purity_and_unit_labels():
    from docmodel.explain import label_purity, unit_label

    on = np.array([[1, 0], [1, 0], [1, 1], [0, 0]], dtype=bool)
    purity, majority = label_purity(on, ["a", "a", "b", None])
    np.testing.assert_allclose(purity, [2 / 3, 1.0])
    assert majority == ["a", "b"]
    purity, majority = label_purity(np.zeros((2, 1), dtype=bool), ["a", "b"])
    assert np.isnan(purity[0]) and majority == [None]
    with pytest.raises(ModelError, match="one label per document"):
        label_purity(on, ["a"])
    assert unit_label(["space", "nasa", "orbit", "moon"], 7) == "7 · space nasa orbit"
