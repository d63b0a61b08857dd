"""The neural variational document model's networks (``nn.Module`` s and their config only).

Miao, Yu & Blunsom, "Neural Variational Inference for Text Processing" (ICML 2016):
a Gaussian latent vector z of K dimensions with the standard normal prior p(z) = N(0, I), every
word token of a document drawn from softmax(b + R z) over the vocabulary, so that

    log p(x | z) = sum_w x_w log softmax(b + R z)_w

(no multinomial coefficient, as ``EVALUATION.md`` requires), and an inference network (the
paper's MLP encoder) giving q(z | x) = N(mu(x), diag sigma(x)^2). The paper's ``R`` is the
decoder's weight of shape (V, K) (``unit_word`` is its transpose) and its ``b`` the word bias.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from docmodel.errors import ModelError


@dataclass(frozen=True)
class NVDMConfig:
    """Architecture of an NVDM.

    Parameters
    ----------
    n_words : int
        Vocabulary size V.
    n_units : int
        Latent dimensions K.
    encoder_hidden : tuple of int
        Widths of the encoder's ReLU hidden layers, input side first (the paper: two of 500);
        empty for a linear encoder.
    """

    n_words: int
    n_units: int = 50
    encoder_hidden: tuple[int, ...] = (500, 500)

    def __post_init__(self) -> None:
        object.__setattr__(self, "encoder_hidden", tuple(int(h) for h in self.encoder_hidden))
        if self.n_words < 1 or self.n_units < 1:
            raise ModelError(f"n_words and n_units must be at least 1, got {self.n_words} and {self.n_units}")
        if any(h < 1 for h in self.encoder_hidden):
            raise ModelError(f"encoder_hidden must hold positive layer widths, got {self.encoder_hidden}")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["encoder_hidden"] = list(self.encoder_hidden)
        return d


class Decoder(nn.Module):
    """p(x | z): every token drawn from softmax(b + R z).

    Attributes
    ----------
    words : Linear(K, V)
        Its weight is the paper's ``R`` (V, K), its bias the paper's ``b`` (V,).
    """

    def __init__(self, config: NVDMConfig):
        super().__init__()
        self.words = nn.Linear(config.n_units, config.n_words)
        nn.init.normal_(self.words.weight, std=0.01)
        nn.init.zeros_(self.words.bias)

    def init_word_bias(self, word_counts: torch.Tensor) -> None:
        """Start b at the log unigram frequencies (half a count added), so that an untrained
        model already predicts word frequencies and z has only the deviations to explain."""
        p = (word_counts.double() + 0.5) / (word_counts.double().sum() + 0.5 * len(word_counts))
        with torch.no_grad():
            self.words.bias.copy_(p.log().to(self.words.bias.dtype))

    def word_log_probs(self, z: torch.Tensor) -> torch.Tensor:
        """log softmax(b + R z): (..., K) -> (..., V)."""
        return F.log_softmax(self.words(z), dim=-1)


class Encoder(nn.Module):
    """q(z | x) = N(mu(x), diag sigma(x)^2): an MLP on the document's words.

    The input is log(1 + x) minus its mean over the training documents (``input_mean``), the
    transform of the SBN's inference network (:class:`docmodel.models.sbn.networks.InferenceNetwork`),
    so that the two models' posteriors see documents alike; the log tames long documents. Two
    linear heads give mu and log sigma. The log-sigma head starts at zero (sigma = 1, the
    prior's width), so training starts with q close to the prior and a small KL term.
    """

    def __init__(self, config: NVDMConfig):
        super().__init__()
        self.register_buffer("input_mean", torch.zeros(config.n_words))
        layers: list[nn.Module] = []
        width = config.n_words
        for h in config.encoder_hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        self.hidden = nn.Sequential(*layers)
        self.mean = nn.Linear(width, config.n_units)
        self.log_scale = nn.Linear(width, config.n_units)
        nn.init.zeros_(self.log_scale.weight)
        nn.init.zeros_(self.log_scale.bias)

    def features(self, x: torch.Tensor, dropout: float = 0.0, generator=None) -> torch.Tensor:
        """Mean-centred log(1 + x): (B, V) -> (B, V).

        ``dropout`` > 0 (training only) removes each word of each document from the encoder's
        view with this probability (its count set to 0, so its feature is -input_mean; nothing
        rescaled), the mask drawn from ``generator``: the SBN's word dropout
        (:meth:`docmodel.models.sbn.networks.InferenceNetwork.first_logits`). The decoder still
        scores every word, so the encoder learns to place a document from part of its words."""
        f = torch.log1p(x) - self.input_mean
        if dropout > 0:
            keep = torch.rand(f.shape, generator=generator, dtype=f.dtype, device=f.device) >= dropout
            f = torch.where(keep, f, -self.input_mean)
        return f

    def forward(self, x: torch.Tensor, dropout: float = 0.0, generator=None) -> tuple[torch.Tensor, torch.Tensor]:
        """mu(x) and log sigma(x) of q(z | x), each of shape (B, K), from counts (B, V)
        (``dropout``: see :meth:`features`)."""
        hidden = self.hidden(self.features(x, dropout, generator))
        return self.mean(hidden), self.log_scale(hidden)
