"""The sampled estimates (the bound, importance sampled, completion) of the SBN family (one and
two layers, fDARN's prior, an autoregressive q) and of NVDM depend on the document and the seed
alone: the same figure scored alone, among other documents, in another order or in evaluation
batches of another size; another seed gives other figures.

Planted bug these tests catch: one generator seeded once and streamed over the batches (the old
behaviour), under which a document alone draws the first noise of the stream and among others
the noise after its predecessors'."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from docmodel.models.nvdm import estimator as nvdm_estimator
from docmodel.models.sbn import scoring as sbn_scoring
from tests.docmodel.models.nvdm.test_nvdm import model_from_networks, tiny_networks
from tests.docmodel.models.sbn.test_estimator_exact import CASES, IDS, N_WORDS, estimator_with

N_SAMPLES = 30
ESTIMATES = ("bound", "is", "completion")


def corpus() -> tuple[sp.csr_matrix, sp.csr_matrix, sp.csr_matrix]:
    """Eight documents and a fixed split of each into an observed and a held-out half; the second
    and the seventh documents, and their halves, are identical."""
    rng = np.random.default_rng(5)
    X = rng.integers(0, 4, (8, N_WORDS)).astype(float)
    X[6] = X[1]
    observed = np.floor(X * rng.random(X.shape))
    observed[6] = observed[1]
    return sp.csr_matrix(X), sp.csr_matrix(observed), sp.csr_matrix(X - observed)


def scores(model, estimate: str, rows, **kw) -> np.ndarray:
    """The per-document figures of the documents ``rows`` of :func:`corpus`, scored together."""
    X, observed, heldout = corpus()
    rows = np.asarray(rows)
    if estimate == "completion":
        return model.log_likelihood_completion(observed[rows], heldout[rows], n_samples=N_SAMPLES, **kw)
    return getattr(model, f"log_likelihood_{estimate}")(X[rows], n_samples=N_SAMPLES, **kw)


@pytest.fixture(scope="module", params=[*CASES, "nvdm"], ids=[*IDS, "nvdm"])
def model(request):
    """A model and the module whose ``_EVAL_ELEMENTS`` sets its evaluation batch."""
    if request.param == "nvdm":
        return model_from_networks(*tiny_networks(n_words=N_WORDS, n_units=3)), nvdm_estimator
    layers, options = request.param
    return estimator_with(layers, **options)[0], sbn_scoring


@pytest.mark.parametrize("estimate", ESTIMATES)
def test_a_documents_figure_depends_on_the_document_and_the_seed_alone(model, estimate, monkeypatch):
    model, batching = model
    n = corpus()[0].shape[0]
    together = scores(model, estimate, np.arange(n))
    assert together.shape == (n,) and np.all(np.isfinite(together))
    alone = np.concatenate([scores(model, estimate, [i]) for i in range(n)])
    order = np.random.default_rng(0).permutation(n)
    permuted = np.empty(n)
    permuted[order] = scores(model, estimate, order)
    monkeypatch.setattr(batching, "_EVAL_ELEMENTS", 3 * N_SAMPLES * N_WORDS)
    assert model._eval_batch(N_SAMPLES) == 3  # batches of 3, 3 and 2 documents
    batched = scores(model, estimate, np.arange(n))
    monkeypatch.undo()
    # The same noise; only float32 rounding differs, where the batch's shape changes the order of
    # the network's sums.
    for other in (alone, permuted, batched):
        np.testing.assert_allclose(other, together, rtol=2e-6, atol=0)
    np.testing.assert_allclose(together[6], together[1], rtol=2e-6, atol=0)  # identical documents
    another = scores(model, estimate, np.arange(n), random_state=1)
    assert np.abs(another - together).max() > 1e-2
    np.testing.assert_array_equal(scores(model, estimate, np.arange(n), random_state=1), another)
