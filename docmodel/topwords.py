"""Top words of a unit or topic: one ranking rule for every model kind.

Every model states, for each unit k, a word distribution ``p(w | k)`` (the words of a document in
which unit k is on: an LDA topic's beta_k; for an SBN, softmax(b + U[:, k]) with every other unit
in its common state, see :meth:`docmodel.models.sbn.estimator.SBNTopicModel.word_distributions`) and the
corpus' word frequencies ``p(w)``. Words are ranked by their *relevance* (Sievert & Shirley,
"LDAvis", 2014):

    relevance(w, k) = lambda * log p(w | k) + (1 - lambda) * log(p(w | k) / p(w))

lambda = 1 ranks by probability (frequent words first), lambda = 0 by lift (how much more often the
unit uses a word than the corpus does: rare, specific words first). The default
:data:`DEFAULT_RELEVANCE` was chosen on validation documents (README, "Readable units"): it shows
words that occur in the documents that switch the unit on and, for LDA, scores at least the NPMI
and diversity of its most probable words. The app, ``docmodel topics``, ``docmodel compare``
and the benchmarks all rank by this function.
"""

from __future__ import annotations

import numpy as np

from docmodel.errors import ModelError

DEFAULT_RELEVANCE = 0.6
"""The lambda of :func:`relevance` used wherever top words are shown or scored."""

RULE_TEXT = (
    "top words ranked by relevance, lambda log p(w|unit) + (1 - lambda) log(p(w|unit) / p(w)), "
    "lambda = {lam:g}"
)


def rule_note(lam: float = DEFAULT_RELEVANCE) -> str:
    """One paragraph for people: how the top words shown were chosen."""
    return (
        f"Top words of every model are ranked by one rule, relevance with lambda = {lam:g}: "
        "lambda log p(w|unit) + (1 - lambda) log(p(w|unit) / p(w)), where p(w) is the word's frequency in "
        "the training documents and p(w|unit) the words the unit adds to a document (an LDA topic's word "
        "distribution; for an SBN unit, the probability it adds to each word in the training documents that "
        "switch it on). lambda = 1 lists the most probable words, lambda = 0 the most specific. SBN units are "
        "shown by their rarer state: \"on\" is the state that fewer documents take."
    )


def check_relevance(lam: float) -> float:
    """``lam`` as a float in [0, 1], or a ModelError naming it."""
    try:
        lam = float(lam)
    except (TypeError, ValueError):
        raise ModelError(f"relevance lambda must be a number in [0, 1], got {lam!r}") from None
    if not 0.0 <= lam <= 1.0:
        raise ModelError(f"relevance lambda must be in [0, 1], got {lam}")
    return lam


def relevance(word_distributions: np.ndarray, word_frequencies: np.ndarray, lam: float = DEFAULT_RELEVANCE) -> np.ndarray:
    """Relevance of every word to every unit.

    Parameters
    ----------
    word_distributions : ndarray, shape (n_units, n_words)
        p(w | unit), rows summing to one.
    word_frequencies : ndarray, shape (n_words,)
        p(w) in the training corpus.
    lam : float in [0, 1]

    Returns
    -------
    ndarray, shape (n_units, n_words)
        Higher is more relevant. Words of probability 0 score -inf.
    """
    lam = check_relevance(lam)
    P = np.asarray(word_distributions, dtype=np.float64)
    p = np.asarray(word_frequencies, dtype=np.float64)
    if P.ndim != 2 or p.shape != (P.shape[1],):
        raise ModelError(f"need p(w|unit) of shape (n_units, n_words) and p(w) of shape (n_words,); got {P.shape} and {p.shape}")
    with np.errstate(divide="ignore"):
        log_p_wk = np.log(P)
        log_p_w = np.log(p / p.sum())
    # lambda log p(w|k) + (1 - lambda)(log p(w|k) - log p(w)) = log p(w|k) - (1 - lambda) log p(w)
    return log_p_wk - (1.0 - lam) * log_p_w[None, :]


def top_word_ids(model, n: int, lam: float = DEFAULT_RELEVANCE) -> np.ndarray:
    """Ids of each unit's ``n`` most relevant words, best first, shape (n_units, min(n, n_words)).

    ``model`` is any fitted model of the family (it provides ``word_distributions()`` and
    ``word_frequencies()``). Ties are broken by word id.
    """
    if n < 1:
        raise ModelError(f"the number of top words must be at least 1, got {n}")
    scores = relevance(model.word_distributions(), model.word_frequencies(), lam)
    return np.argsort(-scores, axis=1, kind="stable")[:, :n]


def word_frequencies_from_counts(word_counts) -> np.ndarray:
    """p(w) from training word counts, smoothed by half a count so no word has probability 0."""
    counts = np.asarray(word_counts, dtype=np.float64).ravel()
    return (counts + 0.5) / (counts.sum() + 0.5 * len(counts))
