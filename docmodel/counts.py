"""Document-word count matrices as every model takes them: the one check of their shape and
values, with scikit-learn's wording, the non-empty rows, and the rule for how many training
documents are held out for validation."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from docmodel.errors import ModelError


def check_counts(X, n_words: int | None = None, owner: str = "the model") -> sp.csr_matrix:
    """Validate a document-word count matrix and return it as float32 CSR.

    The messages use scikit-learn's wording where it has one, so that its estimator checks and
    its users recognise them.

    Parameters
    ----------
    X : array-like or sparse, shape (n_docs, n_words)
    n_words : int, optional
        Expected vocabulary size (the model's).
    owner : str
        Who expects ``n_words`` (the estimator's class name), for the message.
    """
    if not sp.issparse(X):
        X = np.asarray(X)
        if X.ndim != 2:
            raise ModelError(
                f"expected a 2-D documents x words matrix, got shape {X.shape}; Reshape your data: one row "
                "per document, one column per word"
            )
    if np.issubdtype(X.dtype, np.complexfloating):
        raise ModelError("Complex data not supported: word counts must be real numbers")
    X = sp.csr_matrix(X, dtype=np.float32)
    if X.shape[1] == 0:
        raise ModelError(f"0 feature(s) (shape={X.shape}) while a minimum of 1 is required: the documents have no word columns")
    if X.nnz and not np.all(np.isfinite(X.data)):
        raise ModelError("word counts must be finite: the input contains NaN or infinity")
    if X.nnz and X.data.min() < 0:
        raise ModelError("Negative values in data: word counts must be non-negative")
    if n_words is not None and X.shape[1] != n_words:
        raise ModelError(
            f"X has {X.shape[1]} features, but {owner} is expecting {n_words} features as input: the documents "
            f"have {X.shape[1]} word columns but the model was trained on {n_words} words; prepare them with "
            "the model's vocabulary (docmodel prepare --vocab MODEL_DIR/vocab.txt)"
        )
    return X


def non_empty(X: sp.csr_matrix) -> sp.csr_matrix:
    """The rows of ``X`` with at least one count (``X`` itself, not a copy, when none is empty)."""
    lengths = np.asarray(X.sum(axis=1)).ravel()
    return X if np.all(lengths > 0) else X[lengths > 0]


def n_validation_docs(n_docs: int, requested: int) -> int:
    """How many training documents to hold out for early stopping.

    ``requested`` (100 by default, as in the NVIL paper) but never more than a tenth of the
    training documents, so that small corpora keep most of their documents for training.
    """
    return max(1, min(int(requested), n_docs // 10))
