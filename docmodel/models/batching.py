"""The training documents of the minibatch models (the SBNs, NVDM): which train and which
validate, the minibatches' size and order, and dense rows of a CSR count matrix made on the
training device without building a scipy matrix per minibatch."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from docmodel.models.epochs import holdout


def auto_batch_size(n_docs: int) -> int:
    """The automatic minibatch for ``n_docs`` training documents: a twentieth of them, between 64
    and 512. Large minibatches make a step cheaper per document (one pass over the vocabulary's
    weights serves more documents); twenty steps an epoch keep a small corpus learning."""
    return min(512, max(64, n_docs // 20))


class CSRRows:
    """Dense float32 minibatches from rows of a CSR count matrix.

    The stored entries of the requested rows are gathered with NumPy and scattered into a zeroed
    (B, V) tensor on the device, so only the nonzeros travel to a GPU and no scipy matrix is
    built per minibatch. The matrix itself is not copied when it is already float32 with
    canonical (sorted, summed) entries; it may be memory-mapped.

    Parameters
    ----------
    X : csr_matrix, shape (n_docs, V)
    device : torch.device
    """

    def __init__(self, X: sp.csr_matrix, device: torch.device | str = "cpu"):
        X = sp.csr_matrix(X, dtype=np.float32)
        if not X.has_canonical_format:
            X = X.copy()
            X.sum_duplicates()
        self.shape = X.shape
        self.indptr, self.indices, self.data = X.indptr.astype(np.int64), X.indices, X.data
        self.device = torch.device(device)

    def _scatter(self, n_rows: int, entries: np.ndarray, lens: np.ndarray) -> torch.Tensor:
        n_words = self.shape[1]
        flat = np.repeat(np.arange(n_rows, dtype=np.int64) * n_words, lens) + self.indices[entries]
        x = torch.zeros(n_rows * n_words, dtype=torch.float32, device=self.device)
        x.scatter_(0, torch.from_numpy(flat).to(self.device), torch.from_numpy(self.data[entries]).to(self.device))
        return x.view(n_rows, n_words)

    def rows(self, rows: np.ndarray) -> torch.Tensor:
        """Rows ``rows`` (any order) as a dense tensor, shape (len(rows), V)."""
        rows = np.asarray(rows, dtype=np.int64)
        starts = self.indptr[rows]
        lens = self.indptr[rows + 1] - starts
        ends = np.cumsum(lens)
        # Entry positions: each row's start, repeated over its entries, plus the offset within.
        entries = np.repeat(starts - ends + lens, lens) + np.arange(ends[-1] if len(ends) else 0)
        return self._scatter(len(rows), entries, lens)

    def span(self, lo: int, hi: int) -> torch.Tensor:
        """Rows ``lo .. hi - 1`` as a dense tensor, shape (hi - lo, V)."""
        entries = np.arange(self.indptr[lo], self.indptr[hi])
        return self._scatter(hi - lo, entries, np.diff(self.indptr[lo : hi + 1]))


def dense_rows(X: sp.csr_matrix, rows: np.ndarray, device: torch.device) -> torch.Tensor:
    """Rows of a CSR matrix as a dense float32 tensor, shape (len(rows), V)."""
    return CSRRows(X, device).rows(rows)


def epoch_order(seed: int, epoch: int, n_docs: int) -> np.ndarray:
    # A fresh generator per epoch keeps the shuffle reproducible after a resume.
    return np.random.default_rng([seed, epoch]).permutation(n_docs)


def training_split(X: sp.csr_matrix, X_val, n_val_docs: int, seed: int) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """The documents to train on and those to validate on: :func:`docmodel.models.epochs.holdout`."""
    return holdout(X, X_val, n_val_docs, seed)
