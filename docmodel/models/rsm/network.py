"""The Replicated Softmax document model (Salakhutdinov & Hinton, "Replicated Softmax: an
Undirected Topic Model", NIPS 2009): an ``nn.Module`` holding its parameters and closed forms.

F binary hidden units h and a document of D word tokens, its counts v (``x`` here), with energy

    E(v, h) = - sum_{k,j} W_kj h_j v_k - sum_k b_k v_k - D sum_j a_j h_j

(the paper's ``W^k_j`` is ``weight[k, j]``; its hidden biases ``a`` are scaled by the length D).
Summing out h gives the free energy

    F(v) = - b . v - sum_j softplus(D a_j + W[:, j] . v)

and p_D(v) = exp(-F(v)) / Z_D is the probability of one word sequence of length D (no
multinomial coefficient, as for every model of :mod:`docmodel.models`). Summing out the tokens
instead gives the closed form over the 2^F hidden states

    Z_D = sum_h exp(D g(h)),    g(h) = a . h + logsumexp_k(b_k + W[k] . h),

so D acts as an inverse temperature on the hidden states (used by :mod:`docmodel.models.rsm.ais`).
The conditionals are p(h_j = 1 | v) = sigmoid(D a_j + W[:, j] . v) and, given h, the D tokens
drawn independently from softmax(b + W h).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from docmodel.errors import ModelError


@dataclass(frozen=True)
class RSMConfig:
    """Size of a Replicated Softmax: ``n_words`` (V) and ``n_units`` (F hidden units)."""

    n_words: int
    n_units: int

    def __post_init__(self) -> None:
        if self.n_words < 1 or self.n_units < 1:
            raise ModelError(f"an RSM needs at least one word and one unit, got {self.n_words} and {self.n_units}")

    def to_dict(self) -> dict:
        return asdict(self)


class RSM(nn.Module):
    """Parameters of a Replicated Softmax and the quantities computed from them in closed form.

    Attributes
    ----------
    weight : Parameter, shape (V, F)
        W, word k to hidden unit j (``unit_word`` is its transpose).
    word_bias : Parameter, shape (V,)
        b.
    unit_bias : Parameter, shape (F,)
        a, multiplied by the document length D wherever it enters.
    """

    def __init__(self, config: RSMConfig):
        super().__init__()
        self.config = config
        self.weight = nn.Parameter(torch.zeros(config.n_words, config.n_units))
        self.word_bias = nn.Parameter(torch.zeros(config.n_words))
        self.unit_bias = nn.Parameter(torch.zeros(config.n_units))

    def hidden_logits(self, x: torch.Tensor) -> torch.Tensor:
        """D a + v W, the logits of p(h = 1 | v): (B, V) counts -> (B, F)."""
        lengths = x.sum(-1, keepdim=True)
        return torch.addmm(lengths * self.unit_bias, x, self.weight)

    def word_logits(self, h: torch.Tensor) -> torch.Tensor:
        """b + W h, the logits of each token given h: (..., F) -> (..., V)."""
        return F.linear(h, self.weight, self.word_bias)

    def free_energy(self, x: torch.Tensor) -> torch.Tensor:
        """F(v) = -b . v - sum_j softplus(D a_j + W[:, j] . v): (B, V) counts -> (B,)."""
        return -(x @ self.word_bias) - F.softplus(self.hidden_logits(x)).sum(-1)
