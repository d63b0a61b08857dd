"""Exact quantities of tiny SBNs by enumerating every latent state (test helper)."""

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
    shares no code (and no hand-written backward) with :func:`docmodel.models.sbn.likelihood.word_log_likelihood`."""
    return (x * F.log_softmax(F.linear(h1, model.visible.weight, model.visible.bias), dim=-1)).sum(-1)


def exact_log_joint_and_q(model: SBN, encoder: InferenceNetwork, x: torch.Tensor):
    """log p(x, h) and log q(h|x) for every state h, each of shape (N,), for one document x (V,)."""
    hs = [h[:, None, :] for h in enumerate_layers(model.config.layers)]  # N,1,K as (S, B, K)
    xb = x[None, :]
    log_p = (plain_word_log_likelihood(model, xb, hs[0]) + torch.stack(model.layer_log_probs(hs)).sum(0))[:, 0]
    logits = encoder.first_logits(xb)  # 1,K1
    log_q = bernoulli_log_prob(logits.expand(hs[0].shape[0], 1, -1), hs[0])
    for i, lin in enumerate(encoder.upper):
        log_q = log_q + bernoulli_log_prob(lin(hs[i]), hs[i + 1])
    return log_p, log_q[:, 0]


def exact_log_px(model, encoder, x) -> torch.Tensor:
    log_p, _ = exact_log_joint_and_q(model, encoder, x)
    return torch.logsumexp(log_p, 0)


def exact_elbo(model, encoder, x) -> torch.Tensor:
    """sum_h q(h|x) (log p(x,h) - log q(h|x)), differentiable in every parameter."""
    log_p, log_q = exact_log_joint_and_q(model, encoder, x)
    return (log_q.exp() * (log_p - log_q)).sum()


__all__ = ["Baselines", "enumerate_layers", "exact_elbo", "exact_log_px", "tiny_networks"]


def exact_completion(model: SBN, encoder: InferenceNetwork, x_observed: torch.Tensor, x_heldout: torch.Tensor) -> torch.Tensor:
    """log sum_h1 q(h_1 | x_observed) p(x_heldout | h_1): what document completion estimates, exactly."""
    h1 = all_states(model.config.layers[0])[:, None, :]  # N,1,K
    log_q = bernoulli_log_prob(encoder.first_logits(x_observed[None, :]).expand(h1.shape[0], 1, -1), h1)[:, 0]
    return torch.logsumexp(log_q + plain_word_log_likelihood(model, x_heldout[None, :], h1)[:, 0], 0)
