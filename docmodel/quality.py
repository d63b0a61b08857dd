"""Topic quality: NPMI coherence, topic diversity and how well document representations predict
labels.

Coherence is the normalised pointwise mutual information of each unit's top words (Bouma,
"Normalized (pointwise) mutual information in collocation extraction", GSCL 2009; used for topic
models by Aletras & Stevenson, IWCS 2013, and Röder, Both & Hinneburg, WSDM 2015), with
probabilities estimated from document co-occurrence in the training documents. It reproduces
gensim's ``CoherenceModel(coherence="c_npmi")`` when gensim's sliding window covers whole
documents (a test checks this). Diversity is the fraction of distinct words among all units' top
25 (Dieng, Ruiz & Blei, "Topic Modeling in Embedding Spaces", TACL 2020).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from docmodel.errors import ModelError

# gensim's epsilon (topic_coherence.direct_confirmation_measure.EPSILON), kept for agreement.
NPMI_EPSILON = 1e-12


def top_word_ids(unit_word: np.ndarray, n: int) -> np.ndarray:
    """Ids of the ``n`` highest-scoring words of each unit, best first.

    Parameters
    ----------
    unit_word : ndarray, shape (n_units, n_words)
    n : int

    Returns
    -------
    ndarray of int, shape (n_units, min(n, n_words))
    """
    unit_word = np.asarray(unit_word)
    return np.argsort(-unit_word, axis=1, kind="stable")[:, :n]


def _as_ids(top_words, vocabulary) -> list[list[int]]:
    """Top words given as ids or as strings (with ``vocabulary``) -> lists of ids."""
    rows = [list(row) for row in top_words]
    if all(isinstance(w, (int, np.integer)) for row in rows for w in row):
        return [[int(w) for w in row] for row in rows]
    if vocabulary is None:
        raise ModelError("top words given as strings need the vocabulary (vocabulary=) to find their ids")
    index = {w: i for i, w in enumerate(getattr(vocabulary, "words", vocabulary))}
    out = []
    for k, row in enumerate(rows):
        missing = [w for w in row if w not in index]
        if missing:
            raise ModelError(f"unit {k}: top word {missing[0]!r} is not in the vocabulary")
        out.append([index[w] for w in row])
    return out


def npmi_coherence(
    top_words,
    X_train,
    *,
    n_top: int = 10,
    vocabulary=None,
    eps: float = NPMI_EPSILON,
) -> np.ndarray:
    """NPMI coherence of each unit's top words, from document co-occurrence.

    For words i, j with document probabilities ``p_i = D(i) / N``, ``p_ij = D(i, j) / N`` (``D``
    counts the training documents containing the words, ``N`` is the number of documents,
    empty ones included), ``NPMI(i, j) = log((p_ij + eps) / (p_i p_j)) / -log(p_ij + eps)``,
    averaged over all pairs of the unit's first ``n_top`` words.

    Conventions, those of gensim's ``c_npmi``: ``eps`` (1e-12) keeps a pair that never occurs
    together finite, so such a pair scores ``log(eps / (p_i p_j)) / -log(eps)``, a little above
    -1 (for example -0.67 when ``p_i = p_j = 0.01``) rather than exactly -1, the limit as eps -> 0.
    A pair with a word that occurs in no training document, where gensim fails with a division
    by zero, scores -1.

    Parameters
    ----------
    top_words : array-like of int, shape (n_units, >= n_top), or sequences of str
        Each unit's top words, best first: ids, or words together with ``vocabulary``.
    X_train : sparse or array, shape (n_docs, n_words)
        Training counts; only whether a word occurs in a document matters.
    n_top : int
        Words of each unit to use.
    vocabulary : Vocabulary or sequence of str, optional
        Needed when ``top_words`` holds strings.
    eps : float

    Returns
    -------
    ndarray, shape (n_units,)
        NPMI in [-1, 1] per unit (NaN for a unit with fewer than two words).
    """
    if n_top < 2:
        raise ModelError(f"n_top must be at least 2 for word pairs, got {n_top}")
    X = sp.csr_matrix(X_train)
    n_docs = X.shape[0]
    if n_docs == 0:
        raise ModelError("NPMI needs at least one training document")
    units = [row[:n_top] for row in _as_ids(top_words, vocabulary)]
    used = np.unique(np.concatenate([np.asarray(u, dtype=np.int64) for u in units] + [np.zeros(0, np.int64)]))
    if len(used) and (used.min() < 0 or used.max() >= X.shape[1]):
        raise ModelError(f"top word ids must lie in [0, {X.shape[1]}), the training matrix's columns")
    pairs = npmi_matrix(co_occurrence(X, used), n_docs, eps)
    position = {w: i for i, w in enumerate(used.tolist())}
    out = np.full(len(units), np.nan)
    for k, unit in enumerate(units):
        if len(unit) < 2:
            continue
        pos = np.array([position[w] for w in unit])
        i, j = np.triu_indices(len(pos), k=1)
        # NPMI is symmetric, so the unordered pairs give gensim's mean over ordered pairs.
        out[k] = pairs[pos[i], pos[j]].mean()
    return out


def co_occurrence(X, words: np.ndarray) -> np.ndarray:
    """D(i, j), the number of documents (rows of ``X``) that contain both words i and j of
    ``words`` (column ids), with D(i) on the diagonal; shape (len(words), len(words))."""
    X = X if sp.issparse(X) else sp.csr_matrix(X)
    occurs = (X[:, words] > 0).astype(np.float64)  # docs x words, 0/1
    return np.asarray((occurs.T @ occurs).todense())


def npmi_matrix(together: np.ndarray, n_docs: int, eps: float = NPMI_EPSILON) -> np.ndarray:
    """NPMI of every pair of words from their document co-occurrence.

    Parameters
    ----------
    together : ndarray, shape (n, n)
        D(i, j) with D(i) on the diagonal (:func:`co_occurrence`).
    n_docs : int
        Documents counted, N.
    eps : float
        See :func:`npmi_coherence`, whose conventions this follows (a pair with a word that
        occurs in no document scores -1).

    Returns
    -------
    ndarray, shape (n, n)
        NPMI(i, j); the diagonal holds a word's NPMI with itself (1 where it occurs).
    """
    d = np.diag(together)
    return npmi_from_counts(together, d[:, None], d[None, :], n_docs, eps)


def npmi_from_counts(d_ij, d_i, d_j, n_docs: int, eps: float = NPMI_EPSILON) -> np.ndarray:
    """NPMI of word pairs from D(i, j), D(i) and D(j) (arrays that broadcast together), with the
    conventions of :func:`npmi_coherence`."""
    p_ij, p_i, p_j = np.asarray(d_ij) / n_docs, np.asarray(d_i) / n_docs, np.asarray(d_j) / n_docs
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log((p_ij + eps) / (p_i * p_j)) / -np.log(p_ij + eps)
    return np.where((p_i == 0) | (p_j == 0), -1.0, out)


def topic_diversity(top_words, n_top: int = 25) -> float:
    """Fraction of distinct words among the first ``n_top`` words of all units.

    Parameters
    ----------
    top_words : sequence of sequences (ids or str), one per unit, best first
        Units with fewer than ``n_top`` words (a small vocabulary) contribute all they have.
    n_top : int

    Returns
    -------
    float
        In (0, 1]: 1 when no word is shared between units' top lists.
    """
    if n_top < 1:
        raise ModelError(f"n_top must be at least 1, got {n_top}")
    words = [w for row in top_words for w in list(row)[:n_top]]
    if not words:
        raise ModelError("topic diversity needs at least one unit with top words")
    return len(set(words)) / len(words)


def label_accuracy(
    doc_unit: np.ndarray,
    labels: Sequence,
    *,
    cv: int = 5,
    random_state=0,
    max_iter: int = 1000,
) -> float | None:
    """Cross-validated accuracy of a logistic regression predicting labels from ``doc_unit``.

    Features are standardised inside each fold (scikit-learn pipeline), folds are stratified
    and shuffled with ``random_state``. Documents whose label is None are dropped, and so are
    classes with fewer than ``cv`` documents (they cannot appear in every fold).

    Parameters
    ----------
    doc_unit : ndarray, shape (n_docs, n_units)
        Document representations (``model.transform(X)``).
    labels : sequence of str or None, length n_docs
    cv : int
        Folds.
    random_state : int or None
    max_iter : int
        Iterations of the logistic regression solver.

    Returns
    -------
    float or None
        Mean accuracy over the folds; None when fewer than two classes have ``cv`` documents.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    doc_unit = np.asarray(doc_unit, dtype=np.float64)
    labels = list(labels)
    if doc_unit.ndim != 2 or doc_unit.shape[0] != len(labels):
        raise ModelError(
            f"need one label per document: {len(labels)} labels for a doc_unit matrix of shape {doc_unit.shape}"
        )
    if cv < 2:
        raise ModelError(f"cv must be at least 2 folds, got {cv}")
    counts = Counter(lab for lab in labels if lab is not None)
    kept_classes = {lab for lab, c in counts.items() if c >= cv}
    if len(kept_classes) < 2:
        return None
    keep = np.array([lab in kept_classes for lab in labels])
    y = np.array([str(lab) for lab, k in zip(labels, keep) if k])
    classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=max_iter))
    folds = StratifiedKFold(n_splits=cv, shuffle=True, random_state=random_state)
    return float(np.mean(cross_val_score(classifier, doc_unit[keep], y, cv=folds)))
