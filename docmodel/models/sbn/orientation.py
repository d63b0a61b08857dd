"""Flipping binary units: h_k -> 1 - h_k as an exact reparameterisation of an SBN.

For a unit k of the layer nearest the words, every linear map that reads h_1 (the word layer
``U h_1 + b``, the inference network's map to the layer above, the upper baselines) is rewritten
with column k negated and the bias raised by that column, and every logit that decides h_1 (the
prior or the layer above's, and q's) is negated. Then log p(x, h) and log q(h | x) of the flipped
state under the new parameters equal those of the original state under the old ones, for every
document and state: the model, its bound and every perplexity are unchanged (a test checks this
to the last bit on dyadic weights, where the sums are exact).

An autoregressive layer (fDARN's prior on a one-layer model, or q's first layer) reads its own
units as well: its couplings are rewritten like a linear map that both reads and decides h_1
(:func:`docmodel.models.sbn.autoregressive.flip`).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from docmodel.models.sbn import autoregressive as ar


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
    nets : docmodel.models.sbn.state.Networks
        The SBN, its inference network and baselines.
    flip : Tensor of bool, shape (K_1,)
    """
    model, encoder, baselines = nets.model, nets.encoder, nets.baselines
    _flip_inputs(model.visible, flip)
    if model.hidden:
        _flip_outputs(model.hidden[0], flip)
    elif model.config.prior == "autoregressive":
        ar.flip(model.prior_weight, model.prior_logits, flip)
    else:
        model.prior_logits[flip] = -model.prior_logits[flip]
    first = encoder.first_output
    if encoder.autoregressive:
        ar.flip(encoder.ar_weights[0], first.bias, flip)  # the bias part of f: shifts and sign
        first.weight[flip] = -first.weight[flip]
    else:
        _flip_outputs(first, flip)
    if encoder.upper:
        _flip_inputs(encoder.upper[0], flip)
    if len(baselines.mlps) > 1:
        mlp = baselines.mlps[1]
        _flip_inputs(mlp if isinstance(mlp, nn.Linear) else mlp[0], flip)


@torch.no_grad()
def orient(nets, doc_unit: np.ndarray, threshold: float) -> tuple[np.ndarray, int]:
    """Make "on" the rarer state of every unit of the first layer, in place.

    Units that q switches on (``doc_unit``, q(h_k=1|x) for each document and unit, above
    ``threshold``) in more than half of the documents are flipped (:func:`flip_units`), so that
    a unit's words describe what it adds to the documents that take it, and the word bias b is
    the background of a document with every unit in its common state. ``fit`` passes the
    training documents. With non-negative weights nothing is flipped: there "on" is by
    construction the state in which a unit adds its words, and flipping would turn it into one
    that removes them.

    Returns
    -------
    share : ndarray, shape (n_units,)
        Share of the documents in which each unit is on, after the flip (<= 0.5 unless the
        weights are non-negative).
    n_flipped : int
    """
    on = (np.asarray(doc_unit) > threshold).mean(axis=0)
    if nets.model.config.nonnegative:
        return on, 0
    flip = torch.from_numpy(on > 0.5)
    if flip.any():
        flip_units(nets, flip.to(nets.model.visible.weight.device))
    return np.where(on > 0.5, 1.0 - on, on), int(flip.sum())
