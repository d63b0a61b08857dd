"""Per-document LDA inference and likelihood estimates with the topics held fixed.

The model is LDA (Blei, Ng & Jordan, JMLR 2003) with topic-word distributions ``beta`` at a
point value: ``theta ~ Dir(alpha)``, each token ``w ~ sum_k theta_k beta_kw``, so that
``log p(x | theta) = sum_w x_w log (theta . beta_w)`` (no multinomial coefficient). For each
document the variational posterior over ``theta`` is a Dirichlet ``Dir(gamma)``; the word-topic
assignments are summed out in closed form inside the bound (their optimal ``phi``).

Everything works on batches of documents at once (CSR rows, numpy and scipy), since scoring a
test set is thousands of documents times a hundred samples times fifty topics. Training is not
here: LDA is trained by scikit-learn (:mod:`docmodel.models.lda.estimator`).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.special import digamma, gammaln, logsumexp

# Elements per temporary array: bounds memory to tens of megabytes whatever the corpus.
_CHUNK_ELEMENTS = 1 << 21
# scikit-learn's guard against 0/0 in the normaliser of phi, kept so that the fixed point is the same.
_EPS = np.finfo(np.float64).eps


def _row_chunks(indptr: np.ndarray, max_nnz: int):
    """Consecutive row ranges ``(lo, hi)`` holding at most ``max_nnz`` stored entries (at least one row)."""
    n = len(indptr) - 1
    lo = 0
    while lo < n:
        hi = int(np.searchsorted(indptr, indptr[lo] + max_nnz, side="right")) - 1
        hi = min(max(hi, lo + 1), n)
        yield lo, hi
        lo = hi


def _expected_log_theta(gamma: np.ndarray) -> np.ndarray:
    """E_q[log theta_k] under Dir(gamma), shape like ``gamma``."""
    return digamma(gamma) - digamma(gamma.sum(axis=-1, keepdims=True))


def infer_gamma(X, beta: np.ndarray, alpha: float, *, max_iter: int = 100, tol: float = 1e-3) -> np.ndarray:
    """Optimise each document's variational Dirichlet with the topics fixed.

    The mean-field fixed point (Blei et al. 2003, eqs. 6-7): ``phi_wk ∝ exp(E[log theta_k]) beta_kw``
    and ``gamma_k = alpha + sum_w x_w phi_wk``, started from ``gamma = 1`` as scikit-learn's
    transform does, iterated until the mean absolute change of every document's ``gamma`` is
    below ``tol`` (scikit-learn's per-document test, applied to the whole batch) or ``max_iter``.

    Parameters
    ----------
    X : csr_matrix, shape (n_docs, n_words)
        Word counts (float64).
    beta : ndarray, shape (n_units, n_words)
        Topic-word distributions (rows sum to one).
    alpha : float
        Symmetric Dirichlet prior on topic proportions.

    Returns
    -------
    gamma : ndarray, shape (n_docs, n_units)
    """
    X = sp.csr_matrix(X, dtype=np.float64)
    n_docs, n_words = X.shape
    n_units = beta.shape[0]
    beta_t = np.ascontiguousarray(beta.T)  # V x K
    gamma = np.empty((n_docs, n_units))
    for lo, hi in _row_chunks(X.indptr, max(_CHUNK_ELEMENTS // n_units, 1)):
        Xb = X[lo:hi]
        rows = np.repeat(np.arange(hi - lo), np.diff(Xb.indptr))
        beta_nz = beta_t[Xb.indices]  # nnz x K: beta_kw of each stored (document, word)
        g = np.ones((hi - lo, n_units))
        exp_elog = np.exp(_expected_log_theta(g))
        for _ in range(max_iter):
            # sum_k exp(E[log theta_k]) beta_kw: the normaliser of phi for each stored entry.
            norm = np.einsum("nk,nk->n", exp_elog[rows], beta_nz) + _EPS
            ratio = sp.csr_matrix((Xb.data / norm, Xb.indices, Xb.indptr), shape=Xb.shape)
            new = alpha + exp_elog * (ratio @ beta_t)  # B x K
            change = np.abs(new - g).mean(axis=1)
            g = new
            exp_elog = np.exp(_expected_log_theta(g))
            if change.max(initial=0.0) < tol:
                break
        gamma[lo:hi] = g
    return gamma


def mean_field_bound(X, beta: np.ndarray, alpha: float, gamma: np.ndarray) -> np.ndarray:
    """Per-document mean-field lower bound on ``log p(x | beta)``.

    ``E_q[log p(x | theta, beta)] + E_q[log p(theta | alpha)] - E_q[log q(theta | gamma)]`` with
    the assignments phi at their optimum given ``gamma``, which turns the first term into
    ``sum_w x_w log sum_k exp(E[log theta_k]) beta_kw``. It is a lower bound for any ``gamma``.

    Parameters
    ----------
    X : csr_matrix, shape (n_docs, n_words)
    beta : ndarray, shape (n_units, n_words)
    alpha : float
    gamma : ndarray, shape (n_docs, n_units)

    Returns
    -------
    ndarray, shape (n_docs,)
    """
    X = sp.csr_matrix(X, dtype=np.float64)
    n_units = beta.shape[0]
    beta_t = np.ascontiguousarray(beta.T)
    elog = _expected_log_theta(gamma)
    exp_elog = np.exp(elog)
    words = np.empty(X.shape[0])
    for lo, hi in _row_chunks(X.indptr, max(_CHUNK_ELEMENTS // n_units, 1)):
        Xb = X[lo:hi]
        rows = np.repeat(np.arange(hi - lo), np.diff(Xb.indptr))
        norm = np.einsum("nk,nk->n", exp_elog[lo:hi][rows], beta_t[Xb.indices])
        words[lo:hi] = np.bincount(rows, weights=Xb.data * np.log(norm), minlength=hi - lo)
    # E_q[log Dir(theta | alpha)] - E_q[log Dir(theta | gamma)], i.e. -KL(q || prior).
    prior_minus_q = (
        gammaln(n_units * alpha) - n_units * gammaln(alpha)
        - gammaln(gamma.sum(axis=1)) + gammaln(gamma).sum(axis=1)
        + ((alpha - gamma) * elog).sum(axis=1)
    )
    return words + prior_minus_q


def sample_log_dirichlet(gamma: np.ndarray, n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """``log theta`` for ``theta ~ Dir(gamma)``, shape (n_docs, n_samples, n_units).

    Sampled in log space: ``G_a = G_{a+1} U^{1/a}`` for a Gamma(a) draw, so a small ``a`` (such as
    alpha = 1/50 for an unused topic) gives a very negative ``log G`` rather than an underflow
    to ``theta_k = 0`` and ``log theta_k = -inf``.
    """
    shape = (gamma.shape[0], n_samples, gamma.shape[1])
    a = np.broadcast_to(gamma[:, None, :], shape)
    log_u = np.log1p(-rng.random(shape))  # log of a uniform on (0, 1]
    log_g = np.log(rng.standard_gamma(a + 1.0)) + log_u / a
    return log_g - logsumexp(log_g, axis=-1, keepdims=True)


def _padded(Xb: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """Word ids and counts of each row, padded with (id 0, count 0), shape (B, max nnz per row)."""
    lengths = np.diff(Xb.indptr)
    width = int(lengths.max(initial=0))
    rows = np.repeat(np.arange(Xb.shape[0]), lengths)
    pos = np.arange(Xb.nnz) - np.repeat(Xb.indptr[:-1], lengths)
    ids = np.zeros((Xb.shape[0], width), dtype=np.int64)
    counts = np.zeros((Xb.shape[0], width))
    ids[rows, pos] = Xb.indices
    counts[rows, pos] = Xb.data
    return ids, counts


def log_mean_likelihood(
    X, beta: np.ndarray, gamma: np.ndarray, *, n_samples: int, random_state=0, prior: float | None = None
) -> np.ndarray:
    """Per-document ``log (1/S) sum_s p(x | theta_s, beta) w_s`` with ``theta_s ~ Dir(gamma)``.

    With ``prior=alpha`` the weights are ``w_s = Dir(theta_s | alpha) / Dir(theta_s | gamma)``
    (importance sampling of ``log p(x | beta)``); with ``prior=None`` they are 1 (a Monte Carlo
    estimate of ``log E_{Dir(gamma)}[p(x | theta)]``, the predictive probability used for document
    completion).

    Parameters
    ----------
    X : csr_matrix, shape (n_docs, n_words)
        Counts to score.
    beta : ndarray, shape (n_units, n_words)
    gamma : ndarray, shape (n_docs, n_units)
    n_samples : int
    random_state : int, Generator or None
    prior : float or None

    Returns
    -------
    ndarray, shape (n_docs,)
    """
    X = sp.csr_matrix(X, dtype=np.float64)
    rng = np.random.default_rng(random_state)
    n_docs = X.shape[0]
    n_units = beta.shape[0]
    out = np.empty(n_docs)
    # Documents sorted by distinct words, so each batch pads little; batch size bounded by memory.
    nnz = np.diff(X.indptr)
    order = np.argsort(nnz, kind="stable")
    lo = 0
    while lo < n_docs:
        widest = max(int(nnz[order[lo]]), 1)
        size = max(_CHUNK_ELEMENTS // (n_samples * max(widest, n_units)), 1)
        hi = min(lo + size, n_docs)
        # Later documents are wider: shrink the batch until the widest one fits the budget.
        while hi - lo > 1 and (hi - lo) * n_samples * max(int(nnz[order[hi - 1]]), n_units) > _CHUNK_ELEMENTS:
            hi = lo + max((hi - lo) // 2, 1)
        docs = order[lo:hi]
        ids, counts = _padded(X[docs])
        g = gamma[docs]
        log_theta = sample_log_dirichlet(g, n_samples, rng)  # B x S x K
        topics = np.transpose(beta[:, ids], (1, 0, 2))  # B x K x L
        word_prob = np.exp(log_theta) @ topics  # B x S x L: p(w | theta_s) of each distinct word
        log_w = np.einsum("bsl,bl->bs", np.log(word_prob, where=counts[:, None, :] > 0,
                                               out=np.zeros_like(word_prob)), counts)
        if prior is not None:
            # log Dir(theta | alpha) - log Dir(theta | gamma); the (K-1)-simplex base measures cancel.
            log_norm = gammaln(n_units * prior) - n_units * gammaln(prior) - gammaln(g.sum(1)) + gammaln(g).sum(1)
            log_w = log_w + log_norm[:, None] + np.einsum("bsk,bk->bs", log_theta, prior - g)
        out[docs] = logsumexp(log_w, axis=1) - np.log(n_samples)
        lo = hi
    return out
