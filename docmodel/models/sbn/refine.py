"""A tighter bound for a trained SBN: q(h | x) refined per document before it is scored.

The inference network is amortised: one network maps every document to its posterior
approximation, and on documents unlike its training documents (a test split from a later period,
say) it leaves a gap between the bound and the log-likelihood that the model itself would allow.
Refinement closes part of that gap the way iterative or semi-amortised inference does (Hjelm et
al., "Iterative refinement of the approximate posterior for directed belief networks", NeurIPS
2016; Kim et al., "Semi-amortized variational autoencoders", ICML 2018): each document gets its
own offsets delta_l on the logits of every layer of q (before the autoregressive part, if any),
started at zero (the inference network's q) and moved by Adam to increase that document's bound

    L(x; delta) = E_q[log p(x, h) - log q(h | x; delta)].

The gradient is the score-function estimate with a leave-one-out baseline: with S samples h_s
and signals l_s = log p(x, h_s) - log q(h_s | x; delta),

    d L / d delta_l ~ (1/S) sum_s (l_s - mean_{t != s} l_t) (h_{l,s} - sigmoid(a_{l,s})),

a_{l,s} the layer's logits at that sample (given the units before each unit for an
autoregressive q). The baseline of sample s does not depend on h_s, so the estimate is unbiased;
E_q[d log q / d delta] = 0 removes the -log q term's own dependence. Everything is elementwise per
document, so a document's refined q depends on it, the seed and the draw numbers alone, not on
the documents refined with it.

The refined q is still a distribution over h, so the bound scored with it is a bound on log p(x)
like the network's: only tighter where refinement helped. It is a different estimate from the
NVIL paper's bound (which scores the inference network's own q) and is reported as such.
"""

from __future__ import annotations

import torch

# Adam's constants for the offsets. The gradient is in nats per logit; eps keeps a gradient
# that is only rounding (a document whose samples all agree) from being blown up to a full step,
# which would also make a document's figure depend on the float rounding of its batch.
_BETAS = (0.9, 0.999)
_EPS = 1e-3


def sampled_log_weights(nets, x: torch.Tensor, n_samples: int, generator, offsets=None, first=None):
    """log p(x, h_s) - log q(h_s | x) for h_s ~ q(h | x), shape (S, B), and the samples h_s
    (per layer, (S, B, K_l)); ``offsets``: q's per-document logit offsets (:func:`refine_offsets`),
    None for the inference network's own q; ``first``: the network's first-layer logits of ``x``
    when the caller has them already (see :meth:`InferenceNetwork.sample`)."""
    hs, log_qs = nets.encoder.sample(x, n_samples, generator, offsets=offsets, model=nets.model, first=first)
    model = nets.model
    log_p = model.log_p_x_given_h1(x, hs[0]) + torch.stack(model.layer_log_probs(hs)).sum(0)
    return log_p - torch.stack(log_qs).sum(0), hs


def _signals(nets, x: torch.Tensor, n_samples: int, noise, offsets: list[torch.Tensor], first: torch.Tensor):
    """Samples of the refined q, their learning signals (S, B) and each layer's h - sigmoid(a);
    ``first``: the network's first-layer logits of ``x``."""
    enc = nets.encoder
    signal, hs = sampled_log_weights(nets, x, n_samples, noise, offsets, first)  # S,B
    scores = []
    for i, h in enumerate(hs):
        base = (first + offsets[0]) if i == 0 else enc.upper[i - 1](hs[i - 1]) + offsets[i]
        scores.append(h - torch.sigmoid(enc.logits_given(i, base, h)))
    return signal, scores


def offset_gradients(
    nets, x: torch.Tensor, offsets: list[torch.Tensor], n_samples: int, noise, first: torch.Tensor | None = None,
) -> list[torch.Tensor]:
    """The leave-one-out score-function estimate of dL/d delta_l for each layer, (B, K_l) each.

    Parameters
    ----------
    x : Tensor, shape (B, V)
    offsets : list of Tensor, shapes (B, K_l)
    n_samples : int
        S >= 2 (the baseline of each sample is the mean signal of the others).
    noise : torch.Generator or a noise callable (:mod:`docmodel.noise`)
    first : Tensor, shape (B, K_1), optional
        The network's first-layer logits of ``x`` (computed here when not given): they do not
        depend on the offsets, so :func:`refine_offsets` computes them once for all its steps.
    """
    if n_samples < 2:
        raise ValueError("refinement needs at least 2 samples per step (a leave-one-out baseline)")
    first = nets.encoder.first_logits(x, model=nets.model) if first is None else first
    signal, scores = _signals(nets, x, n_samples, noise, offsets, first)
    S, signal = signal.shape[0], signal.double()
    centred = (signal - (signal.sum(0, keepdim=True) - signal) / (S - 1)).unsqueeze(-1)  # S,B,1
    return [(centred * score).mean(0).to(x.dtype) for score in scores]


@torch.no_grad()
def refine_offsets(nets, x: torch.Tensor, steps: int, n_samples: int, noise, learning_rate: float) -> list[torch.Tensor]:
    """Per-document offsets of q's logits after ``steps`` Adam steps on each document's bound.

    Parameters
    ----------
    x : Tensor, shape (B, V)
    steps : int
        Adam steps (0: zero offsets, the inference network's q).
    n_samples : int
        Samples of h per document and step (at least 2).
    noise : torch.Generator or a noise callable; one draw per layer and step, in step order.
    learning_rate : float
        Adam's step size, in logits.

    Returns
    -------
    list of Tensor, shapes (B, K_l)
    """
    B = x.shape[0]
    enc = nets.encoder
    ks = [lin.out_features for lin in (enc.first_output, *enc.upper)]
    offsets = [torch.zeros(B, k, dtype=x.dtype, device=x.device) for k in ks]
    first = enc.first_logits(x, model=nets.model)  # the same at every step (q's mean-field updates included)
    m = [torch.zeros_like(d) for d in offsets]
    v = [torch.zeros_like(d) for d in offsets]
    b1, b2 = _BETAS
    for t in range(1, steps + 1):
        grads = offset_gradients(nets, x, offsets, n_samples, noise, first)
        for d, g, m_, v_ in zip(offsets, grads, m, v):
            m_.lerp_(g, 1 - b1)
            v_.mul_(b2).addcmul_(g, g, value=1 - b2)
            step = learning_rate * (m_ / (1 - b1**t)) / ((v_ / (1 - b2**t)).sqrt() + _EPS)
            d.add_(step)  # ascent: the bound grows
    return offsets
