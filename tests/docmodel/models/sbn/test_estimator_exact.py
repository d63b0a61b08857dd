"""The estimator's importance-sampled and completion figures, and NVIL's variance normalisation,
against exact values on SBNs small enough to enumerate every latent state."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from docmodel.models.sbn.estimator import SBNTopicModel
from docmodel.models.sbn.nvil import RunningStats, VarianceReduction, nvil_estimate
from tests.docmodel.models.sbn.sbn_exact import (
    exact_completion,
    exact_elbo,
    exact_log_joint_and_q,
    exact_log_px,
    tiny_networks,
)

N_WORDS = 12


# Layers and the options of fDARN's prior, the autoregressive q and q's mean-field updates (which
# a one-layer factorial model has by default), for the estimates' tests.
CASES = [((4,), {"mean_field_steps": 0}), ((3, 2), {}), ((4,), {"prior": "autoregressive"}),
         ((4,), {"inference": "autoregressive"}), ((3, 2), {"prior": "autoregressive", "inference": "autoregressive"}),
         ((4,), {"mean_field_steps": 3})]
IDS = ["sbn", "sbn-2layer", "fdarn", "ar-q", "both-2layer", "sbn-mean-field"]


def estimator_with(layers, seed=0, scale=0.8, **options):
    """A fitted SBNTopicModel whose networks are replaced by a tiny enumerable one (float32, as the
    estimator computes), and that network in float64 for the exact values."""
    rng = np.random.default_rng(seed)
    X = sp.csr_matrix(rng.integers(0, 3, (40, N_WORDS)).astype(float))
    model = SBNTopicModel(n_units=layers[0], layers=layers if len(layers) > 1 else None, max_epochs=1, **options).fit(X)
    exact_model, exact_encoder, exact_baselines = tiny_networks(layers, n_words=N_WORDS, seed=seed, scale=scale, **options)
    for live, exact in ((model.nets_.model, exact_model), (model.nets_.encoder, exact_encoder)):
        live.load_state_dict({k: v.float() for k, v in exact.state_dict().items()})
        exact.load_state_dict({k: v.double() for k, v in live.state_dict().items()})  # the same float32 values
    return model, exact_model, exact_encoder


def docs(n=3, seed=7):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 4, (n, N_WORDS), generator=g).double()


@pytest.mark.parametrize(("layers", "options"), CASES, ids=IDS)
def test_log_likelihood_is_converges_to_the_exact_log_likelihood(layers, options):
    """Planted bug it catches: a plain mean of the log weights (the ELBO) in place of log-mean-exp,
    off by the whole gap between the bound and log p(x) (several nats here)."""
    model, exact_model, exact_encoder = estimator_with(layers, **options)
    X = docs()
    exact = np.array([exact_log_px(exact_model, exact_encoder, x).item() for x in X])
    elbo = np.array([exact_elbo(exact_model, exact_encoder, x).item() for x in X])
    assert np.all(exact - elbo > 0.5)  # a gap the estimator must close
    estimate = model.log_likelihood_is(sp.csr_matrix(X.numpy()), n_samples=200_000, random_state=0)
    assert np.all(np.abs(estimate - exact) < 0.1 * (exact - elbo)), (estimate, exact, elbo)
    # The bound: the mean of single-sample bounds, the enumerated ELBO to a few standard errors
    # (their spread enumerated too) and float32 rounding.
    n = 200_000
    bound = model.log_likelihood_bound(sp.csr_matrix(X.numpy()), n_samples=n, random_state=1)
    sd = []
    for x, e in zip(X, elbo):
        log_p, log_q = exact_log_joint_and_q(exact_model, exact_encoder, x)
        sd.append((log_q.exp() * (log_p - log_q - e) ** 2).sum().sqrt().item())
    assert np.all(np.abs(bound - elbo) < 5 * np.array(sd) / np.sqrt(n) + 1e-3), (bound, elbo, sd)


@pytest.mark.parametrize(("layers", "options"), CASES, ids=IDS)
def test_log_likelihood_completion_converges_to_the_exact_predictive(layers, options):
    """Planted bug it catches: q seeing both halves of the document (a leak), which moves the
    predictive of the held-out half by far more than the tolerance."""
    model, exact_model, exact_encoder = estimator_with(layers, seed=1, **options)
    X = docs(seed=3)
    g = torch.Generator().manual_seed(0)
    observed = torch.floor(X * torch.rand(X.shape, generator=g, dtype=torch.float64))
    heldout = X - observed
    exact = np.array([exact_completion(exact_model, exact_encoder, o, h).item() for o, h in zip(observed, heldout)])
    leaked = np.array([exact_completion(exact_model, exact_encoder, o + h, h).item() for o, h in zip(observed, heldout)])
    estimate = model.log_likelihood_completion(
        sp.csr_matrix(observed.numpy()), sp.csr_matrix(heldout.numpy()), n_samples=200_000, random_state=0
    )
    tolerance = 0.02
    assert np.all(np.abs(estimate - exact) < tolerance), (estimate, exact)
    assert np.max(np.abs(leaked - exact)) > 5 * tolerance


@pytest.mark.parametrize("layers", [(4,), (3, 2)])
def test_variance_normalisation_divides_the_signal_by_the_running_deviation(layers):
    """With running variance v = 4 > 1, q's gradient is the exact one divided by sqrt(v) = 2 and
    the model's is untouched. Planted bug it catches: dividing by max(1, v) (a factor 4)."""
    model, encoder, baselines = tiny_networks(layers)
    x = docs(n=1)[0]
    L = len(layers)
    stats = RunningStats(torch.full((L,), 3.0, dtype=torch.float64), torch.full((L,), 4.0, dtype=torch.float64), 5)
    n_model = sum(p.numel() for p in model.parameters())

    def grads(fn):
        params = [p for m in (model, encoder) for p in m.parameters()]
        for p in params:
            p.grad = None
        fn().backward()
        return torch.cat([p.grad.reshape(-1) if p.grad is not None else torch.zeros(p.numel(), dtype=p.dtype) for p in params])

    exact = grads(lambda: exact_elbo(model, encoder, x))
    gen = torch.Generator().manual_seed(0)
    chunks = torch.stack([
        -grads(lambda: nvil_estimate(model, encoder, baselines, x[None], stats, VarianceReduction(), 2000, gen).surrogate)
        for _ in range(40)
    ])
    mean, se = chunks.mean(0), chunks.std(0) / math.sqrt(len(chunks))
    expected = torch.cat([exact[:n_model], exact[n_model:] / 2.0])
    assert torch.all(((mean - expected) / (se + 1e-9)).abs() < 5.0)
    q_part = mean[n_model:]
    # The direction is the exact gradient's, and the length half of it (not a quarter).
    cosine = torch.dot(q_part, exact[n_model:]) / (q_part.norm() * exact[n_model:].norm())
    assert cosine > 0.99
    assert abs(q_part.norm() / exact[n_model:].norm() - 0.5) < 0.05
