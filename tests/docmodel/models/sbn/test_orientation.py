"""Flipping a unit's states (h_k <-> 1 - h_k) is an exact reparameterisation, and a fitted SBN
presents every unit by its rarer state."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from docmodel.models.sbn.estimator import SBNTopicModel
from docmodel.models.sbn.networks import (
    SBN,
    Baselines,
    InferenceNetwork,
    SBNConfig,
    bernoulli_log_prob,
)
from docmodel.models.sbn.nvil import RunningStats, joint_terms
from docmodel.models.sbn.orientation import flip_units
from docmodel.models.sbn.state import Networks
from tests.docmodel.models.sbn.sbn_exact import (
    enumerate_layers,
    exact_elbo,
    exact_log_px,
    exact_terms,
)


def dyadic_networks(layers, encoder_hidden=0, n_words=9, seed=0, **options) -> Networks:
    """Float64 networks whose weights are multiples of 1/8 of size at most 2, so that every sum
    of a few of them is exact and any order of addition gives the same bits. ``options``: further
    ``SBNConfig`` fields (the autoregressive prior or q)."""
    torch.manual_seed(seed)
    config = SBNConfig(n_words=n_words, layers=layers, encoder_hidden=encoder_hidden, baseline_hidden=3, **options)
    nets = Networks(SBN(config), InferenceNetwork(config), Baselines(config), RunningStats.initial(len(layers)))
    for module in (nets.model, nets.encoder, nets.baselines):
        module.double()
        with torch.no_grad():
            for p in module.parameters():
                p.copy_(torch.randint(-16, 17, p.shape).double() / 8)
    with torch.no_grad():
        nets.encoder.input_mean.copy_(torch.randint(0, 9, (n_words,)).double() / 8)
    return nets


def per_state(nets: Networks, x: torch.Tensor, hs: list[torch.Tensor]):
    """Word term, latent terms, log q and upper baselines for every state in ``hs`` (N, 1, K_l)."""
    xb = x[None, :]
    terms = joint_terms(nets.model, xb, hs)
    log_q = bernoulli_log_prob(nets.encoder.first_logits(xb).expand(hs[0].shape[0], 1, -1), hs[0])
    for i, lin in enumerate(nets.encoder.upper):
        log_q = log_q + bernoulli_log_prob(lin(hs[i]), hs[i + 1])
    base = nets.baselines(nets.encoder.features(xb), xb, hs)
    return terms[0], torch.stack(terms[1:]).sum(0), log_q, base[1:]


@pytest.mark.parametrize("layers,encoder_hidden", [((4,), 0), ((4, 3), 0), ((4,), 5), ((3, 2, 2), 4)])
def test_flip_is_an_exact_reparameterisation(layers, encoder_hidden):
    nets = dyadic_networks(layers, encoder_hidden)
    x = torch.tensor([3.0, 0, 1, 0, 0, 2, 1, 0, 5], dtype=torch.float64)
    flip = torch.zeros(layers[0], dtype=torch.bool)
    flip[[0, 2]] = True
    states = [h[:, None, :] for h in enumerate_layers(layers)]
    flipped_states = [states[0].clone(), *states[1:]]
    flipped_states[0][..., flip] = 1.0 - flipped_states[0][..., flip]
    before = per_state(nets, x, states)
    exact_before = exact_log_px(nets.model, nets.encoder, x), exact_elbo(nets.model, nets.encoder, x)
    flip_units(nets, flip)
    after = per_state(nets, x, flipped_states)
    # log p(x | h_1): the logits b + U h_1 are the same exact sums, so the same bits.
    assert torch.equal(before[0], after[0])
    # The Bernoulli terms compute h a - softplus(a) against (1 - h)(-a) - softplus(-a): equal
    # in exact arithmetic, and here to rounding (softplus(a) = a + softplus(-a) to the last bit or so).
    torch.testing.assert_close(after[1], before[1], rtol=0, atol=1e-12)
    torch.testing.assert_close(after[2], before[2], rtol=0, atol=1e-12)
    for b0, b1 in zip(before[3], after[3]):
        torch.testing.assert_close(b1, b0, rtol=0, atol=1e-12)
    exact_after = exact_log_px(nets.model, nets.encoder, x), exact_elbo(nets.model, nets.encoder, x)
    torch.testing.assert_close(exact_after[0], exact_before[0], rtol=0, atol=1e-10)
    torch.testing.assert_close(exact_after[1], exact_before[1], rtol=0, atol=1e-10)


@pytest.mark.parametrize(("layers", "encoder_hidden", "options"), [
    ((4,), 0, {"prior": "autoregressive"}),
    ((4,), 5, {"inference": "autoregressive"}),
    ((4, 3), 0, {"prior": "autoregressive", "inference": "autoregressive"}),
    ((4,), 0, {"prior": "autoregressive", "inference": "autoregressive"}),
], ids=["fdarn", "ar-q-hidden", "both-2layer", "both"])
def test_flip_is_exact_for_autoregressive_layers(layers, encoder_hidden, options):
    """Flipped units are read by the couplings of their own layer too (fDARN's prior on a
    one-layer model, q's first layer): every term of log p and log q of every state is kept."""
    nets = dyadic_networks(layers, encoder_hidden, **options)
    x = torch.tensor([3.0, 0, 1, 0, 0, 2, 1, 0, 5], dtype=torch.float64)
    flip = torch.tensor([True, False, True, False])
    states = [h[:, None, :] for h in enumerate_layers(layers)]
    flipped_states = [states[0].clone(), *states[1:]]
    flipped_states[0][..., flip] = 1.0 - flipped_states[0][..., flip]
    before = exact_terms(nets.model, nets.encoder, x, states)
    exact_before = exact_log_px(nets.model, nets.encoder, x), exact_elbo(nets.model, nets.encoder, x)
    flip_units(nets, flip)
    after = exact_terms(nets.model, nets.encoder, x, flipped_states)
    for b, a in zip(before[0] + before[1], after[0] + after[1]):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    torch.testing.assert_close(exact_log_px(nets.model, nets.encoder, x), exact_before[0], rtol=0, atol=1e-10)
    torch.testing.assert_close(exact_elbo(nets.model, nets.encoder, x), exact_before[1], rtol=0, atol=1e-10)


def test_flip_changes_the_parameters_it_should():
    nets = dyadic_networks((4,))
    U0 = nets.model.visible.weight.detach().clone()
    b0 = nets.model.visible.bias.detach().clone()
    prior0 = nets.model.prior_logits.detach().clone()
    flip = torch.tensor([False, True, False, False])
    flip_units(nets, flip)
    assert torch.equal(nets.model.visible.weight[:, 1], -U0[:, 1])
    assert torch.equal(nets.model.visible.weight[:, [0, 2, 3]], U0[:, [0, 2, 3]])
    assert torch.equal(nets.model.visible.bias, b0 + U0[:, 1])
    assert torch.equal(nets.model.prior_logits, prior0 * torch.tensor([1.0, -1.0, 1.0, 1.0], dtype=torch.float64))


def planted_counts(n_docs=240, seed=0):
    """Two planted themes on words 0-4 and 5-9 and background words 10-19; theme A is in 80%
    of the documents, theme B in 20%."""
    rng = np.random.default_rng(seed)
    X = np.zeros((n_docs, 20))
    for d in range(n_docs):
        X[d, 10:] = rng.poisson(1.0, 10)
        if rng.random() < 0.8:
            X[d, 0:5] += rng.poisson(3.0, 5)
        if rng.random() < 0.2:
            X[d, 5:10] += rng.poisson(3.0, 5)
    return sp.csr_matrix(X)


def test_fitted_units_are_on_in_at_most_half_of_the_documents():
    X = planted_counts()
    model = SBNTopicModel.preset("perplexity", n_units=4, max_epochs=60, random_state=0).fit(X)
    q = model.transform(X)
    share = (q > 0.5).mean(axis=0)
    assert np.all(share <= 0.5)
    np.testing.assert_allclose(model.unit_on_share_, share)
    # The reparameterisation does not change the model: the bound with the same noise stays close
    # and orienting again flips nothing.
    before = model.nets_.model.visible.weight.detach().clone()
    again = model.orient_units(X)
    assert torch.equal(model.nets_.model.visible.weight, before)
    np.testing.assert_allclose(again, share)


@pytest.mark.parametrize("options", [{"prior": "autoregressive"}, {"inference": "autoregressive"}], ids=["fdarn", "ar-q"])
def test_autoregressive_models_present_units_by_their_rarer_state(options):
    X = planted_counts()
    model = SBNTopicModel.preset("perplexity", n_units=4, max_epochs=30, random_state=0, **options).fit(X)
    share = (model.transform(X) > 0.5).mean(axis=0)
    assert model.units_flipped_ > 0 and np.all(share <= 0.5)
    np.testing.assert_allclose(model.unit_on_share_, share)


def test_options_for_readable_units_hold_after_fit():
    X = planted_counts()
    plain = SBNTopicModel.preset("perplexity", n_units=4, max_epochs=30, random_state=0).fit(X)
    sparse = SBNTopicModel.preset("perplexity", n_units=4, max_epochs=30, random_state=0, weight_l1=50.0).fit(X)
    assert np.abs(sparse.unit_word()).sum() < 0.8 * np.abs(plain.unit_word()).sum()
    # Non-negative weights stay so: such units are never flipped (on = the state that adds words).
    nonneg = SBNTopicModel.preset("perplexity", n_units=4, max_epochs=30, random_state=0, nonnegative=True).fit(X)
    assert nonneg.unit_word().min() >= 0.0 and nonneg.units_flipped_ == 0
    # A fixed prior logit stays fixed (negated for a flipped unit) and the background stays put.
    fixed = SBNTopicModel.preset("perplexity", n_units=4, max_epochs=30, random_state=0, prior_logit=-2.0,
                                  fixed_background=True).fit(X)
    np.testing.assert_allclose(np.abs(fixed.nets_.model.prior_logits.detach().numpy()), 2.0)
    freq = np.asarray(X.sum(axis=0)).ravel()
    U = fixed.nets_.model.visible.weight.detach().double()
    flipped = fixed.nets_.model.prior_logits.detach() > 0
    background = fixed.nets_.model.visible.bias.detach().double() - U[:, flipped].sum(1)
    np.testing.assert_allclose(torch.softmax(background, 0).numpy(), freq / freq.sum(), rtol=0.05)
