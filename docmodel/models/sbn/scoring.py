"""An SBN's per-document estimates of log p(x), as ``EVALUATION.md`` defines them: the bound
(the mean of single-sample bounds log p(x, h) - log q(h | x), h ~ q), the importance-sampled
estimate, and document completion (the held-out half scored with h drawn from q given the
observed half). Each takes dense minibatches and streams; the logits are never held whole
(:func:`docmodel.models.likelihood.word_log_likelihood`). log q is always q's exact
log-probability, an autoregressive q's included (sampled unit by unit, scored in one pass).
:class:`Scoring` gives the estimator these figures and ``transform``; each document draws its own
noise (:mod:`docmodel.noise`), so its figure depends on the document and the seed alone, not on
the documents scored with it, their order or the batch size."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import scipy.sparse as sp
import torch

from docmodel.errors import ModelError
from docmodel.models.batching import CSRRows
from docmodel.models.sbn.refine import refine_offsets, sampled_log_weights
from docmodel.noise import batch_noise, per_batch

# Evaluation batches hold at most this many S * B * V floats' worth of documents. The logits
# themselves are never held whole (see docmodel.models.likelihood.word_log_likelihood); the
# batch size bounds the other S * B * V intermediates. It does not change the estimates: each
# document's noise is its own.
_EVAL_ELEMENTS = 2**24
# Adam's step size (in logits) for refining q per document (log_likelihood_bound).
REFINE_LEARNING_RATE = 0.1


def log_weights(nets, x: torch.Tensor, n_samples: int, generator) -> torch.Tensor:
    """log p(x, h_s) - log q(h_s | x) for h_s ~ q(h | x), shape (S, B)."""
    return sampled_log_weights(nets, x, n_samples, generator)[0]


@torch.no_grad()
def bound_per_doc(nets, X: sp.csr_matrix, n_samples: int, noise, device, batch_size=512, refine=None) -> np.ndarray:
    """Mean over ``n_samples`` single-sample bounds for each document, shape (n_docs,).

    Streams over ``X`` in batches of ``batch_size`` documents. ``noise`` is a ``torch.Generator``
    (one stream through all batches: training's validation) or an iterable of noise callables,
    one per batch of ``batch_size`` (:func:`docmodel.noise.batch_noise`). ``refine``: None for
    q itself, or ``(steps, samples, learning_rate)`` to score each document with its refined q
    (:func:`docmodel.models.sbn.refine.refine_offsets`; the refinement draws its noise first).
    """
    batches, noises = CSRRows(X, device), per_batch(noise)
    out = []
    for start in range(0, X.shape[0], batch_size):
        x = batches.span(start, min(start + batch_size, X.shape[0]))
        batch_noise_ = next(noises)
        offsets = None if refine is None else refine_offsets(nets, x, *refine[:2], batch_noise_, refine[2])
        out.append(sampled_log_weights(nets, x, n_samples, batch_noise_, offsets)[0].mean(0).double())
    return torch.cat(out).cpu().numpy() if out else np.zeros(0)


@torch.no_grad()
def importance_sampled(nets, batches: Iterable[torch.Tensor], n_samples: int, noise) -> np.ndarray:
    """log (1/S) sum_s p(x, h_s) / q(h_s | x) for each document of ``batches``, shape (n_docs,).

    ``noise`` as for :func:`bound_per_doc`: a generator, or one noise callable per batch."""
    out = []
    for x, batch_noise_ in zip(batches, per_batch(noise)):
        w = log_weights(nets, x, n_samples, batch_noise_)
        out.append((torch.logsumexp(w.double(), 0) - math.log(n_samples)).cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0)


@torch.no_grad()
def completion(nets, batches: Iterable[tuple[torch.Tensor, torch.Tensor]], n_samples: int, noise) -> np.ndarray:
    """log (1/S) sum_s p(x_heldout | h_s), h_s ~ q(h | x_observed), for each document of the
    (observed, held-out) minibatch pairs ``batches``, shape (n_docs,).

    ``noise`` as for :func:`bound_per_doc`: a generator, or one noise callable per batch."""
    out = []
    for (x_obs, x_held), batch_noise_ in zip(batches, per_batch(noise)):
        hs, _ = nets.encoder.sample(x_obs, n_samples, batch_noise_, model=nets.model)
        lp = nets.model.log_p_x_given_h1(x_held, hs[0]).double()  # S,B
        out.append((torch.logsumexp(lp, 0) - math.log(n_samples)).cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0)


class Scoring:
    """The SBN estimator's ``transform`` and its three estimates of log p(x) per document, for
    :class:`docmodel.models.sbn.estimator.SBNTopicModel` (which holds the fitted ``nets_``)."""

    def _device(self) -> torch.device:
        return next(self.nets_.model.parameters()).device

    def _eval_batch(self, n_samples: int) -> int:
        """Documents per evaluation batch."""
        return max(1, min(2048, _EVAL_ELEMENTS // max(1, n_samples * self.n_words_)))

    def _batches(self, X, n_samples: int):
        X = self._counts(X)
        B, rows = self._eval_batch(n_samples), CSRRows(X, self._device())
        for start in range(0, X.shape[0], B):
            yield rows.span(start, min(start + B, X.shape[0]))

    def _noise(self, X: sp.csr_matrix, n_samples: int, random_state):
        """Each evaluation batch's noise, from its documents' keys (:mod:`docmodel.noise`)."""
        return batch_noise(X, random_state, self._eval_batch(n_samples))

    @torch.no_grad()
    def transform(self, X) -> np.ndarray:
        """q(h_k = 1 | x) for every unit of the layer nearest the words, shape (n_docs, n_units).

        For an autoregressive q, whose marginals have no closed form, the deterministic
        mean-field pass m_k = sigmoid(f_k(x) + sum_{j<k} A_kj m_j) (each unit's probability with
        the units before it at their own values of m; exact for the first unit, and for all when
        A = 0): a function of the document alone, the same whatever documents come with it.
        """
        self._check_fitted()
        out = [self.nets_.encoder.mean_field(x, self.nets_.model).cpu().numpy() for x in self._batches(X, 1)]
        return np.concatenate(out) if out else np.zeros((0, self.n_units_), dtype=np.float32)

    def log_likelihood_bound(self, X, *, n_samples: int = 10, random_state=0, refine_steps: int = 0,
                             refine_samples: int = 10, refine_learning_rate: float = REFINE_LEARNING_RATE) -> np.ndarray:
        """Mean of ``n_samples`` single-sample bounds log p(x,h) - log q(h|x), h ~ q, per
        document (the NVIL paper's 10-sample bound), shape (n_docs,).

        ``refine_steps`` > 0 scores each document with q refined for it first: that many Adam
        steps (``refine_samples`` samples each, step size ``refine_learning_rate`` in logits) on
        per-document offsets of q's logits (:mod:`docmodel.models.sbn.refine`). Still a bound on
        log p(x), usually a tighter one; not the paper's protocol, which scores q itself."""
        self._check_fitted()
        if refine_steps < 0 or (refine_steps and refine_samples < 2):
            raise ModelError("refine_steps must be >= 0 and refine_samples at least 2")
        X = self._counts(X)
        n = max(n_samples, refine_samples if refine_steps else 0)
        refine = (refine_steps, refine_samples, refine_learning_rate) if refine_steps else None
        return bound_per_doc(self.nets_, X, n_samples, self._noise(X, n, random_state), self._device(),
                             self._eval_batch(n), refine)

    def log_likelihood_is(self, X, *, n_samples: int = 100, random_state=0) -> np.ndarray:
        """log (1/S) sum_s p(x, h_s) / q(h_s | x), h_s ~ q(h|x): importance-sampled log p(x)
        per document, shape (n_docs,). In expectation a lower bound on log p(x), tighter than
        the bound, converging to it as S grows."""
        self._check_fitted()
        X = self._counts(X)
        noise = self._noise(X, n_samples, random_state)
        return importance_sampled(self.nets_, self._batches(X, n_samples), n_samples, noise)

    def log_likelihood_completion(self, X_observed, X_heldout, *, n_samples: int = 100, random_state=0) -> np.ndarray:
        """log (1/S) sum_s p(x_heldout | h_s), h_s ~ q(h | x_observed), per document.

        Only the observed half informs the posterior; the held-out half is scored. The noise is
        keyed by the observed half, the document q sees."""
        self._check_fitted()
        X_obs, X_held = self._counts(X_observed), self._counts(X_heldout)
        if X_obs.shape != X_held.shape:
            raise ModelError("observed and held-out halves must have the same shape")
        pairs = zip(self._batches(X_obs, n_samples), self._batches(X_held, n_samples))
        return completion(self.nets_, pairs, n_samples, self._noise(X_obs, n_samples, random_state))
