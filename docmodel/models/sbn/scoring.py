"""An SBN's per-document estimates of log p(x), as ``EVALUATION.md`` defines them: the bound
(the mean of single-sample bounds log p(x, h) - log q(h | x), h ~ q), the importance-sampled
estimate, and document completion (the held-out half scored with h drawn from q given the
observed half). Each takes dense minibatches and streams; the logits are never held whole
(:func:`docmodel.models.sbn.likelihood.word_log_likelihood`)."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import scipy.sparse as sp
import torch

from docmodel.models.sbn.batching import CSRRows


def log_weights(nets, x: torch.Tensor, n_samples: int, generator) -> torch.Tensor:
    """log p(x, h_s) - log q(h_s | x) for h_s ~ q(h | x), shape (S, B)."""
    hs, log_qs = nets.encoder.sample(x, n_samples, generator)
    model = nets.model
    log_p = model.log_p_x_given_h1(x, hs[0]) + torch.stack(model.layer_log_probs(hs)).sum(0)
    return log_p - torch.stack(log_qs).sum(0)


@torch.no_grad()
def bound_per_doc(nets, X: sp.csr_matrix, n_samples: int, generator, device, batch_size=512) -> np.ndarray:
    """Mean over ``n_samples`` single-sample bounds for each document, shape (n_docs,).

    Streams over ``X`` in batches of ``batch_size`` documents.
    """
    batches = CSRRows(X, device)
    out = []
    for start in range(0, X.shape[0], batch_size):
        x = batches.span(start, min(start + batch_size, X.shape[0]))
        out.append(log_weights(nets, x, n_samples, generator).mean(0).double())
    return torch.cat(out).cpu().numpy() if out else np.zeros(0)


@torch.no_grad()
def importance_sampled(nets, batches: Iterable[torch.Tensor], n_samples: int, generator) -> np.ndarray:
    """log (1/S) sum_s p(x, h_s) / q(h_s | x) for each document of ``batches``, shape (n_docs,)."""
    out = []
    for x in batches:
        w = log_weights(nets, x, n_samples, generator)
        out.append((torch.logsumexp(w.double(), 0) - math.log(n_samples)).cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0)


@torch.no_grad()
def completion(nets, batches: Iterable[tuple[torch.Tensor, torch.Tensor]], n_samples: int, generator) -> np.ndarray:
    """log (1/S) sum_s p(x_heldout | h_s), h_s ~ q(h | x_observed), for each document of the
    (observed, held-out) minibatch pairs ``batches``, shape (n_docs,)."""
    out = []
    for x_obs, x_held in batches:
        hs, _ = nets.encoder.sample(x_obs, n_samples, generator)
        lp = nets.model.log_p_x_given_h1(x_held, hs[0]).double()  # S,B
        out.append((torch.logsumexp(lp, 0) - math.log(n_samples)).cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0)
