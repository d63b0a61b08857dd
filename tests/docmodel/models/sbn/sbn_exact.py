"""Exact quantities of tiny SBNs by enumerating every latent state (test helper).

Autoregressive layers (fDARN's prior, an autoregressive q) are scored here unit by unit with a
loop over the couplings j < k (:func:`loop_logits`), not with the networks' one-pass masked
product, so that the reference shares no code with what it checks."""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F

from docmodel.models.sbn.networks import (
    SBN,
    Baselines,
    InferenceNetwork,
    SBNConfig,
    bernoulli_log_prob,
)


def tiny_networks(layers=(4,), n_words=12, seed=0, scale=1.0, **options):
    """A tiny model, inference network and baselines in float64 with non-trivial weights.
    ``options`` are further ``SBNConfig`` fields (the options for readable units)."""
    torch.manual_seed(seed)
    config = SBNConfig(n_words=n_words, layers=layers, baseline_hidden=5, **options)
    model, encoder, baselines = SBN(config), InferenceNetwork(config), Baselines(config)
    for module in (model, encoder, baselines):
        module.double()
        for p in module.parameters():
            with torch.no_grad():
                p.copy_(torch.randn_like(p) * scale)
    with torch.no_grad():
        if config.prior_logit is not None:
            model.prior_logits.fill_(config.prior_logit)
        if config.nonnegative:
            model.visible.weight.abs_()
    with torch.no_grad():
        encoder.input_mean.copy_(torch.rand(n_words, dtype=torch.float64))
        baselines.count_weight.mul_(0.1)
    return model, encoder, baselines


def all_states(k: int) -> torch.Tensor:
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=k)), dtype=torch.float64)


def enumerate_layers(layers) -> list[torch.Tensor]:
    """Every joint latent configuration: list of (N, K_l) tensors, N = 2 ** sum(layers)."""
    grids = [all_states(k) for k in layers]
    idx = list(itertools.product(*[range(len(g)) for g in grids]))
    return [torch.stack([grids[j][i[j]] for i in idx]) for j in range(len(layers))]


def plain_word_log_likelihood(model: SBN, x: torch.Tensor, h1: torch.Tensor) -> torch.Tensor:
    """sum_w x_w log softmax(U h_1 + b)_w by plain autograd through ``log_softmax``: the reference
    shares no code (and no hand-written backward) with :func:`docmodel.models.likelihood.word_log_likelihood`."""
    return (x * F.log_softmax(F.linear(h1, model.visible.weight, model.visible.bias), dim=-1)).sum(-1)


def loop_logits(base: torch.Tensor, weight: torch.Tensor | None, h: torch.Tensor) -> torch.Tensor:
    """Logits c_k + sum_{j<k} W_kj h_j of an autoregressive layer, by explicit loops over k and
    j < k (``weight`` None: a factorial layer, the logits are ``base``)."""
    base = base.expand(h.shape)
    if weight is None:
        return base
    cols = []
    for k in range(h.shape[-1]):
        logit = base[..., k]
        for j in range(k):
            logit = logit + weight[k, j] * h[..., j]
        cols.append(logit)
    return torch.stack(cols, -1)


def prior_weight(model: SBN):
    return model.prior_weight if model.config.prior == "autoregressive" else None


def q_weight(encoder: InferenceNetwork, layer: int):
    return encoder.ar_weights[layer] if encoder.autoregressive else None


def exact_terms(model: SBN, encoder: InferenceNetwork, x: torch.Tensor, hs=None):
    """Every term of log p(x, h) and log q(h | x) for every state h (or the states ``hs``, shapes
    (N, 1, K_l)), one document x (V,).

    Returns
    -------
    log_ps : list of Tensor (N,)
        [log p(x | h_1), log p(h_1 | h_2), ..., log p(h_L)]
    log_qs : list of Tensor (N,)
        [log q(h_1 | x), log q(h_2 | h_1), ...]
    """
    if hs is None:
        hs = [h[:, None, :] for h in enumerate_layers(model.config.layers)]  # N,1,K as (S, B, K)
    xb = x[None, :]
    log_ps = [plain_word_log_likelihood(model, xb, hs[0])]
    for i, lin in enumerate(model.hidden):
        log_ps.append(bernoulli_log_prob(lin(hs[i + 1]), hs[i]))
    log_ps.append(bernoulli_log_prob(loop_logits(model.prior_logits, prior_weight(model), hs[-1]), hs[-1]))
    log_qs = []
    for i, h in enumerate(hs):
        base = encoder.first_logits(xb, model=model) if i == 0 else encoder.upper[i - 1](hs[i - 1])
        log_qs.append(bernoulli_log_prob(loop_logits(base, q_weight(encoder, i), h), h))
    return [t[:, 0] for t in log_ps], [t[:, 0] for t in log_qs]


def exact_log_joint_and_q(model: SBN, encoder: InferenceNetwork, x: torch.Tensor):
    """log p(x, h) and log q(h|x) for every state h, each of shape (N,), for one document x (V,)."""
    log_ps, log_qs = exact_terms(model, encoder, x)
    return torch.stack(log_ps).sum(0), torch.stack(log_qs).sum(0)


def exact_top_prior(model: SBN) -> torch.Tensor:
    """log p(h_L) for every state of the top layer (in :func:`all_states` order), shape (2^K_L,)."""
    h = all_states(model.config.layers[-1])
    return bernoulli_log_prob(loop_logits(model.prior_logits, prior_weight(model), h), h)


def exact_first_q(encoder: InferenceNetwork, x: torch.Tensor, k: int, model: SBN | None = None) -> torch.Tensor:
    """log q(h_1 | x) for every state of the first layer (``k`` units), shape (2^k,); ``model``
    for an encoder with mean-field updates."""
    h1 = all_states(k)
    return bernoulli_log_prob(loop_logits(encoder.first_logits(x[None, :], model=model), q_weight(encoder, 0), h1), h1)


def loop_mean_field(encoder: InferenceNetwork, x: torch.Tensor) -> torch.Tensor:
    """m_k = sigmoid(f_k(x) + sum_{j<k} A_kj m_j) by explicit loops (B, V) -> (B, K_1)."""
    f = encoder.first_logits(x)
    A = q_weight(encoder, 0)
    cols = []
    for k in range(f.shape[-1]):
        logit = f[..., k]
        for j in range(k if A is not None else 0):
            logit = logit + A[k, j] * cols[j]
        cols.append(torch.sigmoid(logit))
    return torch.stack(cols, -1)


def exact_log_px(model, encoder, x) -> torch.Tensor:
    log_p, _ = exact_log_joint_and_q(model, encoder, x)
    return torch.logsumexp(log_p, 0)


def exact_elbo(model, encoder, x) -> torch.Tensor:
    """sum_h q(h|x) (log p(x,h) - log q(h|x)), differentiable in every parameter."""
    log_p, log_q = exact_log_joint_and_q(model, encoder, x)
    return (log_q.exp() * (log_p - log_q)).sum()


__all__ = ["Baselines", "enumerate_layers", "exact_elbo", "exact_log_px", "exact_terms", "tiny_networks"]


def exact_completion(model: SBN, encoder: InferenceNetwork, x_observed: torch.Tensor, x_heldout: torch.Tensor) -> torch.Tensor:
    """log sum_h1 q(h_1 | x_observed) p(x_heldout | h_1): what document completion estimates, exactly."""
    k = model.config.layers[0]
    log_q = exact_first_q(encoder, x_observed, k, model)
    h1 = all_states(k)[:, None, :]  # N,1,K
    return torch.logsumexp(log_q + plain_word_log_likelihood(model, x_heldout[None, :], h1)[:, 0], 0)
