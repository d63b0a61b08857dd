"""fDARN's autoregressive prior and the autoregressive q against exact values on networks small
enough to enumerate every latent state: one-pass scoring, sampling frequencies, the bound, and
NVIL's gradient for every parameter group (the model with the prior's couplings W, q with its
couplings A, and the baselines)."""

from __future__ import annotations

import math

import pytest
import torch

from docmodel.models.sbn.nvil import (
    RunningStats,
    VarianceReduction,
    mean_field_baseline_term,
    nvil_estimate,
)
from tests.docmodel.models.sbn.sbn_exact import (
    all_states,
    enumerate_layers,
    exact_elbo,
    exact_first_q,
    exact_log_joint_and_q,
    exact_log_px,
    exact_terms,
    exact_top_prior,
    loop_mean_field,
    plain_word_log_likelihood,
    tiny_networks,
)

FDARN = {"prior": "autoregressive"}
AR_Q = {"inference": "autoregressive"}
BOTH = {"prior": "autoregressive", "inference": "autoregressive"}
CASES = [((4,), FDARN), ((3, 2), FDARN), ((4,), AR_Q), ((3, 2), AR_Q), ((3, 2), BOTH)]
IDS = ["fdarn", "fdarn-2layer", "ar-q", "ar-q-2layer", "both-2layer"]


def _doc(n_words=12, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 4, (n_words,), generator=g).double()


def _stats(L):
    # Variance below 1: the scale max(1, sqrt(v)) is 1, so the estimate must be the exact gradient.
    return RunningStats(torch.full((L,), 3.0, dtype=torch.float64), torch.full((L,), 0.5, dtype=torch.float64), 5)


def _grads(modules, fn):
    params = [p for m in modules for p in m.parameters()]
    for p in params:
        p.grad = None
    fn().backward()
    return torch.cat([p.grad.reshape(-1) if p.grad is not None else torch.zeros(p.numel(), dtype=p.dtype) for p in params])


def _states_by_index(h: torch.Tensor) -> torch.Tensor:
    """The index in :func:`all_states` order of each 0/1 row of ``h`` (..., K)."""
    k = h.shape[-1]
    return (h.long() * (2 ** torch.arange(k - 1, -1, -1))).sum(-1)


@pytest.mark.parametrize(("layers", "options"), CASES, ids=IDS)
def test_one_pass_scoring_equals_the_unit_by_unit_reference(layers, options):
    """The networks' masked products against loops over j < k, for every state; the upper
    triangle of the couplings (random here) never enters."""
    model, encoder, _ = tiny_networks(layers, **options)
    x = _doc()
    ref_ps, ref_qs = exact_terms(model, encoder, x)
    states = [h[:, None, :] for h in enumerate_layers(layers)]
    torch.testing.assert_close(torch.stack(model.layer_log_probs(states))[:, :, 0], torch.stack(ref_ps[1:]), rtol=0, atol=1e-12)
    torch.testing.assert_close(torch.stack(encoder.log_prob(x[None], states))[:, :, 0], torch.stack(ref_qs), rtol=0, atol=1e-12)
    with torch.no_grad():  # the diagonal and upper triangles are not part of the model
        for w in _couplings(model, encoder):
            w.add_(torch.triu(torch.full_like(w, 7.0)))
    torch.testing.assert_close(torch.stack(model.layer_log_probs(states))[:, :, 0], torch.stack(ref_ps[1:]), rtol=0, atol=1e-12)
    torch.testing.assert_close(torch.stack(encoder.log_prob(x[None], states))[:, :, 0], torch.stack(ref_qs), rtol=0, atol=1e-12)


def _couplings(model, encoder):
    out = [model.prior_weight] if model.config.prior == "autoregressive" else []
    return out + (list(encoder.ar_weights) if encoder.autoregressive else [])


def test_zero_couplings_give_the_factorial_layers_sample_for_sample():
    """A new autoregressive network (couplings 0) is the factorial one: the same samples from the
    same noise, the same log-probabilities."""
    factorial, f_encoder, _ = tiny_networks((3, 2))
    model, encoder, _ = tiny_networks((3, 2), **BOTH)
    model.load_state_dict(factorial.state_dict(), strict=False)  # all but the couplings
    encoder.load_state_dict(f_encoder.state_dict(), strict=False)
    with torch.no_grad():
        for w in _couplings(model, encoder):
            w.zero_()
    x = torch.stack([_doc(seed=s) for s in range(3)])
    a, b = torch.Generator().manual_seed(4), torch.Generator().manual_seed(4)
    hs_f, lq_f = f_encoder.sample(x, 7, a)
    hs_a, lq_a = encoder.sample(x, 7, b)
    for u, v in zip(hs_f, hs_a):
        assert torch.equal(u, v)
    for u, v in zip(lq_f, lq_a):  # summed in another order: equal to float64 rounding
        torch.testing.assert_close(u, v, rtol=0, atol=1e-12)
    for u, v in zip(factorial.sample(50, a), model.sample(50, b)):
        assert torch.equal(u, v)


@pytest.mark.parametrize("layers", [(4,), (3, 2)])
def test_prior_samples_follow_the_enumerated_fdarn_prior(layers):
    model, _, _ = tiny_networks(layers, scale=1.0, **FDARN)
    n = 200_000
    with torch.no_grad():
        hs = model.sample(n, torch.Generator().manual_seed(0))
        joint = exact_top_prior(model)  # log p(h_L)
        if len(layers) > 1:  # and p(h_1 | h_2): the full ancestral distribution
            h1, h2 = (s[:, None, :] for s in enumerate_layers(layers))
            joint = joint[_states_by_index(h2[:, 0])] + model.layer_log_probs([h1, h2])[0][:, 0]
    index = _states_by_index(torch.cat(hs, -1))  # h_1's bits first, as the enumeration orders them
    _assert_frequencies(index, joint.exp(), n)


@pytest.mark.parametrize("layers", [(4,), (3, 2)])
def test_q_samples_follow_the_enumerated_autoregressive_q(layers):
    _, encoder, _ = tiny_networks(layers, scale=1.0, **AR_Q)
    x = _doc(seed=2)
    n = 200_000
    with torch.no_grad():
        hs, log_qs = encoder.sample(x[None], n, torch.Generator().manual_seed(1))
        exact = exact_first_q(encoder, x, layers[0])
    _assert_frequencies(_states_by_index(hs[0][:, 0]), exact.exp(), n)
    # The returned log q is the exact one of the drawn state.
    torch.testing.assert_close(log_qs[0][:, 0], exact[_states_by_index(hs[0][:, 0])], rtol=0, atol=1e-12)


def _assert_frequencies(index, probs, n):
    counts = torch.bincount(index, minlength=len(probs)).double()
    se = (probs * (1 - probs) / n).sqrt()
    z = (counts / n - probs) / (se + 1e-12)
    assert probs.min() > 1e-4  # every state is seen, none is trivially matched at 0
    assert torch.all(z.abs() < 5.0), f"max |z| = {z.abs().max():.2f}"
    # chi-square with 2^K - 1 degrees of freedom, far below its 1e-6 tail
    chi2 = ((counts - n * probs) ** 2 / (n * probs)).sum().item()
    dof = len(probs) - 1
    assert chi2 < dof + 8 * math.sqrt(2 * dof)


@pytest.mark.parametrize(("layers", "options"), CASES, ids=IDS)
def test_nvil_single_sample_bounds_average_to_the_enumerated_elbo(layers, options):
    model, encoder, baselines = tiny_networks(layers, scale=0.8, **options)
    x = _doc(seed=3)
    log_p, log_q = exact_log_joint_and_q(model, encoder, x)
    q = log_q.exp()
    assert torch.allclose(q.sum(), torch.ones((), dtype=torch.float64))
    elbo = exact_elbo(model, encoder, x)
    assert elbo <= exact_log_px(model, encoder, x) + 1e-12
    sd = (q * (log_p - log_q - elbo) ** 2).sum().sqrt()
    n = 100_000
    with torch.no_grad():
        out = nvil_estimate(model, encoder, baselines, x[None], _stats(len(layers)), VarianceReduction(), n,
                            torch.Generator().manual_seed(2))
    assert abs(out.elbo.mean() - elbo) < 5 * sd / math.sqrt(n)


def _exact_baseline_loss(model, encoder, baselines, x, stats):
    """E_q[mean over layers of (l_i - c_i - C_i)^2], NVIL's baseline regression loss in
    expectation, with the local signals written out from the enumerated terms."""
    log_ps, log_qs = exact_terms(model, encoder, x)
    L = len(log_qs)
    signals = [sum(log_ps[i:]) - sum(log_qs[i:]) for i in range(L)]  # layer i: terms that depend on h_i
    states = [h[:, None, :] for h in enumerate_layers(model.config.layers)]
    xb = x[None]
    base = baselines(encoder.features(xb), xb, states)
    mean_field = plain_word_log_likelihood(model, xb, loop_mean_field(encoder, xb)[None])[0, 0].detach()
    q = torch.stack(log_qs).sum(0).exp().detach()
    loss = 0.0
    for i in range(L):
        b = base[i][:, 0] + (mean_field if i == 0 else 0.0)
        loss = loss + (q * (signals[i].detach() - stats.mean[i] - b) ** 2).sum()
    return loss / L


@pytest.mark.parametrize(("layers", "options"), CASES, ids=IDS)
@pytest.mark.parametrize("vr", [VarianceReduction(), VarianceReduction.none()], ids=["all-vr", "reinforce"])
def test_nvil_gradient_is_exact_for_every_parameter_group(layers, options, vr):
    model, encoder, baselines = tiny_networks(layers, **options)
    x = _doc()
    stats = _stats(len(layers))
    exact = _grads((model, encoder), lambda: exact_elbo(model, encoder, x))
    gen = torch.Generator().manual_seed(0)
    chunks = -torch.stack([
        _grads((model, encoder), lambda: nvil_estimate(model, encoder, baselines, x[None], stats, vr, 2000, gen).surrogate)
        for _ in range(40)
    ])
    _assert_unbiased(chunks, exact)
    # The couplings get gradient below the diagonal only, from both.
    couplings = _couplings(model, encoder)
    masked = torch.cat([_mask_of(p, couplings) for m in (model, encoder) for p in m.parameters()])
    assert masked.any() and torch.all(exact[masked] == 0) and torch.all(chunks[:, masked] == 0)
    if vr.input_baseline:
        # The baselines' gradient is -2 E[l - c - C] dC: with the mean-field term, C is already
        # close to the signal, so a global baseline c far off makes that gradient large enough
        # to be measured to a few percent.
        stats = RunningStats(torch.full((len(layers),), 20.0, dtype=torch.float64), stats.var, 5)
        exact_b = _grads((baselines,), lambda: _exact_baseline_loss(model, encoder, baselines, x, stats))
        chunks_b = torch.stack([
            _grads((baselines,), lambda: nvil_estimate(model, encoder, baselines, x[None], stats, vr, 2000, gen).baseline_loss)
            for _ in range(40)
        ])
        _assert_unbiased(chunks_b, exact_b)


def _mask_of(p, couplings):
    """True on the entries of ``p`` that are masked out (diagonal and above) when ``p`` is a
    coupling matrix, False elsewhere."""
    if any(p is w for w in couplings):
        return torch.triu(torch.ones_like(p, dtype=torch.bool)).reshape(-1)
    return torch.zeros(p.numel(), dtype=torch.bool)


def _assert_unbiased(chunks, exact):
    mean, se = chunks.mean(0), chunks.std(0) / math.sqrt(len(chunks))
    z = (mean - exact) / (se + 1e-9)
    assert torch.all(z.abs() < 5.0), f"max |z| = {z.abs().max():.2f}"
    assert torch.linalg.norm(mean - exact) < 0.05 * torch.linalg.norm(exact) + 1e-3


def test_fdarn_with_a_fixed_prior_logit_learns_only_its_couplings():
    """prior_logit with fDARN fixes the biases a_k; the couplings W stay learned, and the
    estimate is still the exact gradient."""
    model, encoder, baselines = tiny_networks((4,), prior_logit=-1.5, nonnegative=True, **FDARN)
    assert not model.prior_logits.requires_grad and model.prior_weight.requires_grad
    x = _doc()
    exact = _grads((model, encoder), lambda: exact_elbo(model, encoder, x))
    gen = torch.Generator().manual_seed(0)
    chunks = -torch.stack([
        _grads((model, encoder), lambda: nvil_estimate(model, encoder, baselines, x[None], _stats(1), VarianceReduction(), 2000, gen).surrogate)
        for _ in range(40)
    ])
    _assert_unbiased(chunks, exact)
    assert model.prior_weight.grad is not None and model.prior_weight.grad.abs().sum() > 0


@pytest.mark.parametrize("layers", [(4,), (3, 2)])
def test_mean_field_pass_and_the_baseline_term_for_an_autoregressive_q(layers):
    model, encoder, _ = tiny_networks(layers, **AR_Q)
    x = torch.stack([_doc(seed=s) for s in range(3)])
    m = encoder.mean_field(x)
    torch.testing.assert_close(m, loop_mean_field(encoder, x), rtol=0, atol=1e-12)
    # The first unit's value is its exact marginal; with A = 0 every unit's is.
    marginal = (exact_first_q(encoder, x[0], layers[0]).exp()[:, None] * all_states(layers[0])).sum(0)
    torch.testing.assert_close(m[0, 0], marginal[0])
    torch.testing.assert_close(mean_field_baseline_term(model, encoder, x),
                               plain_word_log_likelihood(model, x, m[None])[0])
    with torch.no_grad():
        encoder.ar_weights[0].zero_()
    marginal = (exact_first_q(encoder, x[0], layers[0]).exp()[:, None] * all_states(layers[0])).sum(0)
    torch.testing.assert_close(encoder.mean_field(x)[0], marginal)
