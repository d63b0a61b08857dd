"""Training an NVDM: Adam on minibatches of the reparameterised ELBO, epochs, validation and early
stopping through :func:`docmodel.models.epochs.fit_epochs`.

Encoder and decoder are updated jointly, by one optimiser step per minibatch on the same loss;
``encoder_steps`` adds updates of the encoder alone before it (Miao et al. alternate encoder and
decoder updates). On 20 Newsgroups the gap between the NVDM's bound and its importance-sampled
figure is mostly its encoder's, so the defaults (the estimator's docstring) favour a smoother
encoder gradient: five samples, a smaller step size.

The gradient's norm is clipped (``max_grad_norm``) and a step whose gradient is not finite is
skipped. Without this, a rare minibatch for which the encoder proposes a huge sigma has a KL
gradient many orders of magnitude above the usual one, and training diverges: on 20 Newsgroups
(Adam 1e-3, minibatches of 64) the validation bound was no longer finite at epoch 15.

An optional KL warm-up (Bowman et al., "Generating Sentences from a Continuous Space", CoNLL
2016; Sonderby et al., "Ladder Variational Autoencoders", NIPS 2016) scales the KL term of the
*loss* from near 0 to 1 over the first epochs; validation, early stopping and every reported
figure use the full ELBO. Ten epochs of warm-up validated no better on 20 Newsgroups (no
dimension collapsed without it), so it is off by default.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch

from docmodel.models.batching import CSRRows, epoch_order
from docmodel.models.epochs import Clock, EpochsResult, fit_epochs
from docmodel.models.nvdm.elbo import bound, noise, training_objective
from docmodel.models.nvdm.networks import Decoder, Encoder, NVDMConfig

VAL_SAMPLES = 10
"""Samples per validation document: the bound of ``EVALUATION.md`` (and of the SBN's validation)."""


@dataclass(frozen=True)
class TrainSettings:
    """What one training run needs besides the data (checked by the estimator)."""

    learning_rate: float
    batch_size: int
    n_samples: int
    kl_warmup_epochs: int
    max_epochs: int
    max_seconds: float | None
    patience: int | None
    seed: int
    max_grad_norm: float | None = None
    encoder_dropout: float = 0.0
    encoder_steps: int = 0


def build(config: NVDMConfig, X: sp.csr_matrix, seed: int) -> tuple[Encoder, Decoder]:
    """Freshly initialised networks for training on ``X``: the word bias at the log unigram
    frequencies of ``X``, the encoder's input centred on its mean features. The initial weights
    come from ``seed`` without touching torch's global generator."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        encoder, decoder = Encoder(config), Decoder(config)
    word_counts = torch.from_numpy(np.asarray(X.sum(axis=0), dtype=np.float64).ravel())
    decoder.init_word_bias(word_counts)
    mean = np.asarray(sp.csr_matrix(X, dtype=np.float32).log1p().mean(axis=0), dtype=np.float32).ravel()
    with torch.no_grad():
        encoder.input_mean.copy_(torch.from_numpy(mean))
    return encoder, decoder


def kl_weight(epoch: int, fraction: float, warmup_epochs: int) -> float:
    """The KL term's weight in the loss during epoch ``epoch`` (from 1), ``fraction`` of the way
    through it: rising linearly from 0 to 1 over ``warmup_epochs`` epochs, then 1."""
    if warmup_epochs <= 0:
        return 1.0
    return min(1.0, (epoch - 1 + fraction) / warmup_epochs)


def val_perplexity(encoder: Encoder, decoder: Decoder, val_rows: CSRRows, val_lengths: np.ndarray, seed: int,
                   batch_size: int = 512) -> float:
    """Per-document bound perplexity exp(-mean(bound / length)) of the validation documents,
    with the same noise at every call so that epochs are compared on the same samples."""
    gen = torch.Generator(device=val_rows.device).manual_seed(seed + 1)
    n = val_rows.shape[0]
    batches = (val_rows.span(lo, min(lo + batch_size, n)) for lo in range(0, n, batch_size))
    was_training = encoder.training
    encoder.eval()
    b = bound(encoder, decoder, batches, VAL_SAMPLES, gen)
    encoder.train(was_training)
    return float(np.exp(-np.mean(b / val_lengths)))


def train(
    encoder: Encoder, decoder: Decoder, X: sp.csr_matrix, X_val: sp.csr_matrix, settings: TrainSettings,
    device: torch.device, callback=None,
) -> EpochsResult:
    """Fit ``encoder`` and ``decoder`` (already on ``device``) to ``X``; keep the parameters of
    the best validation bound on ``X_val``. Returns what :func:`fit_epochs` returns; the history
    entries add ``train_elbo`` (mean training ELBO per document over the epoch) and
    ``kl_weight`` (the warm-up's weight at the end of the epoch) and ``clipped_steps`` (steps
    whose gradient was clipped or, not being finite, skipped)."""
    rows, val_rows = CSRRows(X, device), CSRRows(X_val, device)
    val_lengths = np.asarray(X_val.sum(axis=1), dtype=np.float64).ravel()
    modules = (encoder, decoder)
    params = [p for m in modules for p in m.parameters()]
    opt = torch.optim.Adam(params, lr=settings.learning_rate)
    gen = torch.Generator(device=device).manual_seed(settings.seed)
    n_docs, B, K = X.shape[0], settings.batch_size, decoder.words.in_features
    n_batches = math.ceil(n_docs / B)

    encoder_params = list(encoder.parameters())

    def step(x: torch.Tensor, weight: float, update: list[torch.Tensor]) -> tuple[torch.Tensor, bool]:
        """One Adam step of the parameters ``update`` (all, or the encoder's) on minibatch ``x``
        with fresh noise; Adam skips the parameters left without a gradient. Returns the
        minibatch's ELBO and whether the gradient was clipped or, not finite, skipped."""
        eps = noise((settings.n_samples, x.shape[0], K), x.dtype, device, gen)  # S,B,K
        elbo, loss = training_objective(encoder, decoder, x, eps, weight, settings.encoder_dropout, gen)
        opt.zero_grad(set_to_none=True)
        for p, g in zip(update, torch.autograd.grad(loss, update)):
            p.grad = g
        if settings.max_grad_norm is None:
            opt.step()
            return elbo, False
        norm = float(torch.nn.utils.clip_grad_norm_(update, settings.max_grad_norm))
        if math.isfinite(norm):
            opt.step()
        return elbo, norm > settings.max_grad_norm or not math.isfinite(norm)

    def train_epoch(epoch: int, clock: Clock) -> dict:
        order = epoch_order(settings.seed, epoch, n_docs)
        elbo_sum, seen, clipped = 0.0, 0, 0
        weight = kl_weight(epoch, 0.0, settings.kl_warmup_epochs)
        for i in range(n_batches):
            x = rows.rows(order[i * B : (i + 1) * B])  # B,V
            weight = kl_weight(epoch, i / n_batches, settings.kl_warmup_epochs)
            for _ in range(settings.encoder_steps):  # q alone first (the decoder's gradients not kept)
                clipped += step(x, weight, encoder_params)[1]
            elbo, was_clipped = step(x, weight, params)
            clipped += was_clipped
            elbo_sum += float(elbo.sum())
            seen += x.shape[0]
            if clock.step((i + 1) / n_batches):
                break
        return {"train_elbo": elbo_sum / max(seen, 1), "kl_weight": weight, "clipped_steps": clipped}

    def validate() -> float:
        return val_perplexity(encoder, decoder, val_rows, val_lengths, settings.seed)

    def get_state():
        return [{k: v.detach().clone() for k, v in m.state_dict().items()} for m in modules]

    def set_state(state) -> None:
        for m, s in zip(modules, state):
            m.load_state_dict(s)

    return fit_epochs(
        train_epoch=train_epoch, validate=validate, get_state=get_state, set_state=set_state,
        max_epochs=settings.max_epochs, max_seconds=settings.max_seconds, patience=settings.patience,
        callback=callback,
    )
