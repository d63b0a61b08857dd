"""Bags of words as word sequences for DocNADE: the order convention, in one place.

A bag of words does not fix an order, and DocNADE scores a sequence. Every document handed to the
model is expanded into its tokens (a count of 3 for a word gives three tokens; counts are rounded
to whole tokens) and the tokens are put in a random order drawn from a NumPy generator: a fresh
one every epoch while training, a seeded one (the ``random_state`` of the likelihood methods) for
evaluation. For document completion the observed tokens come first, then the held-out ones, each
half in its own random order. Documents are laid end to end (no padding); :class:`TokenSequences`
records where each starts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class TokenSequences:
    """Documents as word-id sequences laid end to end.

    Attributes
    ----------
    tokens : ndarray of int64, shape (n_tokens,)
        Word ids, document after document, each document's tokens in its order.
    starts : ndarray of int64, shape (n_docs + 1,)
        Document b holds ``tokens[starts[b]:starts[b + 1]]``.
    scored : ndarray of bool, shape (n_tokens,), or None
        Positions whose conditionals count towards the document's figure (document completion:
        the held-out tokens); None: all of them.
    """

    tokens: np.ndarray
    starts: np.ndarray
    scored: np.ndarray | None = None

    @property
    def n_docs(self) -> int:
        return len(self.starts) - 1

    @property
    def n_tokens(self) -> int:
        return len(self.tokens)

    @property
    def doc(self) -> np.ndarray:
        """The document of every position, shape (n_tokens,)."""
        return np.repeat(np.arange(self.n_docs, dtype=np.int64), np.diff(self.starts))


def token_counts(X: sp.csr_matrix) -> sp.csr_matrix:
    """``X`` with its counts rounded to whole tokens (int64 entries, zeros dropped)."""
    X = sp.csr_matrix(X)
    if not X.has_canonical_format:  # duplicate entries add up before rounding
        X = X.copy()
        X.sum_duplicates()
    out = sp.csr_matrix((np.rint(X.data).astype(np.int64), X.indices, X.indptr), shape=X.shape)
    out.eliminate_zeros()
    return out


def doc_lengths(X: sp.csr_matrix) -> np.ndarray:
    """Tokens per document of an integer count matrix (:func:`token_counts`), shape (n_docs,)."""
    return np.asarray(X.sum(axis=1), dtype=np.int64).ravel()


def _tokens(X: sp.csr_matrix, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Word id and document (position in ``rows``) of every token of rows ``rows`` of ``X``."""
    starts = X.indptr[rows].astype(np.int64)
    lens = X.indptr[rows + 1].astype(np.int64) - starts
    ends = np.cumsum(lens)
    entries = np.repeat(starts - ends + lens, lens) + np.arange(ends[-1] if len(ends) else 0)
    counts = X.data[entries]
    words = np.repeat(X.indices[entries].astype(np.int64), counts)
    doc = np.repeat(np.repeat(np.arange(len(rows), dtype=np.int64), lens), counts)
    return words, doc


def _ordered(parts: list[tuple[np.ndarray, np.ndarray]], n_docs: int, rng: np.random.Generator,
             score_last: bool) -> TokenSequences:
    """Tokens of several parts of the same documents, each document's parts in the order given
    and its tokens in a random order within each part."""
    words = np.concatenate([w for w, _ in parts])
    doc = np.concatenate([d for _, d in parts])
    part = np.concatenate([np.full(len(w), i, dtype=np.int64) for i, (w, _) in enumerate(parts)])
    keys = rng.random(len(words))
    order = np.lexsort((keys, part, doc))
    starts = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(np.bincount(doc, minlength=n_docs), out=starts[1:])
    scored = part[order] == len(parts) - 1 if score_last else None
    return TokenSequences(words[order], starts, scored)


def bag_sequences(X: sp.csr_matrix, rows: np.ndarray | None, rng: np.random.Generator) -> TokenSequences:
    """Rows ``rows`` (all when None) of an integer count matrix as sequences, each document's
    tokens in a random order drawn from ``rng``."""
    rows = np.arange(X.shape[0]) if rows is None else np.asarray(rows, dtype=np.int64)
    return _ordered([_tokens(X, rows)], len(rows), rng, score_last=False)


def completion_sequences(X_observed: sp.csr_matrix, X_heldout: sp.csr_matrix, rows: np.ndarray,
                         rng: np.random.Generator) -> TokenSequences:
    """Each document's observed tokens, then its held-out ones (each half in a random order
    drawn from ``rng``); the held-out positions are the scored ones."""
    rows = np.asarray(rows, dtype=np.int64)
    return _ordered([_tokens(X_observed, rows), _tokens(X_heldout, rows)], len(rows), rng, score_last=True)


def doc_groups(lengths: np.ndarray, max_tokens: int) -> list[np.ndarray]:
    """Consecutive rows in groups of at most ``max_tokens`` tokens (a longer document alone),
    so that evaluation never expands a whole corpus at once."""
    cum = np.concatenate([[0], np.cumsum(lengths)])
    groups, lo, n = [], 0, len(lengths)
    while lo < n:
        hi = max(lo + 1, int(np.searchsorted(cum, cum[lo] + max_tokens, side="right")) - 1)
        groups.append(np.arange(lo, min(hi, n)))
        lo = min(hi, n)
    return groups
