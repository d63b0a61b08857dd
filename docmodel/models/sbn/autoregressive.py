"""Autoregressive Bernoulli layers: fDARN's prior and the autoregressive inference network.

Gregor, Danihelka, Mnih, Blundell & Wierstra, "Deep AutoRegressive Networks" (ICML 2014), as
used by Mnih & Gregor (2014, Table 2 and the fDARN rows of Table 3): a layer of K binary units
whose joint distribution is

    p(h) = prod_k Bernoulli(h_k | sigmoid(c_k + sum_{j<k} W_kj h_j)),

with ``c`` the layer's logits without the autoregressive part (the prior's learned logits, or
the inference network's f(x)) and ``W`` strictly lower-triangular. ``W`` is stored as a full
(K, K) parameter and always read through :func:`masked`, so its diagonal and upper triangle never
enter the model and get no gradient. Scoring a given h is one pass (:func:`logits_given`);
sampling is sequential over the K units (:func:`sample`); the expected value of h has no closed
form, and :func:`mean_field_pass` gives the deterministic approximation the SBN uses for it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def masked(weight: torch.Tensor) -> torch.Tensor:
    """The strictly lower-triangular part of ``weight`` (K, K): entry (k, j) is kept for j < k."""
    return torch.tril(weight, diagonal=-1)


def logits_given(base: torch.Tensor, weight: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """The logits of every unit given the units before it, in one pass.

    Parameters
    ----------
    base : Tensor, shape (..., K)
        c: the logits without the autoregressive part.
    weight : Tensor, shape (K, K)
        W (only its strictly lower triangle is used).
    h : Tensor, shape (..., K)
        The states (0/1, or relaxed values in [0, 1]) the logits are conditioned on.

    Returns
    -------
    Tensor, shape (..., K)
        c_k + sum_{j<k} W_kj h_j.
    """
    return base + F.linear(h, masked(weight))


@torch.no_grad()
def sample(base: torch.Tensor, weight: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """h ~ prod_k Bernoulli(sigmoid(c_k + sum_{j<k} W_kj h_j)), drawn unit by unit.

    Unit k is on when u_k < its probability. The caller draws the uniform noise of all K units
    at once, as :func:`docmodel.models.sbn.networks.sample_bernoulli` does, so that with ``W = 0``
    the sample is exactly the factorial layer's.

    Parameters
    ----------
    base : Tensor, shape (..., K)
    weight : Tensor, shape (K, K)
    u : Tensor, shape (..., K)
        U(0, 1) noise.

    Returns
    -------
    Tensor, shape (..., K)
        0/1 in the dtype of ``base``; no gradient (a sample).
    """
    w = masked(weight).to(base.dtype)
    h = torch.zeros(base.shape, dtype=base.dtype, device=base.device)
    for k in range(base.shape[-1]):
        logit = base[..., k] + h @ w[k]  # units >= k are still 0 and W_kj = 0 for j >= k
        h[..., k] = (u[..., k] < torch.sigmoid(logit)).to(base.dtype)
    return h


def mean_field_pass(base: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Deterministic stand-in for E[h]: m_k = sigmoid(c_k + sum_{j<k} W_kj m_j), unit by unit.

    Each unit's probability of being on, with the units before it set at their own values of
    ``m`` instead of being sampled. ``m_1`` is the first unit's exact marginal, and with ``W = 0``
    every ``m_k`` is; otherwise it approximates the marginal (the sigmoid of an average in place
    of the average of sigmoids). It is a function of ``base`` alone, with no noise, so a baseline
    built from it keeps a score-function estimator unbiased.

    Parameters
    ----------
    base : Tensor, shape (..., K)
    weight : Tensor, shape (K, K)

    Returns
    -------
    Tensor, shape (..., K)
    """
    w = masked(weight).to(base.dtype)
    cols: list[torch.Tensor] = []
    for k in range(base.shape[-1]):
        logit = base[..., k]
        if cols:
            logit = logit + torch.stack(cols, -1) @ w[k, :k]
        cols.append(torch.sigmoid(logit))
    return torch.stack(cols, -1)


def flip(weight: torch.Tensor, bias: torch.Tensor, flip_units: torch.Tensor) -> None:
    """Rewrite an autoregressive layer in place for h_k -> 1 - h_k on the units ``flip_units``.

    With h'_j = 1 - h_j for the flipped j, c_k + sum_j W_kj h_j = (c_k + sum_{flipped j} W_kj) +
    sum_j W'_kj h'_j with the flipped columns of W negated; the flipped units' own logits are then
    negated (rows of W and entries of c). The strictly lower-triangular structure is kept.

    Parameters
    ----------
    weight : Tensor, shape (K, K)
        W, modified in place.
    bias : Tensor, shape (K,)
        c (the part of it that is a parameter: the prior's logits, or the bias of q's last
        linear map), modified in place.
    flip_units : Tensor of bool, shape (K,)
    """
    w = masked(weight)
    bias += w[:, flip_units].sum(dim=1)
    w[:, flip_units] = -w[:, flip_units]
    w[flip_units] = -w[flip_units]
    bias[flip_units] = -bias[flip_units]
    weight.copy_(w)
