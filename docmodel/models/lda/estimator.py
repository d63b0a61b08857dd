"""LDA behind the project's estimator contract, trained by scikit-learn.

Training is scikit-learn's variational Bayes (Hoffman, Blei & Bach, "Online Learning for Latent
Dirichlet Allocation", NIPS 2010; Blei, Ng & Jordan, JMLR 2003), never re-implemented here: this
module only drives :class:`sklearn.decomposition.LatentDirichletAllocation` one pass at a time
through its public ``partial_fit``, so that a validation curve, a time budget and a stopping
callback are possible. What it adds is evaluation with the topic-word distributions held at
their fitted values (beta = the normalised ``components_``), as ``EVALUATION.md`` asks:

* ``log_likelihood_bound``: the per-document mean-field bound, the document-topic variational
  Dirichlet ``gamma`` optimised for each document with beta fixed;
* ``log_likelihood_is``: importance sampling with ``theta ~ Dir(gamma)`` as the proposal;
* ``log_likelihood_completion``: ``gamma`` from one half of a document, the other half scored.

This module holds the estimator class: its parameters and their checks, and its methods. The
work behind them lives beside it: the training loop in :mod:`docmodel.models.lda.training`, the
per-document arithmetic in :mod:`docmodel.models.lda.inference`, and checkpoint writing and
reading in :mod:`docmodel.models.lda.persistence`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.decomposition import LatentDirichletAllocation

from docmodel.base import ProgressCallback, TopicModel, as_vocabulary
from docmodel.checkpoint import save_checkpoint
from docmodel.counts import check_counts
from docmodel.errors import ModelError
from docmodel.models.lda import KIND, persistence, training
from docmodel.models.lda.inference import infer_gamma, log_mean_likelihood, mean_field_bound
from docmodel.topwords import word_frequencies_from_counts

LEARNING_METHODS = ("batch", "online")


class LDATopicModel(TopicModel):
    """Latent Dirichlet Allocation (scikit-learn's variational Bayes) as a :class:`TopicModel`.

    Parameters
    ----------
    n_units : int
        Number of topics (scikit-learn's ``n_components``).
    learning_method : {"batch", "online"}
        ``batch``: every iteration is one variational EM step over all training documents.
        ``online``: every iteration is one pass over the documents (shuffled each pass) in
        minibatches of ``batch_size``, each an online VB update.
    max_iter : int
        Iterations (passes over the training documents). The default, 100, is ten times
        scikit-learn's 10, which leaves batch VB far from converged on a corpus the size of 20
        Newsgroups: there (NVDM split, 50 topics) the validation bound falls until about
        iteration 25 and then slowly rises again, so pair a long run with ``patience``.
    doc_topic_prior, topic_word_prior : float in (0, 1] or None
        Dirichlet priors alpha (on topic proportions) and eta (on topic-word distributions);
        None means ``1 / n_units`` (scikit-learn's default).
    batch_size : int
        Documents per online update (``online`` only).
    learning_decay, learning_offset : float
        Online step size ``(learning_offset + t) ** -learning_decay`` (``online`` only).
    evaluate_every : int
        Measure the validation bound every this many iterations when ``X_val`` is given.
    max_seconds : float or None
        Training time budget. Checked after every iteration (batch) or minibatch (online), so
        the budget is overrun by at most one of those; the first iteration always completes.
    patience : int or None
        Early stopping (needs ``X_val``): stop after ``patience`` validation measurements
        without a better validation bound, and keep the best iteration's topics. None (the
        default) trains for ``max_iter`` iterations, as scikit-learn's ``fit`` does.
    max_doc_update_iter, mean_change_tol : int, float
        Per-document E-step iterations and tolerance (scikit-learn's), also used at evaluation.
    random_state : int or None
    n_jobs : int or None
        Processes for scikit-learn's E-step.

    Attributes
    ----------
    lda_ : sklearn.decomposition.LatentDirichletAllocation
        The trained scikit-learn estimator (``components_`` is lambda, shape (n_units, n_words)).
    n_words_ : int
    vocabulary_ : Vocabulary or None
    history_ : list of dict
        One entry per iteration: ``step`` (scikit-learn updates so far), ``epoch``, ``seconds``
        (wall clock since fit started, validation included), ``progress`` and, when measured,
        ``val_perplexity_bound``.
    train_seconds_ : float
    n_iter_ : int
        Iterations run.
    stopped_ : str
        Why training ended: ``max_iter``, ``time_budget``, ``cancelled`` (the callback) or
        ``early_stopping``.
    best_epoch_, best_val_perplexity_bound_ : int or None, float or None
        Iteration with the best validation bound and that bound.

    Notes
    -----
    Batch training goes through ``partial_fit`` with one minibatch holding every document,
    ``total_samples`` equal to the number of documents and ``learning_decay=0``: the online
    update ``(1 - rho) lambda + rho (eta + sstats)`` with ``rho = 1`` is exactly the batch M-step,
    and the result is bit-identical to ``LatentDirichletAllocation(learning_method="batch").fit``
    (a test checks this).
    """

    kind = KIND.kind
    unit_name = KIND.unit_name
    active_threshold = KIND.active_threshold
    """A topic counts as on for a document when it has more than this share of it."""

    def __init__(
        self,
        n_units: int = 50,
        *,
        learning_method: str = "batch",
        max_iter: int = 100,
        doc_topic_prior: float | None = None,
        topic_word_prior: float | None = None,
        batch_size: int = 128,
        learning_decay: float = 0.7,
        learning_offset: float = 10.0,
        evaluate_every: int = 1,
        max_seconds: float | None = None,
        patience: int | None = None,
        max_doc_update_iter: int = 100,
        mean_change_tol: float = 1e-3,
        random_state: int | None = 0,
        n_jobs: int | None = None,
    ):
        self.n_units = n_units
        self.learning_method = learning_method
        self.max_iter = max_iter
        self.doc_topic_prior = doc_topic_prior
        self.topic_word_prior = topic_word_prior
        self.batch_size = batch_size
        self.learning_decay = learning_decay
        self.learning_offset = learning_offset
        self.evaluate_every = evaluate_every
        self.max_seconds = max_seconds
        self.patience = patience
        self.max_doc_update_iter = max_doc_update_iter
        self.mean_change_tol = mean_change_tol
        self.random_state = random_state
        self.n_jobs = n_jobs

    # ---- configuration -------------------------------------------------------------------
    def _validate_params(self) -> None:
        def positive_int(name):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ModelError(f"{name} must be a positive integer, got {value!r}")

        for name in ("n_units", "max_iter", "batch_size", "evaluate_every", "max_doc_update_iter"):
            positive_int(name)
        if self.learning_method not in LEARNING_METHODS:
            raise ModelError(
                f"learning_method must be one of {', '.join(LEARNING_METHODS)}; got {self.learning_method!r}"
            )
        for name in ("doc_topic_prior", "topic_word_prior"):
            value = getattr(self, name)
            if value is not None and not (0.0 < value <= 1.0):
                raise ModelError(f"{name} must be in (0, 1] or None (1 / n_units), got {value!r}")
        if self.patience is not None:
            positive_int("patience")
        if self.max_seconds is not None and not self.max_seconds > 0:
            raise ModelError(f"max_seconds must be positive or None, got {self.max_seconds!r}")
        if not 0.0 <= self.learning_decay <= 1.0:
            raise ModelError(f"learning_decay must be in [0, 1], got {self.learning_decay!r}")
        if not self.learning_offset >= 1.0:
            raise ModelError(f"learning_offset must be at least 1, got {self.learning_offset!r}")
        if not self.mean_change_tol >= 0:
            raise ModelError(f"mean_change_tol must be non-negative, got {self.mean_change_tol!r}")

    def _sklearn(self, n_docs: int, batch: bool) -> LatentDirichletAllocation:
        """A fresh scikit-learn estimator for training (see the class Notes for batch)."""
        return LatentDirichletAllocation(
            n_components=self.n_units,
            doc_topic_prior=self.doc_topic_prior,
            topic_word_prior=self.topic_word_prior,
            learning_method=self.learning_method,
            learning_decay=0.0 if batch else self.learning_decay,
            learning_offset=self.learning_offset,
            batch_size=max(n_docs, 1) if batch else self.batch_size,
            total_samples=max(n_docs, 1),
            max_doc_update_iter=self.max_doc_update_iter,
            mean_change_tol=self.mean_change_tol,
            n_jobs=self.n_jobs,
            random_state=self.random_state,
        )

    # ---- training ------------------------------------------------------------------------
    def fit(self, X, y=None, *, vocabulary=None, X_val=None, callback: ProgressCallback | None = None):
        """Train on counts ``X`` with scikit-learn's variational Bayes.

        Parameters
        ----------
        X : sparse or array, shape (n_docs, n_words)
            Training word counts.
        y : ignored
            scikit-learn's convention for unsupervised estimators (so ``Pipeline`` works).
        vocabulary : Vocabulary or sequence of str, optional
            The words of the columns of ``X`` (length n_words).
        X_val : sparse or array, shape (n_val, n_words), optional
            Validation documents: their per-document bound perplexity is recorded in
            ``history_`` every ``evaluate_every`` iterations (``val_perplexity_bound``), and
            drives early stopping when ``patience`` is set.
        callback : callable, optional
            Called after every iteration with the history entry (``step``, ``epoch``,
            ``seconds``, ``progress``, ``val_perplexity_bound``); returning True stops training
            and keeps the model so far (the best one so far with ``patience``).

        Returns
        -------
        self
        """
        self._validate_params()
        vocabulary = self._input_features(X, vocabulary)
        X = check_counts(X).astype(np.float64)
        n_docs, n_words = X.shape
        if n_docs == 0:
            raise ModelError("cannot train on an empty corpus (no documents)")
        if X.nnz == 0:
            raise ModelError("cannot train on documents without any word counts")
        vocab = as_vocabulary(vocabulary, n_words)
        if self.patience is not None and X_val is None:
            raise ModelError("patience (early stopping) needs validation documents: pass X_val")
        val_lengths = None
        if X_val is not None:
            X_val = check_counts(X_val, n_words).astype(np.float64)
            val_lengths = np.asarray(X_val.sum(axis=1)).ravel()
            X_val, val_lengths = X_val[val_lengths > 0], val_lengths[val_lengths > 0]
            if X_val.shape[0] == 0:
                X_val = None

        self.lda_ = self._sklearn(n_docs, batch=self.learning_method == "batch")
        self.n_words_, self.vocabulary_, self.n_features_in_ = n_words, vocab, n_words
        training.train(self, X, X_val, val_lengths, callback)
        self.word_frequencies_ = word_frequencies_from_counts(X.sum(axis=0))
        return self

    # ---- fitted quantities ---------------------------------------------------------------
    @property
    def n_units_(self) -> int:
        self._check_fitted()
        return int(self.lda_.components_.shape[0])

    @property
    def doc_topic_prior_(self) -> float:
        """alpha as used (``1 / n_units`` when ``doc_topic_prior`` is None)."""
        self._check_fitted()
        return float(self.lda_.doc_topic_prior_)

    def unit_word(self) -> np.ndarray:
        """Topic-word distributions beta (the normalised ``components_``), shape (n_units, n_words)."""
        self._check_fitted()
        components = self.lda_.components_
        return components / components.sum(axis=1, keepdims=True)

    def word_distributions(self) -> np.ndarray:
        """p(w | topic): beta, shape (n_units, n_words)."""
        return self.unit_word()

    def transform(self, X) -> np.ndarray:
        """Topic proportions of each document (scikit-learn's ``transform``, normalised).

        Parameters
        ----------
        X : sparse or array, shape (n_docs, n_words)

        Returns
        -------
        ndarray, shape (n_docs, n_units)
            Rows sum to one. scikit-learn's E-step uses ``exp(E[log beta])`` under the
            variational Dirichlet over topics; the likelihood estimates below hold beta at its
            mean instead, so their ``gamma`` differs slightly from this.
        """
        self._check_fitted()
        X = self._counts(X).astype(np.float64)
        return self.lda_.transform(X)

    def _gamma(self, X) -> np.ndarray:
        """Variational Dirichlet parameters with beta fixed, shape (n_docs, n_units)."""
        return infer_gamma(
            X, self.unit_word(), self.doc_topic_prior_,
            max_iter=self.max_doc_update_iter, tol=self.mean_change_tol,
        )

    def log_likelihood_bound(self, X, *, n_samples: int = 10, random_state=0) -> np.ndarray:
        """Per-document mean-field lower bound on log p(x | beta).

        ``E_q[log p(x | theta, beta)] + E_q[log p(theta | alpha)] - E_q[log q(theta | gamma)]``
        with the optimal word-topic assignments phi, ``gamma`` optimised per document and beta
        the normalised ``components_``. Word tokens are counted without the multinomial
        coefficient. The bound is deterministic: ``n_samples`` and ``random_state`` are accepted
        for the common contract and ignored.

        Parameters
        ----------
        X : sparse or array, shape (n_docs, n_words)

        Returns
        -------
        ndarray, shape (n_docs,)
        """
        self._check_fitted()
        X = self._counts(X).astype(np.float64)
        gamma = self._gamma(X)
        return mean_field_bound(X, self.unit_word(), self.doc_topic_prior_, gamma)

    def log_likelihood_is(self, X, *, n_samples: int = 100, random_state=0) -> np.ndarray:
        """Per-document importance-sampled estimate of log p(x | beta).

        ``log (1/S) sum_s p(x | theta_s, beta) p(theta_s | alpha) / q(theta_s | gamma)`` with
        ``theta_s ~ Dir(gamma)``, the variational posterior of :meth:`log_likelihood_bound`.
        Its expectation lies between the bound and log p(x | beta).

        Returns
        -------
        ndarray, shape (n_docs,)
        """
        self._check_fitted()
        X = self._counts(X).astype(np.float64)
        gamma = self._gamma(X)
        return log_mean_likelihood(
            X, self.unit_word(), gamma, n_samples=_check_samples(n_samples),
            random_state=random_state, prior=self.doc_topic_prior_,
        )

    def log_likelihood_completion(self, X_observed, X_heldout, *, n_samples: int = 100, random_state=0):
        """Per-document ``log (1/S) sum_s p(x_heldout | theta_s, beta)``, ``theta_s ~ Dir(gamma)``
        with ``gamma`` inferred from ``X_observed`` only.

        Parameters
        ----------
        X_observed, X_heldout : sparse or array, shape (n_docs, n_words)

        Returns
        -------
        ndarray, shape (n_docs,)
        """
        self._check_fitted()
        X_observed = self._counts(X_observed).astype(np.float64)
        X_heldout = self._counts(X_heldout).astype(np.float64)
        if X_observed.shape[0] != X_heldout.shape[0]:
            raise ModelError(
                f"{X_observed.shape[0]} observed halves but {X_heldout.shape[0]} held-out halves; "
                "pass the two halves of the same documents"
            )
        gamma = self._gamma(X_observed)
        return log_mean_likelihood(
            X_heldout, self.unit_word(), gamma, n_samples=_check_samples(n_samples),
            random_state=random_state, prior=None,
        )

    def sklearn_perplexity(self, X) -> float:
        """scikit-learn's own ``perplexity()``, for reference only.

        A per-word figure from scikit-learn's corpus-level bound, which also counts the
        topic-word Dirichlet terms; not comparable with the per-document figures of
        :mod:`docmodel.evaluation`.
        """
        self._check_fitted()
        X = self._counts(X).astype(np.float64)
        return float(self.lda_.perplexity(X))

    # ---- checkpoints (built and checked in persistence.py) ------------------------------
    def save(self, path: str | Path, *, metrics: dict | None = None) -> Path:
        """Write a plain-data checkpoint (see :mod:`docmodel.checkpoint`).

        Parameters
        ----------
        path : str or Path
            A model directory or a ``.pt`` file name.
        metrics : dict, optional
            Figures to store with the model (``train_seconds`` and ``n_iter`` are added).
        """
        return save_checkpoint(path, persistence.payload(self, metrics))

    @classmethod
    def from_checkpoint(cls, data: dict) -> LDATopicModel:
        """Rebuild a fitted model from checkpoint data (as :func:`load_checkpoint` returns it)."""
        return persistence.restore(cls, data)



def _check_samples(n_samples) -> int:
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
        raise ModelError(f"n_samples must be a positive integer, got {n_samples!r}")
    return int(n_samples)
