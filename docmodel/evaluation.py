"""One evaluation for every model, as ``EVALUATION.md`` defines it.

Perplexity is ``exp(-mean_n log p(x_n) / L_n)`` per document (the NVIL/NVDM papers' figure) or
``exp(-sum_n log p(x_n) / sum_n L_n)`` per word, natural logarithms, with log p(x_n) replaced by
a named estimate: the variational bound (10 samples), an importance-sampled estimate (100
samples) or document completion (the posterior inferred from a random half of each document's
tokens, the other half scored). Models only provide the per-document estimates; everything else
is here, so an SBN and an LDA model are always measured by the same code on the same documents.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from docmodel import threads
from docmodel.counts import check_counts
from docmodel.errors import ModelError

if TYPE_CHECKING:
    from docmodel.base import TopicModel

ESTIMATORS = ("bound", "is", "completion")


def perplexity_from_log_likelihood(log_p: np.ndarray, lengths: np.ndarray, per: str = "document") -> float:
    """Perplexity from per-document log-likelihood estimates.

    Parameters
    ----------
    log_p : ndarray, shape (n_docs,)
        Estimates of log p(x_n) (natural log).
    lengths : ndarray, shape (n_docs,)
        Tokens scored in each document (all > 0).
    per : {"document", "word"}
        ``document``: exp(-mean(log_p / lengths)); ``word``: exp(-sum(log_p) / sum(lengths)).
    """
    log_p = np.asarray(log_p, dtype=np.float64)
    lengths = np.asarray(lengths, dtype=np.float64)
    if log_p.shape != lengths.shape or log_p.ndim != 1 or len(log_p) == 0:
        raise ModelError("need one log-likelihood and one length per document, and at least one document")
    if np.any(lengths <= 0):
        raise ModelError("every scored document needs at least one token")
    if per == "document":
        return float(np.exp(-np.mean(log_p / lengths)))
    if per == "word":
        return float(np.exp(-log_p.sum() / lengths.sum()))
    raise ModelError(f"per must be 'document' or 'word', got {per!r}")


_SPLIT_TAG = 2**63 + 1  # the completion split's stream of docmodel.noise.hashed


def split_for_completion(X, random_state=0) -> tuple[sp.csr_matrix, sp.csr_matrix, np.ndarray]:
    """Split each document's tokens at random into two halves (document completion).

    Every token is assigned to the observed or the held-out half; a document of length L gets
    ``L // 2`` observed tokens. Documents with fewer than 2 tokens cannot be split and are left
    out (``kept`` says which were used). A document's split depends only on it and
    ``random_state`` (its tokens are ranked by bits hashed from its key,
    :func:`docmodel.noise.document_keys`, and their place in it), not on the other documents.

    Returns
    -------
    X_observed, X_heldout : csr_matrix, shape (n_kept, n_words)
    kept : ndarray of int, shape (n_kept,)
        Row positions of the documents used.
    """
    from docmodel.noise import document_keys, hashed  # (torch: imported when needed)

    if random_state is None:
        random_state = int(np.random.default_rng().integers(2**31))
    X = sp.csr_matrix(check_counts(X), copy=True)
    X.sum_duplicates()  # (sorts each row's words: the tokens' order is the document's own)
    X.eliminate_zeros()
    counts = X.data.astype(np.int64)
    lengths = np.asarray(X.sum(axis=1)).ravel().astype(np.int64)
    kept = np.flatnonzero(lengths >= 2)
    # One entry per token: its word id and document row.
    rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
    tok_word = np.repeat(X.indices, counts)
    tok_doc = np.repeat(rows, counts)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    # A random rank within each document: its tokens sorted by bits hashed from (document, place).
    place = np.arange(len(tok_doc)) - starts[tok_doc]
    bits = hashed(document_keys(X, int(random_state))[tok_doc], place, _SPLIT_TAG)
    order = np.lexsort((bits, tok_doc))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order)) - np.repeat(starts, lengths)
    half = (lengths // 2)[tok_doc]
    observed = rank < half
    shape = X.shape
    ones = np.ones(len(tok_word), dtype=np.float32)
    X_obs = sp.csr_matrix((ones[observed], (tok_doc[observed], tok_word[observed])), shape=shape)
    X_held = sp.csr_matrix((ones[~observed], (tok_doc[~observed], tok_word[~observed])), shape=shape)
    X_obs.sum_duplicates()
    X_held.sum_duplicates()
    return X_obs[kept], X_held[kept], kept


def doc_lengths(X) -> np.ndarray:
    return np.asarray(check_counts(X).sum(axis=1)).ravel()


def perplexity(
    model: TopicModel,
    X,
    *,
    estimator: str = "bound",
    per: str = "document",
    n_samples: int | None = None,
    random_state=0,
) -> float:
    """Perplexity of ``X`` under ``model`` with the named estimator.

    Parameters
    ----------
    estimator : {"bound", "is", "completion"}
        ``bound``: the variational bound (default 10 samples); ``is``: importance sampled
        (default 100 samples); ``completion``: document completion (default 100 samples).
    per : {"document", "word"}
    """
    return _per_document_estimates(model, X, estimator, n_samples, random_state).perplexity(per)


class _Estimates:
    def __init__(self, log_p: np.ndarray, lengths: np.ndarray, kept: np.ndarray):
        self.log_p, self.lengths, self.kept = log_p, lengths, kept

    def perplexity(self, per: str) -> float:
        return perplexity_from_log_likelihood(self.log_p, self.lengths, per)


def _per_document_estimates(model, X, estimator, n_samples, random_state) -> _Estimates:
    X = check_counts(X)
    lengths = doc_lengths(X)
    if estimator == "bound":
        kept = np.flatnonzero(lengths > 0)
        log_p = model.log_likelihood_bound(X[kept], n_samples=n_samples or 10, random_state=random_state)
        return _Estimates(log_p, lengths[kept], kept)
    if estimator == "is":
        kept = np.flatnonzero(lengths > 0)
        log_p = model.log_likelihood_is(X[kept], n_samples=n_samples or 100, random_state=random_state)
        return _Estimates(log_p, lengths[kept], kept)
    if estimator == "completion":
        X_obs, X_held, kept = split_for_completion(X, random_state=random_state)
        log_p = model.log_likelihood_completion(
            X_obs, X_held, n_samples=n_samples or 100, random_state=random_state
        )
        return _Estimates(log_p, doc_lengths(X_held), kept)
    raise ModelError(f"estimator must be one of {', '.join(ESTIMATORS)}; got {estimator!r}")


SCORING_WORK = 2**24 * 50
"""Multiply-adds of one evaluation batch of the neural models for the thread policy
(:func:`docmodel.threads.decide`): their batches hold up to 2^24 sample-document-word logits
(:mod:`docmodel.models.sbn.scoring`), each a product over about 50 units. Large: scoring takes as
many threads as the CPU budget allows."""


def evaluate(
    model: TopicModel,
    X,
    *,
    n_samples: int = 100,
    n_samples_bound: int = 10,
    random_state=0,
    per_document: bool = False,
    refine_steps: int = 0,
) -> dict:
    """Every figure of ``EVALUATION.md`` for one model on one set of documents.

    Returns
    -------
    dict
        ``perplexity_bound``, ``perplexity_is``, ``perplexity_completion`` (per document),
        their ``*_per_word`` variants, ``elbo_per_doc`` (mean bound on log p(x)),
        ``n_docs``, ``n_tokens``, ``n_docs_completion``, ``exact`` (True where the model's three
        estimates are its exact likelihood: then bound and IS coincide); with ``per_document=True`` also the
        per-document ``log_p_bound``, ``log_p_is`` arrays and ``doc_perplexity_bound``. With
        ``refine_steps`` > 0 (SBN models only) also ``perplexity_bound_refined`` and its
        ``_per_word`` variant: the bound with q refined per document for that many steps
        (:mod:`docmodel.models.sbn.refine`; not the NVIL paper's protocol).
    """
    X = check_counts(X)
    if refine_steps and "refine_steps" not in inspect.signature(model.log_likelihood_bound).parameters:
        raise ModelError(f"refining q per document applies to SBN models (kind 'sbn'); this model is "
                         f"{getattr(model, 'kind', type(model).__name__)!r}: leave the refinement steps at 0")
    # Scoring follows the thread policy of training (docmodel.threads), not torch's default team
    # of one thread per core, which straggles on a busy machine (README, "Threads on a busy
    # machine"). The model's own n_threads, if it has one, overrides it.
    with threads.training(SCORING_WORK, getattr(model, "n_threads", None), what="scoring"):
        bound = _per_document_estimates(model, X, "bound", n_samples_bound, random_state)
        is_ = _per_document_estimates(model, X, "is", n_samples, random_state)
        comp = _per_document_estimates(model, X, "completion", n_samples, random_state)
        refined = None if not refine_steps else model.log_likelihood_bound(
            X[bound.kept], n_samples=n_samples_bound, random_state=random_state, refine_steps=refine_steps)
    out = {
        "perplexity_bound": bound.perplexity("document"),
        "perplexity_is": is_.perplexity("document"),
        "perplexity_completion": comp.perplexity("document"),
        "perplexity_bound_per_word": bound.perplexity("word"),
        "perplexity_is_per_word": is_.perplexity("word"),
        "perplexity_completion_per_word": comp.perplexity("word"),
        "elbo_per_doc": float(np.mean(bound.log_p)),
        "n_docs": int(len(bound.kept)),
        "n_tokens": int(bound.lengths.sum()),
        "n_docs_completion": int(len(comp.kept)),
        "n_samples_is": n_samples,
        "n_samples_bound": n_samples_bound,
        "exact": bool(getattr(model, "exact_likelihood", False)),
    }
    if refined is not None:
        lengths = bound.lengths
        out["refine_steps"] = refine_steps
        out["perplexity_bound_refined"] = perplexity_from_log_likelihood(refined, lengths, "document")
        out["perplexity_bound_refined_per_word"] = perplexity_from_log_likelihood(refined, lengths, "word")
    if per_document:
        out["doc_index"] = bound.kept
        out["log_p_bound"] = bound.log_p
        out["log_p_is"] = is_.log_p
        out["doc_perplexity_bound"] = np.exp(-bound.log_p / bound.lengths)
    return out
