"""The concrete (Gumbel-sigmoid) relaxation: its reparameterised gradient against the exact
gradient of its objective R_t (computed by quadrature over the logistic noise, from the
objective's definition), its limit at low temperature (the discrete bound), and training."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from docmodel.errors import ModelError
from docmodel.models.likelihood import word_log_likelihood
from docmodel.models.sbn.relaxed import relaxed_estimate
from tests.docmodel.models.sbn.sbn_exact import exact_elbo, tiny_networks
from tests.docmodel.models.sbn.test_sbn_estimator import planted_corpus, small_model

T = 0.5


def _doc(n_words, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 4, (n_words,), generator=g).double()


def _grads(modules, fn):
    params = [p for m in modules for p in m.parameters()]
    for p in params:
        p.grad = None
    fn().backward()
    return torch.cat([p.grad.reshape(-1) if p.grad is not None else torch.zeros(p.numel(), dtype=p.dtype) for p in params])


def _logistic_grid(n, half_width):
    """Trapezoid nodes and weights of the standard logistic density on [-w, w] (the tails beyond
    hold e^-w of the mass)."""
    L = torch.linspace(-half_width, half_width, n, dtype=torch.float64)
    w = torch.sigmoid(L) * torch.sigmoid(-L) * (L[1] - L[0])
    w[0] = w[-1] = w[0] / 2
    return L, w


def _words(model, x, z):
    """sum_w x_w log softmax(U z + b)_w, by log_softmax (shares no code with the estimator's)."""
    return (x * F.log_softmax(z @ model.visible.weight.T + model.visible.bias, -1)).sum(-1)


def _bernoulli_mass(z, logit):
    """log Bernoulli(z | sigmoid(logit)) read at a relaxed z: z log s + (1 - z) log(1 - s)."""
    return z * F.logsigmoid(logit) + (1 - z) * F.logsigmoid(-logit)


def r_t_one_unit(model, encoder, x, t):
    """R_t for one factorial unit under a factorial prior: E_L[log p(x | z)] - KL(Bern(s) ||
    Bern(sigmoid(a))), the expectation by quadrature."""
    L, w = _logistic_grid(16_001, 40.0)
    f = encoder.first_logits(x[None])[0]  # (1,)
    z = torch.sigmoid((f + L[:, None]) / t)  # N,1
    s, p = torch.sigmoid(f), torch.sigmoid(model.prior_logits)
    kl = s * torch.log(s / p) + (1 - s) * torch.log((1 - s) / (1 - p))
    return (w * _words(model, x, z)).sum() - kl.sum()


def r_t_two_autoregressive_units(model, encoder, x, t):
    """R_t for two units, fDARN prior and autoregressive q (the Bernoulli log-masses read at the
    relaxed values), by quadrature over both noises."""
    L, w = _logistic_grid(801, 30.0)
    L1, L2 = L[:, None], L[None, :]
    f = encoder.first_logits(x[None])[0]
    A, W, a = encoder.ar_weights[0], model.prior_weight, model.prior_logits
    z1 = torch.sigmoid((f[0] + L1) / t).expand(len(L), len(L))
    g2 = f[1] + A[1, 0] * z1
    z2 = torch.sigmoid((g2 + L2) / t)
    z = torch.stack([z1, z2], -1)
    latent = (_bernoulli_mass(z1, a[0]) + _bernoulli_mass(z2, a[1] + W[1, 0] * z1)
              - _bernoulli_mass(z1, f[0].expand_as(z1)) - _bernoulli_mass(z2, g2))
    return (w[:, None] * w[None, :] * (_words(model, x, z) + latent)).sum()


@pytest.mark.parametrize("case", ["one-unit-closed-form", "two-autoregressive-units"])
def test_relaxed_gradient_is_the_exact_gradient_of_its_objective(case):
    if case == "one-unit-closed-form":
        model, encoder, _ = tiny_networks((1,), n_words=6, scale=0.8)
        reference = r_t_one_unit
    else:
        model, encoder, _ = tiny_networks((2,), n_words=6, scale=0.8, prior="autoregressive", inference="autoregressive")
        reference = r_t_two_autoregressive_units
    x = _doc(6)
    exact = _grads((model, encoder), lambda: reference(model, encoder, x, T))
    gen = torch.Generator().manual_seed(0)
    chunks = -torch.stack([
        _grads((model, encoder), lambda: relaxed_estimate(model, encoder, x[None], T, 5000, gen).surrogate)
        for _ in range(40)
    ])
    mean, se = chunks.mean(0), chunks.std(0) / math.sqrt(len(chunks))
    z = (mean - exact) / (se + 1e-9)
    assert torch.all(z.abs() < 5.0), f"max |z| = {z.abs().max():.2f}"
    assert torch.linalg.norm(mean - exact) < 0.03 * torch.linalg.norm(exact)
    # The objective's value too.
    with torch.no_grad():
        value = relaxed_estimate(model, encoder, x[None], T, 200_000, gen).elbo
        assert abs(value.mean() - reference(model, encoder, x, T)) < 5 * value.std() / math.sqrt(value.numel())


@pytest.mark.parametrize(("layers", "options"), [((4,), {}), ((3, 2), {"prior": "autoregressive", "inference": "autoregressive"})],
                         ids=["closed-form", "plug-in"])
def test_the_relaxed_objective_tends_to_the_discrete_bound(layers, options):
    model, encoder, _ = tiny_networks(layers, scale=0.8, **options)
    x = _doc(12, seed=3)
    elbo = exact_elbo(model, encoder, x).item()
    gaps = {}
    with torch.no_grad():
        for t in (1.0, 0.01):
            value = relaxed_estimate(model, encoder, x[None], t, 200_000, torch.Generator().manual_seed(1)).elbo
            gaps[t] = abs(value.mean().item() - elbo)
    assert gaps[0.01] < 0.1 < gaps[1.0], gaps


def test_fused_word_likelihood_gives_the_gradient_for_relaxed_units():
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 4, (5, 40), generator=g).double()
    z = torch.rand(3, 5, 6, generator=g, dtype=torch.float64).requires_grad_()
    weight = torch.randn(40, 6, generator=g, dtype=torch.float64).requires_grad_()
    bias = torch.randn(40, generator=g, dtype=torch.float64).requires_grad_()
    out = word_log_likelihood(x, z, weight, bias)
    assert "WordLogLikelihood" in type(out.grad_fn).__name__
    assert torch.autograd.gradcheck(lambda zz, w: word_log_likelihood(x, zz, w, bias), (z, weight))


def test_relaxed_training_lowers_the_validation_perplexity():
    X, _ = planted_corpus(n_docs=300)
    torch.set_num_threads(1)
    model = small_model(algorithm="relaxed", max_epochs=20).fit(X)
    history = [h["val_perplexity_bound"] for h in model.history_]
    assert len(history) >= 2 and history[-1] < history[0]
    # A uniform model over 32 words has perplexity 32; documents use 8 or 16 words. The figure
    # is the discrete model's bound.
    assert model.perplexity(X[:100]) < 20
    assert np.all(np.isfinite(model.log_likelihood_is(X[:20], n_samples=20)))


def test_relaxed_settings_are_checked():
    X, _ = planted_corpus(n_docs=60)
    with pytest.raises(ModelError, match="relaxed_temperature must be in"):
        small_model(algorithm="relaxed", relaxed_temperature=0.0).fit(X)
    with pytest.raises(ModelError, match="encoder_dreams applies to nvil training only"):
        small_model(algorithm="relaxed", encoder_dreams=1.0).fit(X)
