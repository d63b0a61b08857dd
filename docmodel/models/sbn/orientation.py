"""Flipping binary units: h_k -> 1 - h_k as an exact reparameterisation of an SBN.

For a unit k of the layer nearest the words, every linear map that reads h_1 (the word layer
``U h_1 + b``, the inference network's map to the layer above, the upper baselines) is rewritten
with column k negated and the bias raised by that column, and every logit that decides h_1 (the
prior or the layer above's, and q's) is negated. Then log p(x, h) and log q(h | x) of the flipped
state under the new parameters equal those of the original state under the old ones, for every
document and state: the model, its bound and every perplexity are unchanged (a test checks this
to the last bit on dyadic weights, where the sums are exact).
"""

from __future__ import annotations

import torch
from torch import nn


def _flip_inputs(linear: nn.Linear, flip: torch.Tensor) -> None:
    """W h + c with h_k -> 1 - h_k for the flipped k: c += W[:, k], W[:, k] = -W[:, k]."""
    w = linear.weight
    linear.bias += w[:, flip].sum(dim=1)
    w[:, flip] = -w[:, flip]


def _flip_outputs(linear: nn.Linear, flip: torch.Tensor) -> None:
    """Negate the logits of the flipped units: rows k of W and entries k of c."""
    linear.weight[flip] = -linear.weight[flip]
    linear.bias[flip] = -linear.bias[flip]


@torch.no_grad()
def flip_units(nets, flip: torch.Tensor) -> None:
    """Flip the first-layer units where ``flip`` is True, in place.

    Parameters
    ----------
    nets : docmodel.models.sbn.training.Networks
        The SBN, its inference network and baselines.
    flip : Tensor of bool, shape (K_1,)
    """
    model, encoder, baselines = nets.model, nets.encoder, nets.baselines
    _flip_inputs(model.visible, flip)
    if model.hidden:
        _flip_outputs(model.hidden[0], flip)
    else:
        model.prior_logits[flip] = -model.prior_logits[flip]
    first = encoder.first if isinstance(encoder.first, nn.Linear) else encoder.first[-1]
    _flip_outputs(first, flip)
    if encoder.upper:
        _flip_inputs(encoder.upper[0], flip)
    if len(baselines.mlps) > 1:
        mlp = baselines.mlps[1]
        _flip_inputs(mlp if isinstance(mlp, nn.Linear) else mlp[0], flip)
