"""The estimator contract shared by every model kind (:mod:`docmodel.models`).

scikit-learn style: ``__init__`` only stores parameters, ``fit`` learns, fitted attributes end in
``_``, and every method that needs a fitted model raises ``NotFittedError`` before ``fit``.
Evaluation lives in :mod:`docmodel.evaluation` and only uses the three per-document estimates
defined here, so both models are always measured by the same code.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import _get_feature_names

from corpora.vocabulary import Vocabulary
from docmodel.counts import check_counts
from docmodel.errors import ModelError, NotFittedError
from docmodel.evaluation import perplexity
from docmodel.topwords import DEFAULT_RELEVANCE, top_word_ids

ProgressCallback = Callable[[dict], "bool | None"]
"""Called with a metrics dict (``step``, ``epoch``, ``seconds``, ...); returning True stops training.

Besides the validations (entries with ``val_perplexity_bound``), the minibatch models also call
it with progress-only entries between them, and the SBN on request with interim validations
(``interim: True``); :func:`is_validation` tells the kept validations apart."""


def is_validation(entry: dict) -> bool:
    """Whether a callback entry is a validation that becomes part of the model's history (not a
    progress-only entry or an interim validation for display)."""
    return entry.get("val_perplexity_bound") is not None and not entry.get("interim", False)


def as_vocabulary(vocabulary, n_words: int) -> Vocabulary | None:
    """``vocabulary`` as a :class:`Vocabulary` of ``n_words`` words (None stays None).

    Used by ``fit`` for its ``vocabulary`` argument and when a checkpoint's words are restored.
    """
    if vocabulary is None:
        return None
    if not isinstance(vocabulary, Vocabulary):
        vocabulary = Vocabulary(tuple(str(w) for w in vocabulary))
    if len(vocabulary) != n_words:
        raise ModelError(
            f"the vocabulary has {len(vocabulary)} words but the documents have {n_words} word columns; "
            "pass the vocabulary the count matrix was built with"
        )
    return vocabulary


class TopicModel(TransformerMixin, BaseEstimator, abc.ABC):
    """A document model with latent units (SBN) or topics (LDA).

    Fitted attributes common to both: ``n_words_`` (also ``n_features_in_``), ``vocabulary_`` (a
    :class:`corpora.Vocabulary` or None; the column names of a pandas DataFrame given to ``fit``,
    also kept as ``feature_names_in_``, when no vocabulary is given), ``history_`` (list of metric dicts recorded during
    training, each with ``seconds`` and, where measured, ``val_perplexity_bound``) and
    ``train_seconds_``.
    """

    kind: str = "model"
    exact_likelihood: bool = False
    """True where ``log_likelihood_bound``/``_is``/``_completion`` are all the exact log p (the
    mixture, DocNADE): the evaluation then says "exact"."""
    active_threshold: float = 0.5
    """A unit counts as on for a document when its ``transform`` value exceeds this."""

    def _check_fitted(self) -> None:
        if not hasattr(self, "n_words_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit first")

    unit_name: str = "unit"
    """What the model's latent dimensions are called (output feature names are ``unit0``, ...)."""

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Names of ``transform``'s columns: ``unit0``, ``unit1``, ... (``topic0``, ... for LDA)."""
        self._check_fitted()
        return np.asarray([f"{self.unit_name}{k}" for k in range(self.n_units_)], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.input_tags.positive_only = True  # word counts
        return tags

    def _input_features(self, X, vocabulary):
        """scikit-learn's ``feature_names_in_``: the column names of a DataFrame ``X`` given to
        ``fit`` (arrays and sparse matrices have none). They are the vocabulary when ``vocabulary``
        is not given; returns the vocabulary to keep."""
        names = _get_feature_names(X)
        if names is None:
            if hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
            return vocabulary
        self.feature_names_in_ = names
        return Vocabulary(tuple(str(n) for n in names)) if vocabulary is None else vocabulary

    def _counts(self, X) -> sp.csr_matrix:
        """``X`` checked against the fitted vocabulary size (see :func:`check_counts`)."""
        return check_counts(X, self.n_words_, type(self).__name__)

    @property
    @abc.abstractmethod
    def n_units_(self) -> int:
        """Number of latent units / topics."""

    @abc.abstractmethod
    def fit(self, X, y=None, *, vocabulary=None, X_val=None, callback: ProgressCallback | None = None):
        """Learn from counts ``X`` (n_docs, n_words); ``y`` is ignored (scikit-learn's
        convention for unsupervised estimators); return self."""

    @abc.abstractmethod
    def transform(self, X) -> np.ndarray:
        """Document representation, shape (n_docs, n_units): q(h_k=1|x) for the SBN,
        topic proportions for LDA."""

    @abc.abstractmethod
    def unit_word(self) -> np.ndarray:
        """The model's own unit-word parameters, shape (n_units, n_words): U^T for the SBN
        (logit rises), beta for LDA. Top words are ranked by :meth:`top_word_ids`, not by these."""

    @abc.abstractmethod
    def log_likelihood_bound(self, X, *, n_samples: int = 10, random_state=0) -> np.ndarray:
        """Per-document variational lower bound on log p(x), shape (n_docs,)."""

    @abc.abstractmethod
    def log_likelihood_is(self, X, *, n_samples: int = 100, random_state=0) -> np.ndarray:
        """Per-document importance-sampled estimate of log p(x), shape (n_docs,)."""

    @abc.abstractmethod
    def log_likelihood_completion(
        self, X_observed, X_heldout, *, n_samples: int = 100, random_state=0
    ) -> np.ndarray:
        """Per-document log p(x_heldout | x_observed), the posterior inferred from
        ``X_observed`` only, shape (n_docs,)."""

    @abc.abstractmethod
    def save(self, path: str | Path) -> Path:
        """Write a plain-data checkpoint (no pickle)."""

    @classmethod
    def from_checkpoint(cls, data: dict):
        """Rebuild a fitted model from :func:`docmodel.checkpoint.load_checkpoint` output."""
        raise NotImplementedError(f"{cls.__name__} cannot be loaded from a checkpoint")

    @classmethod
    def load(cls, path):
        """Load a model saved with :meth:`save` (a directory, a ``.pt`` file or a stream)."""
        from docmodel.checkpoint import load_checkpoint

        return cls.from_checkpoint(load_checkpoint(path, kind=cls.kind))

    @abc.abstractmethod
    def word_distributions(self) -> np.ndarray:
        """p(w | unit): the word distribution of a document in which the unit is on, shape
        (n_units, n_words), rows summing to one (see :mod:`docmodel.topwords`)."""

    def word_frequencies(self) -> np.ndarray:
        """p(w): the training corpus' word frequencies, shape (n_words,) (smoothed by half a
        count, see :func:`docmodel.topwords.word_frequencies_from_counts`)."""
        self._check_fitted()
        return self.word_frequencies_

    # ---- shared conveniences ------------------------------------------------------------
    def top_word_ids(self, n: int = 10, relevance: float | None = None) -> np.ndarray:
        """Ids of each unit's ``n`` top words by the one ranking rule of :mod:`docmodel.topwords`
        (relevance with lambda ``relevance``, by default ``DEFAULT_RELEVANCE``), shape (n_units, n)."""
        self._check_fitted()
        return top_word_ids(self, n, DEFAULT_RELEVANCE if relevance is None else relevance)

    def top_words(self, n: int = 10, vocabulary=None, relevance: float | None = None) -> list[list[str]]:
        """The ``n`` top words of every unit, as :meth:`top_word_ids` ranks them."""
        self._check_fitted()
        vocabulary = vocabulary if vocabulary is not None else self.vocabulary_
        if vocabulary is None:
            raise ModelError("no vocabulary: pass one to top_words or fit with vocabulary=")
        words = vocabulary.words
        return [[words[j] for j in row] for row in self.top_word_ids(n, relevance)]

    def score(self, X, y=None) -> float:
        """Mean per-document bound on log p(x) (higher is better, so that scikit-learn's model
        selection picks the better model); ``y`` is ignored."""
        return float(np.mean(self.log_likelihood_bound(X)))

    def perplexity(self, X, *, estimator: str = "bound", per: str = "document", **kwargs) -> float:
        """Perplexity of ``X`` with the named estimator (``bound``, ``is``, ``completion``).

        See :func:`docmodel.evaluation.perplexity` for the definitions.
        """
        return perplexity(self, X, estimator=estimator, per=per, **kwargs)
