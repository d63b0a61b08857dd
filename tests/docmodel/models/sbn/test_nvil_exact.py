"""NVIL against exact values on SBNs small enough to enumerate every latent state."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from docmodel.errors import ModelError
from docmodel.models.sbn.nvil import (
    RunningStats,
    VarianceReduction,
    learning_signals,
    mean_field_baseline_term,
    nvil_estimate,
)
from tests.docmodel.models.sbn.sbn_exact import exact_elbo, exact_log_px, tiny_networks

LAYERS = [(4,), (3, 2)]


def _doc(n_words=12, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 4, (n_words,), generator=g).double()


def _grads(modules, fn):
    params = [p for m in modules for p in m.parameters()]
    for p in params:
        p.grad = None
    fn().backward()
    return torch.cat([p.grad.reshape(-1) if p.grad is not None else torch.zeros(p.numel(), dtype=p.dtype) for p in params])


def _nvil_grad_chunks(model, encoder, baselines, x, stats, vr, n_chunks, per_chunk, seed=0):
    gen = torch.Generator().manual_seed(seed)
    chunks = []
    for _ in range(n_chunks):
        chunks.append(
            _grads(
                (model, encoder),
                lambda: nvil_estimate(model, encoder, baselines, x[None], stats, vr, per_chunk, gen).surrogate,
            )
        )
    return -torch.stack(chunks)  # the surrogate is minimised: its negated gradient estimates grad L


@pytest.mark.parametrize("layers", LAYERS)
def test_bound_below_exact_log_likelihood(layers):
    model, encoder, _ = tiny_networks(layers)
    for seed in range(5):
        x = _doc(seed=seed)
        assert exact_elbo(model, encoder, x) <= exact_log_px(model, encoder, x) + 1e-12


@pytest.mark.parametrize("layers", LAYERS)
@pytest.mark.parametrize("vr", [VarianceReduction(), VarianceReduction.none()], ids=["all-vr", "reinforce"])
def test_nvil_gradient_is_unbiased_for_every_parameter(layers, vr):
    model, encoder, baselines = tiny_networks(layers)
    x = _doc()
    # Arbitrary running statistics with variance below 1, so the scale max(1, sqrt(v)) is 1 and
    # the estimate must equal the exact gradient (not a rescaled one).
    L = len(layers)
    stats = RunningStats(torch.full((L,), 3.0, dtype=torch.float64), torch.full((L,), 0.5, dtype=torch.float64), 5)
    exact = _grads((model, encoder), lambda: exact_elbo(model, encoder, x))
    chunks = _nvil_grad_chunks(model, encoder, baselines, x, stats, vr, n_chunks=40, per_chunk=2000)
    mean = chunks.mean(0)
    se = chunks.std(0) / math.sqrt(len(chunks))
    z = (mean - exact) / (se + 1e-9)
    # Every element of every parameter group within a few standard errors of the exact gradient.
    assert torch.all(z.abs() < 5.0), f"max |z| = {z.abs().max():.2f}"
    # And the agreement is tight, not a product of huge standard errors.
    assert torch.linalg.norm(mean - exact) < 0.05 * torch.linalg.norm(exact) + 1e-3


@pytest.mark.parametrize("layers", LAYERS)
def test_nvil_gradient_is_unbiased_with_the_options_for_readable_units(layers):
    """A fixed sparse prior, a fixed background and non-negative weights are part of the model:
    the estimate stays the exact gradient of its bound, and the fixed parameters get none."""
    model, encoder, baselines = tiny_networks(layers, prior_logit=-1.5, fixed_background=True, nonnegative=True)
    assert not model.prior_logits.requires_grad and not model.visible.bias.requires_grad
    x = _doc()
    L = len(layers)
    stats = RunningStats(torch.full((L,), 3.0, dtype=torch.float64), torch.full((L,), 0.5, dtype=torch.float64), 5)
    exact = _grads((model, encoder), lambda: exact_elbo(model, encoder, x))
    chunks = _nvil_grad_chunks(model, encoder, baselines, x, stats, VarianceReduction(), n_chunks=40, per_chunk=2000)
    mean, se = chunks.mean(0), chunks.std(0) / math.sqrt(len(chunks))
    assert torch.all(((mean - exact) / (se + 1e-9)).abs() < 5.0)
    assert torch.linalg.norm(mean - exact) < 0.05 * torch.linalg.norm(exact) + 1e-3
    # The fixed parameters (the top prior and the word bias) get no gradient from either.
    fixed = torch.cat([torch.zeros(p.numel(), dtype=torch.bool) if p.requires_grad else torch.ones(p.numel(), dtype=torch.bool)
                       for m in (model, encoder) for p in m.parameters()])
    assert fixed.sum() > 0 and torch.all(exact[fixed] == 0) and torch.all(mean[fixed] == 0)
    model.visible.weight.data[0, 0] = -1.0
    model.project()
    assert model.visible.weight[0, 0] == 0.0


@pytest.mark.parametrize("layers", LAYERS)
def test_length_weights_give_the_exact_gradient_of_the_per_word_objective(layers):
    # Two documents of 12 and 36 tokens. With length weights the inference network's estimate is
    # the gradient of mean_d (ref / N_d) L(x_d); the model's stays that of mean_d L(x_d).
    model, encoder, baselines = tiny_networks(layers)
    docs = torch.stack([_doc(seed=1), 3 * _doc(seed=2)])
    n = docs.sum(1)
    ref = 20.0
    vr = VarianceReduction(length_reference=ref)
    L = len(layers)
    stats = RunningStats(torch.full((L,), 3.0, dtype=torch.float64), torch.full((L,), 0.5, dtype=torch.float64), 5)
    elbos = torch.stack([exact_elbo(model, encoder, d) for d in docs])
    exact_model = _grads((model,), lambda: elbos.mean())
    exact_encoder = _grads((encoder,), lambda: torch.stack([exact_elbo(model, encoder, d) for d in docs]).mul(ref / n).mean())
    unweighted_encoder = _grads((encoder,), lambda: torch.stack([exact_elbo(model, encoder, d) for d in docs]).mean())
    gen = torch.Generator().manual_seed(0)
    chunks = -torch.stack([
        _grads((model, encoder), lambda: nvil_estimate(model, encoder, baselines, docs, stats, vr, 2000, gen).surrogate)
        for _ in range(40)
    ])
    exact = torch.cat([exact_model, exact_encoder])
    mean = chunks.mean(0)
    z = (mean - exact) / (chunks.std(0) / math.sqrt(len(chunks)) + 1e-9)
    assert torch.all(z.abs() < 5.0), f"max |z| = {z.abs().max():.2f}"
    n_model = exact_model.numel()
    assert torch.linalg.norm(mean[n_model:] - exact_encoder) < 0.05 * torch.linalg.norm(exact_encoder) + 1e-3
    # The weighting matters here: the unweighted gradient is far from the estimate.
    assert torch.linalg.norm(mean[n_model:] - unweighted_encoder) > 0.2 * torch.linalg.norm(unweighted_encoder)


def _fit_baselines(model, encoder, baselines, docs, vr, steps=400):
    opt = torch.optim.Adam(baselines.parameters(), lr=0.02)
    stats = RunningStats.initial(len(model.config.layers))
    gen = torch.Generator().manual_seed(3)
    for _ in range(steps):
        out = nvil_estimate(model, encoder, baselines, docs, stats, vr, 4, gen)
        opt.zero_grad()
        out.baseline_loss.backward()
        opt.step()
        stats = out.stats
    return stats


def _encoder_grad_variance(model, encoder, baselines, docs, stats, vr, n=400):
    gen = torch.Generator().manual_seed(11)
    samples = []
    for _ in range(n):
        samples.append(
            _grads((encoder,), lambda: nvil_estimate(model, encoder, baselines, docs, stats, vr, 1, gen).surrogate)
        )
    g = torch.stack(samples)
    return g.var(0).sum().item()


@pytest.mark.parametrize("layers", LAYERS)
def test_variance_reduction_cuts_gradient_variance(layers, record_property):
    model, encoder, baselines = tiny_networks(layers, scale=0.7)
    docs = torch.stack([_doc(seed=s) * (1 + s % 3) for s in range(8)])
    stats = _fit_baselines(model, encoder, baselines, docs, VarianceReduction())
    # Compare unscaled estimates: variance normalisation only rescales, so switch it off for both.
    vr_on = VarianceReduction(variance_norm=False)
    var_nvil = _encoder_grad_variance(model, encoder, baselines, docs, stats, vr_on)
    var_plain = _encoder_grad_variance(model, encoder, baselines, docs, stats, VarianceReduction.none())
    ratio = var_plain / var_nvil
    record_property("reinforce_over_nvil_variance", ratio)
    print(f"layers={layers}: gradient variance REINFORCE / NVIL = {ratio:.1f}")
    assert ratio > 10.0


def _baseline_error(model, encoder, baselines, stats, docs, mean_field):
    """Mean squared error of the first layer's baseline c + C(x) against the exact ELBO."""
    layers = model.config.layers
    hs = [torch.zeros(1, len(docs), k, dtype=torch.float64) for k in layers]
    with torch.no_grad():
        pred = baselines(encoder.features(docs), docs, hs)[0][0] + stats.mean[0]
        if mean_field:
            pred = pred + mean_field_baseline_term(model, encoder, docs)
        exact = torch.stack([exact_elbo(model, encoder, d) for d in docs])
    return ((pred - exact) ** 2).mean().item()


@pytest.mark.parametrize("layers", LAYERS)
def testmean_field_baseline_term_follows_the_model(layers):
    # Baselines fitted to one model, then the model changes (as it does at every training step):
    # with the mean-field term the baseline still predicts the ELBO; without it, it is far off.
    docs = torch.stack([_doc(seed=s) * (1 + s % 3) for s in range(8)])
    errors = {}
    for mean_field in (True, False):
        model, encoder, baselines = tiny_networks(layers, scale=0.7)
        vr = VarianceReduction(variance_norm=False, mean_field_term=mean_field)
        stats = _fit_baselines(model, encoder, baselines, docs, vr)
        g = torch.Generator().manual_seed(5)
        with torch.no_grad():
            model.visible.weight.add_(0.7 * torch.randn(model.visible.weight.shape, generator=g, dtype=torch.float64))
        errors[mean_field] = _baseline_error(model, encoder, baselines, stats, docs, mean_field)
    assert errors[True] < errors[False] / 5, errors


@pytest.mark.parametrize("layers", LAYERS)
def test_importance_sampling_converges_to_exact_log_likelihood(layers):
    model, encoder, _ = tiny_networks(layers, scale=0.8)
    x = _doc(seed=4)
    exact = exact_log_px(model, encoder, x).item()
    gen = torch.Generator().manual_seed(0)
    errors = []
    with torch.no_grad():
        for S in (10, 100, 1000, 100000):
            reps = []
            for _ in range(20):
                out = nvil_estimate(model, encoder, _baselines_off(model), x[None], RunningStats.initial(len(layers)), VarianceReduction.none(), S, gen)
                w = out.elbo[:, 0]
                reps.append((torch.logsumexp(w, 0) - math.log(S)).item())
            errors.append(abs(np.mean(reps) - exact))
            # In expectation the estimate is a lower bound on log p(x).
            assert np.mean(reps) <= exact + 3 * np.std(reps) / math.sqrt(len(reps)) + 1e-9
    # q is deliberately far from the posterior here (a gap of several nats), so convergence is
    # slow; with 100,000 samples the estimate is within a few hundredths of a nat.
    assert errors[-1] < 0.05
    assert errors[-1] < errors[0] / 20


def _baselines_off(model):
    from docmodel.models.sbn.networks import Baselines

    return Baselines(model.config).double()


def test_local_signals_keep_only_terms_that_depend_on_the_layer():
    S, B = 2, 3
    g = torch.Generator().manual_seed(0)
    log_ps = [torch.randn(S, B, generator=g) for _ in range(3)]  # log p(x|h1), log p(h1|h2), log p(h2)
    log_qs = [torch.randn(S, B, generator=g) for _ in range(2)]  # log q(h1|x), log q(h2|h1)
    local = learning_signals(log_ps, log_qs, local=True)
    full = sum(log_ps) - sum(log_qs)
    torch.testing.assert_close(local[0], full)
    torch.testing.assert_close(local[1], log_ps[1] + log_ps[2] - log_qs[1])
    shared = learning_signals(log_ps, log_qs, local=False)
    torch.testing.assert_close(shared[1], full)


@pytest.mark.parametrize("layers", LAYERS)
def test_leave_one_out_baseline_gives_the_exact_gradient(layers):
    # Two samples per document, each centred by the other alone: the hardest case (a baseline
    # that counted the sample itself would halve the inference network's gradient).
    model, encoder, baselines = tiny_networks(layers)
    x = _doc()
    docs = x[None].expand(500, -1).contiguous()
    L = len(layers)
    stats = RunningStats(torch.full((L,), 3.0, dtype=torch.float64), torch.full((L,), 0.5, dtype=torch.float64), 5)
    vr = VarianceReduction(sample_baseline=True)
    exact = _grads((model, encoder), lambda: exact_elbo(model, encoder, x))
    gen = torch.Generator().manual_seed(0)
    chunks = -torch.stack([
        _grads((model, encoder), lambda: nvil_estimate(model, encoder, baselines, docs, stats, vr, 2, gen).surrogate)
        for _ in range(40)
    ])
    mean = chunks.mean(0)
    z = (mean - exact) / (chunks.std(0) / math.sqrt(len(chunks)) + 1e-9)
    assert torch.all(z.abs() < 5.0), f"max |z| = {z.abs().max():.2f}"
    n_model = sum(p.numel() for p in model.parameters())
    assert torch.linalg.norm(mean[n_model:] - exact[n_model:]) < 0.05 * torch.linalg.norm(exact[n_model:])


def test_leave_one_out_baseline_trains_no_baseline_network_and_cuts_variance():
    model, encoder, baselines = tiny_networks((4,), scale=0.7)
    docs = torch.stack([_doc(seed=s) * (1 + s % 3) for s in range(8)])
    stats = RunningStats.initial(1)
    vr = VarianceReduction(sample_baseline=True, variance_norm=False)
    out = nvil_estimate(model, encoder, baselines, docs, stats, vr, 4, torch.Generator().manual_seed(0))
    assert out.baseline_loss.item() == 0.0
    assert _grads((baselines,), lambda: out.surrogate + out.baseline_loss).abs().sum() == 0

    def variance(vr):
        gen = torch.Generator().manual_seed(11)
        g = torch.stack([
            _grads((encoder,), lambda: nvil_estimate(model, encoder, baselines, docs, stats, vr, 4, gen).surrogate)
            for _ in range(300)
        ])
        return g.var(0).sum().item()

    assert variance(VarianceReduction.none()) > 10 * variance(vr)
    with pytest.raises(ModelError, match="at least 2 samples"):
        nvil_estimate(model, encoder, baselines, docs, stats, vr, 1, torch.Generator().manual_seed(0))
