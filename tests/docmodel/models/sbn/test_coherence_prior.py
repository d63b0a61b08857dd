"""The coherence prior on the units' words (``coherence_weight``) and the overlap penalty
(``overlap_weight``): what they score, their gradients, how they enter the training loss, and
that the prior steers units to words documents use together."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from docmodel.errors import ModelError
from docmodel.models.sbn.coherence import CoherencePrior
from docmodel.models.sbn.config import train_config
from docmodel.models.sbn.distributed import Local
from docmodel.models.sbn.training import _Run
from docmodel.quality import npmi_coherence
from tests.docmodel.models.sbn.test_sbn_estimator import planted_corpus, small_model


def _weights(n_words, n_units, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).gamma(1.0, 1.0, (n_words, n_units)))


def test_the_prior_scores_each_units_largest_weights_by_the_npmi_the_reports_use():
    X, _ = planted_corpus(n_docs=120)
    U = _weights(X.shape[1], 5)
    prior = CoherencePrior(X, "cpu", n_top=6)
    prior.choose_words(U)
    top = torch.argsort(U, 0, descending=True)[:6].T.numpy()  # each unit's six largest weights
    assert np.array_equal(np.sort(prior.words.T.numpy(), 1), np.sort(top, 1))
    # Uniform weights over the chosen words: a^T C a is the mean NPMI over ordered pairs of
    # distinct words times (n - 1) / n, the statistic of npmi_coherence.
    flat = torch.zeros_like(U)
    uniform = prior.coherence(flat)
    np.testing.assert_allclose(uniform, npmi_coherence(top, X, n_top=6) * 5 / 6, rtol=1e-12)


def test_the_penalty_is_minus_the_summed_coherence_and_its_gradient_is_exact():
    X, _ = planted_corpus(n_docs=120)
    U = _weights(X.shape[1], 4, seed=1).requires_grad_(True)
    prior = CoherencePrior(X, "cpu", n_top=5)
    prior.choose_words(U)
    pen = prior.penalty(U)
    assert pen.item() == pytest.approx(-prior.coherence(U.detach()).sum(), rel=1e-12)
    (grad,) = torch.autograd.grad(pen, U)
    assert torch.count_nonzero(grad) <= 4 * 5  # only the chosen words' weights
    w, k, h = int(prior.words[0, 2]), 2, 1e-6
    bumped = U.detach().clone()
    bumped[w, k] += h
    numeric = (prior.penalty(bumped) - prior.penalty(U.detach())).item() / h
    assert grad[w, k].item() == pytest.approx(numeric, rel=1e-4, abs=1e-8)


def test_the_overlap_counts_shared_top_words_between_units():
    X, _ = planted_corpus(n_docs=60)  # 32 words
    U = torch.zeros(X.shape[1], 3, dtype=torch.float64)
    U[0:4, 0] = U[0:4, 1] = 5.0  # units 0 and 1: the same four words
    U[8:12, 2] = 5.0  # unit 2: four others
    prior = CoherencePrior(X, "cpu", n_top=4)
    prior.choose_words(U)
    # Units 0 and 1 each draw one of their four words with chance 1/4: the same word with chance
    # 1/4; unit 2 shares none. Mean over the other two units: 1/8 for units 0 and 1, 0 for unit 2.
    assert prior.overlap(U).item() == pytest.approx(2 * (0.25 / 2), rel=1e-12)
    U2 = U.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(prior.overlap(U2), U2)
    assert torch.all(grad[8:12, 2] == 0)  # a unit that shares nothing feels no push
    assert CoherencePrior(X, "cpu", n_top=4).overlap(U[:, :1]).item() == 0.0  # one unit: nothing to share


def test_the_term_enters_the_training_loss_with_its_weight_per_document():
    X, _ = planted_corpus(n_docs=100)
    rows = np.arange(32)
    losses = {}
    for weight in (0.0, 2.5):
        est = small_model(coherence_weight=weight, overlap_weight=4 * weight, nonnegative=True, prior_logit=-2.0,
                          mean_field_steps=0)
        nets = est._build(X.shape[1])
        torch.manual_seed(0)
        nets.model.visible.weight.data = _weights(X.shape[1], 6, seed=2).to(nets.model.visible.weight.dtype)
        cfg = train_config(est, np.asarray(X.sum(1)).ravel())
        run = _Run(nets, X, X[:10], cfg, torch.device("cpu"), Local(), None, None, 30.0)
        if run.coherence is not None:
            run.coherence.choose_words(nets.model.visible.weight)
        losses[weight] = run.loss(rows)[0].item()
        if weight:
            U = nets.model.visible.weight
            expected = weight * run.coherence.penalty(U).item() + 4 * weight * run.coherence.overlap(U).item()
    # The same samples and dropout (the run's seeded generator) on both: the losses (float32)
    # differ by the term alone, to their rounding.
    rounding = 4 * float(np.finfo(np.float32).eps) * abs(losses[0.0])
    assert losses[2.5] - losses[0.0] == pytest.approx(expected, abs=rounding)
    assert abs(expected) > 100 * rounding


@pytest.mark.parametrize("name", ["coherence_weight", "overlap_weight"])
@pytest.mark.parametrize("weight", [-1.0, float("nan"), float("inf")])
def test_a_bad_weight_is_named(name, weight):
    with pytest.raises(ModelError, match=f"{name} must be a finite number >= 0"):
        small_model(**{name: weight}).fit(sp.csr_matrix(np.ones((3, 4))))


def _top_word_npmi(model, X, n=8):
    """Mean NPMI of each unit's ``n`` largest-weight words."""
    U = model.nets_.model.visible.weight.detach().numpy()
    top = np.argsort(-U, 0)[:n].T
    return float(np.nanmean(npmi_coherence(top, X, n_top=n)))


def _themes_with_rare_words(seed, n_docs=400, n_rare=64, rate=0.05):
    """Four themes (word blocks, one or two per document) and 64 rare words that occur in
    documents at random, whatever their theme."""
    X, _ = planted_corpus(n_docs=n_docs, seed=seed)
    rng = np.random.default_rng(seed + 1)
    rare = rng.poisson(rate, (n_docs, n_rare)) * rng.integers(1, 4, (n_docs, n_rare))
    return sp.csr_matrix(sp.hstack([X, sp.csr_matrix(rare)]))


def test_the_prior_steers_units_to_words_that_documents_use_together():
    """Without the prior some units put large weights on rare words that no theme shares; with it
    their largest weights go to a theme's words."""
    torch.set_num_threads(1)
    options = dict(n_units=6, max_epochs=40, nonnegative=True, prior_logit=-2.0)
    plain, steered = [], []
    for seed in (3, 4, 5, 6):
        X = _themes_with_rare_words(seed)
        plain.append(_top_word_npmi(small_model(**options).fit(X), X))
        steered.append(_top_word_npmi(small_model(**options, coherence_weight=5.0).fit(X), X))
    assert all(s >= p - 1e-9 for s, p in zip(steered, plain, strict=True))
    assert np.mean(steered) > np.mean(plain) + 0.03
