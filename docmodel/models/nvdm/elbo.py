"""The NVDM's objective and its per-document estimates of log p(x), as pure functions.

Training (Miao, Yu & Blunsom 2016) maximises the evidence lower bound with the
reparameterisation trick (Kingma & Welling 2014): z_s = mu(x) + sigma(x) * eps_s with
eps_s ~ N(0, I), so that gradients reach the encoder through z, and the KL term in closed form,

    ELBO(x) = E_q[log p(x | z)] - KL(N(mu, sigma^2) || N(0, I)),
    KL = 1/2 sum_k (mu_k^2 + sigma_k^2 - 1 - 2 log sigma_k).

Evaluation uses exactly the SBN's three estimators (:mod:`docmodel.models.sbn.scoring`), with
z in place of h, so that the two models are measured alike:

* the bound: the mean over S samples z_s ~ q(z | x) of the single-sample bound
  log p(x, z_s) - log q(z_s | x) (KL sampled, not closed form: same expectation, the ELBO);
* importance sampled: log (1/S) sum_s p(x, z_s) / q(z_s | x), z_s ~ q(z | x);
* completion: log (1/S) sum_s p(x_heldout | z_s), z_s ~ q(z | x_observed).

As there, the estimator gives each document its own noise (:mod:`docmodel.noise`): a document's
figure depends on the document and the seed alone, not on the documents scored with it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import torch

from docmodel.models.likelihood import word_log_likelihood
from docmodel.models.nvdm.networks import Decoder, Encoder
from docmodel.noise import DocumentNoise, per_batch

_LOG_2PI = math.log(2 * math.pi)


def gaussian_kl(mu: torch.Tensor, log_sigma: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag sigma^2) || N(0, I)) in closed form, summed over the last axis: (..., K) -> (...)."""
    return 0.5 * (mu.square() + torch.exp(2 * log_sigma) - 1.0 - 2 * log_sigma).sum(-1)


def standard_normal_log_prob(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I) summed over the last axis: (..., K) -> (...)."""
    return -0.5 * (z.square().sum(-1) + z.shape[-1] * _LOG_2PI)


def noise(shape, dtype, device, generator) -> torch.Tensor:
    """eps ~ N(0, I) of ``shape`` from ``generator``: a seeded ``torch.Generator``, or one batch's
    per-document noise (:class:`docmodel.noise.DocumentNoise`, documents on axis -2)."""
    if isinstance(generator, DocumentNoise):
        return generator.normal(shape, dtype, device)
    return torch.randn(shape, generator=generator, dtype=dtype, device=device)


def reparameterise(mu: torch.Tensor, log_sigma: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """z = mu + sigma * eps: mu, log_sigma (B, K), eps (S, B, K) -> z (S, B, K)."""
    return mu + torch.exp(log_sigma) * eps


def log_weights(encoder: Encoder, decoder: Decoder, x: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """Single-sample bounds log p(x, z_s) - log q(z_s | x), z_s = mu(x) + sigma(x) eps_s.

    Parameters
    ----------
    x : Tensor, shape (B, V)
        Word counts.
    eps : Tensor, shape (S, B, K)
        Standard normal noise.

    Returns
    -------
    Tensor, shape (S, B)
        log p(x | z_s) + log N(z_s; 0, I) - log N(z_s; mu, diag sigma^2).
    """
    mu, log_sigma = encoder(x)
    z = reparameterise(mu, log_sigma, eps)
    # log q(z_s | x) = log N(eps_s; 0, I) - sum_k log sigma_k (the change of variables z = mu + sigma eps).
    log_q = standard_normal_log_prob(eps) - log_sigma.sum(-1)
    log_p_x = word_log_likelihood(x, z, decoder.words.weight, decoder.words.bias)
    return log_p_x + standard_normal_log_prob(z) - log_q


def training_objective(
    encoder: Encoder, decoder: Decoder, x: torch.Tensor, eps: torch.Tensor, kl_weight: float = 1.0,
    encoder_dropout: float = 0.0, generator=None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The ELBO of a minibatch and the loss that training differentiates.

    Parameters
    ----------
    x : Tensor, shape (B, V)
    eps : Tensor, shape (S, B, K)
        Noise of the reparameterised samples (S = 1 in the paper).
    kl_weight : float
        Weight of the KL term in the loss only (a warm-up below 1 early in training); the
        reported ELBO always has the full KL.
    encoder_dropout : float
        Probability of removing each word from the encoder's view (:meth:`Encoder.features`),
        the mask drawn from ``generator``; 0: none. The decoder scores every word: the objective is
        then the ELBO averaged over masks, of the q that sees the masked document.

    Returns
    -------
    elbo : Tensor, shape (B,)
        mean_s log p(x | z_s) - KL(q(z | x) || p(z)), detached.
    loss : Tensor, scalar
        -mean_B(mean_s log p(x | z_s) - kl_weight * KL): its gradient is the reparameterised
        estimate of the ELBO's gradient (for ``kl_weight`` = 1) for every parameter.
    """
    mu, log_sigma = encoder(x, encoder_dropout, generator)
    z = reparameterise(mu, log_sigma, eps)  # S,B,K, differentiable in mu and sigma
    reconstruction = word_log_likelihood(x, z, decoder.words.weight, decoder.words.bias).mean(0)  # B
    kl = gaussian_kl(mu, log_sigma)  # B
    loss = -(reconstruction - kl_weight * kl).mean()
    return (reconstruction - kl).detach(), loss


@torch.no_grad()
def bound(encoder: Encoder, decoder: Decoder, batches: Iterable[torch.Tensor], n_samples: int, generator) -> np.ndarray:
    """Mean over ``n_samples`` single-sample bounds for each document of ``batches``, shape (n_docs,).

    ``generator`` is a ``torch.Generator`` (one stream through all batches: training's
    validation) or an iterable of per-document noise, one per batch
    (:func:`docmodel.noise.batch_noise`); so for the two estimates below."""
    out = []
    for x, gen in zip(batches, per_batch(generator)):
        eps = noise((n_samples, x.shape[0], encoder.mean.out_features), x.dtype, x.device, gen)
        out.append(log_weights(encoder, decoder, x, eps).double().mean(0).cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0)


@torch.no_grad()
def importance_sampled(
    encoder: Encoder, decoder: Decoder, batches: Iterable[torch.Tensor], n_samples: int, generator
) -> np.ndarray:
    """log (1/S) sum_s p(x, z_s) / q(z_s | x) for each document of ``batches``, shape (n_docs,)."""
    out = []
    for x, gen in zip(batches, per_batch(generator)):
        eps = noise((n_samples, x.shape[0], encoder.mean.out_features), x.dtype, x.device, gen)
        w = log_weights(encoder, decoder, x, eps).double()
        out.append((torch.logsumexp(w, 0) - math.log(n_samples)).cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0)


@torch.no_grad()
def completion(
    encoder: Encoder, decoder: Decoder, pairs: Iterable[tuple[torch.Tensor, torch.Tensor]], n_samples: int, generator
) -> np.ndarray:
    """log (1/S) sum_s p(x_heldout | z_s), z_s ~ q(z | x_observed), for each (observed, held-out)
    minibatch pair, shape (n_docs,)."""
    out = []
    for (x_obs, x_held), gen in zip(pairs, per_batch(generator)):
        mu, log_sigma = encoder(x_obs)
        eps = noise((n_samples,) + tuple(mu.shape), mu.dtype, mu.device, gen)
        z = reparameterise(mu, log_sigma, eps)
        lp = word_log_likelihood(x_held, z, decoder.words.weight, decoder.words.bias).double()  # S,B
        out.append((torch.logsumexp(lp, 0) - math.log(n_samples)).cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0)
