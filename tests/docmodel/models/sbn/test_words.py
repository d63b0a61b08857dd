"""The SBN's unit word distributions (:mod:`docmodel.models.sbn.words`): what each unit adds,
computed from one softmax per document, against the direct two softmaxes per document and unit."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from docmodel.models.sbn import KIND
from docmodel.models.sbn.estimator import SBNTopicModel
from docmodel.models.sbn.words import added_to_background, added_word_distributions


def direct_added_word_distributions(model, X, *, random_state=0, max_docs=1000) -> np.ndarray:
    """The definition, computed directly: for every unit, the softmax over the words with and
    without it in each of (up to ``max_docs`` of) the documents where it is on."""
    H = model.transform(X) > KIND.active_threshold
    visible = model.nets_.model.visible
    U = visible.weight.detach().double().cpu()
    b = visible.bias.detach().double().cpu()
    rng = np.random.default_rng(random_state)
    K = U.shape[1]
    out = torch.zeros(K, U.shape[0], dtype=torch.float64)
    for k in range(K):
        docs = np.flatnonzero(H[:, k])
        if len(docs) > max_docs:
            docs = np.sort(rng.choice(docs, max_docs, replace=False))
        if not len(docs):
            out[k] = added_to_background(U[:, k], b)
            continue
        logits = torch.from_numpy(H[docs].astype(np.float64)) @ U.T + b
        added = (torch.softmax(logits, 1) - torch.softmax(logits - U[:, k], 1)).clamp(min=0).mean(0)
        out[k] = added / added.sum() if added.sum() > 0 else torch.softmax(b + U[:, k], 0)
    return out.numpy()


def planted_units(U: torch.Tensor, b: torch.Tensor, q: np.ndarray):
    """A stand-in for a fitted model with unit-word weights ``U`` (V, K), word biases ``b`` and
    q(h|x) = ``q`` for the documents passed in (``transform`` returns its input)."""
    visible = torch.nn.Linear(U.shape[1], U.shape[0])
    with torch.no_grad():
        visible.weight.copy_(U)
        visible.bias.copy_(b)
    return SimpleNamespace(transform=lambda X: X, nets_=SimpleNamespace(model=SimpleNamespace(visible=visible)))


def test_matches_the_direct_computation_on_a_fitted_sbn():
    rng = np.random.default_rng(0)
    topics = rng.dirichlet(np.full(30, 0.1), size=4)
    X = sp.csr_matrix(np.stack([rng.multinomial(40, topics[rng.integers(4)]) for _ in range(120)]))
    model = SBNTopicModel(n_units=6, max_epochs=3, batch_size=32, random_state=0).fit(X)
    got = added_word_distributions(model, X)
    np.testing.assert_allclose(got, direct_added_word_distributions(model, X), rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(model.word_distributions_, got, rtol=1e-9, atol=1e-15)  # what fit keeps


@pytest.mark.parametrize("block", [10_000, 3 * 50, 50])  # one block, several documents, one at a time
def test_matches_the_direct_computation_on_random_units(block):
    rng = np.random.default_rng(1)
    n_docs, V, K = 40, 50, 8
    U = torch.from_numpy(rng.normal(0, 2, (V, K))).float()
    U[:, 3] = -U[:, 3].abs()  # removes words only (those it removes least gain)
    U[:, 4] = 0.0  # changes nothing
    U[:30, 5] *= 10  # large weights on some words
    U[:, 7] = 0.0
    U[0, 7] = 1000.0  # one word, whatever else the document has (the other words' P underflow)
    b = torch.from_numpy(rng.normal(0, 1, V)).float()
    q = rng.uniform(size=(n_docs, K))
    q[:, 0] = 0.1  # on in no document
    q[:, 1] = np.where(np.arange(n_docs) == 7, 0.9, 0.1)  # on in one
    q[:, 6] = 0.9  # on in every document: sampled down to max_docs
    model = planted_units(U, b, q)
    for max_docs in (1000, 12):
        got = added_word_distributions(model, q, random_state=3, max_docs=max_docs, block=block)
        want = direct_added_word_distributions(model, q, random_state=3, max_docs=max_docs)
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(got.sum(1), 1.0)
        assert (got >= 0).all()
    # The fallbacks: what the unit adds to the background, and what a unit that adds nothing keeps.
    np.testing.assert_allclose(got[0], added_to_background(U[:, 0].double(), b.double()).numpy())
    np.testing.assert_allclose(got[4], torch.softmax(b.double(), 0).numpy())


def test_a_unit_with_one_weight_for_every_word_shows_what_it_keeps():
    """Such a unit changes no document's words; the direct difference of two softmaxes would be
    rounding noise, normalised into a distribution."""
    rng = np.random.default_rng(2)
    V, K = 20, 2
    U = torch.from_numpy(rng.normal(0, 1, (V, K))).float()
    U[:, 1] = -1.5
    b = torch.from_numpy(rng.normal(0, 1, V)).float()
    got = added_word_distributions(planted_units(U, b, np.full((5, K), 0.9)), np.full((5, K), 0.9))
    np.testing.assert_allclose(got[1], torch.softmax(b.double() - 1.5, 0).numpy())
