"""EM for a mixture of multinomials over bags of words, as pure functions on arrays.

The model (a mixture of unigrams, Nigam et al. 2000; the document analogue of the mixture of
Bernoullis in Mnih & Gregor 2014): a document picks one component k with probability
``pi_k`` (the mixing weights), then draws each of its tokens from the component's word
distribution ``beta_k``, so that

    p(x) = sum_k pi_k prod_w beta_kw ** x_w

(the probability of one particular word sequence: no multinomial coefficient, as
``EVALUATION.md`` requires). The E-step gives the responsibilities ``r_nk = p(k | x_n)``; the
M-step maximises the expected complete-data log-likelihood plus the log of symmetric Dirichlet
priors, ``Dir(1 + word_prior)`` on every ``beta_k`` and ``Dir(1 + mixing_prior)`` on ``pi``,
whose modes are the smoothed counts

    beta_kw = (sum_n r_nk x_nw + word_prior) / (sum_n r_nk L_n + V word_prior)
    pi_k    = (sum_n r_nk + mixing_prior) / (N + K mixing_prior).

Each EM step therefore never lowers :func:`log_posterior` (MAP-EM; Dempster, Laird & Rubin
1977). Everything is float64 and vectorised: one sparse (N, V) x (V, K) product and a
log-sum-exp over components per E-step, one (V, N) x (N, K) product per M-step.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.special import gammaln, logsumexp

EMPTY_COMPONENT_DOCS = 1.0
"""A component with less than this many documents' worth of responsibility counts as empty."""


def log_joint(X: sp.csr_matrix, log_weights: np.ndarray, log_beta: np.ndarray) -> np.ndarray:
    """``log pi_k + sum_w x_w log beta_kw`` for every document and component.

    Parameters
    ----------
    X : csr_matrix, shape (n_docs, n_words)
        Word counts (float64).
    log_weights : ndarray, shape (n_units,)
        log pi (may hold -inf for a component of weight 0).
    log_beta : ndarray, shape (n_units, n_words)
        log beta, finite.

    Returns
    -------
    ndarray, shape (n_docs, n_units)
    """
    return np.asarray(X @ log_beta.T) + log_weights[None, :]  # B,K


def e_step(X: sp.csr_matrix, weights: np.ndarray, beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Responsibilities p(k | x_n) and the exact log p(x_n).

    Parameters
    ----------
    X : csr_matrix, shape (n_docs, n_words)
    weights : ndarray, shape (n_units,)
        pi, summing to one.
    beta : ndarray, shape (n_units, n_words)
        Rows summing to one, all entries positive.

    Returns
    -------
    resp : ndarray, shape (n_docs, n_units)
        Rows summing to one (an empty document gets ``pi``).
    log_p : ndarray, shape (n_docs,)
        ``log sum_k pi_k prod_w beta_kw ** x_w``.
    """
    with np.errstate(divide="ignore"):  # a weight of 0 (mixing_prior=0) is a log of -inf
        joint = log_joint(X, np.log(weights), np.log(beta))
    log_p = logsumexp(joint, axis=1)
    return np.exp(joint - log_p[:, None]), log_p


def m_step(
    X: sp.csr_matrix, resp: np.ndarray, word_prior: float, mixing_prior: float
) -> tuple[np.ndarray, np.ndarray]:
    """The MAP mixing weights and word distributions given responsibilities.

    Parameters
    ----------
    X : csr_matrix, shape (n_docs, n_words)
    resp : ndarray, shape (n_docs, n_units)
    word_prior : float
        Pseudo-count added to every word of every component (> 0, so that every word keeps a
        positive probability).
    mixing_prior : float
        Pseudo-count added to every component's number of documents (>= 0). An empty component
        keeps ``beta_k`` uniform and, with ``mixing_prior > 0``, a small positive weight.

    Returns
    -------
    weights : ndarray, shape (n_units,)
    beta : ndarray, shape (n_units, n_words)
    """
    n_docs, n_words = X.shape
    n_units = resp.shape[1]
    word_counts = np.asarray(X.T @ resp).T + word_prior  # K,V expected counts, smoothed
    beta = word_counts / word_counts.sum(axis=1, keepdims=True)
    doc_counts = resp.sum(axis=0) + mixing_prior  # K
    weights = doc_counts / (n_docs + n_units * mixing_prior)
    return weights, beta


def log_prior(weights: np.ndarray, beta: np.ndarray, word_prior: float, mixing_prior: float) -> float:
    """``sum_k log Dir(beta_k; 1 + word_prior) + log Dir(pi; 1 + mixing_prior)``, with the
    Dirichlet normalising constants."""
    n_units, n_words = beta.shape
    a, b = 1.0 + word_prior, 1.0 + mixing_prior
    out = n_units * (gammaln(n_words * a) - n_words * gammaln(a)) + word_prior * float(np.log(beta).sum())
    out += gammaln(n_units * b) - n_units * gammaln(b)
    if mixing_prior > 0:  # (b - 1) log pi_k is 0 for every component when mixing_prior is 0
        out += mixing_prior * float(np.log(weights).sum())
    return float(out)


def initial_responsibilities(n_docs: int, n_units: int, rng: np.random.Generator) -> np.ndarray:
    """Every document assigned wholly to one component drawn uniformly at random, shape
    (n_docs, n_units): the first M-step then makes each component the smoothed word
    frequencies of a random subset of the documents."""
    resp = np.zeros((n_docs, n_units))
    resp[np.arange(n_docs), rng.integers(n_units, size=n_docs)] = 1.0
    return resp


def empty_components(resp: np.ndarray) -> int:
    """Components holding less than :data:`EMPTY_COMPONENT_DOCS` documents' worth of
    responsibility."""
    return int(np.sum(resp.sum(axis=0) < EMPTY_COMPONENT_DOCS))
