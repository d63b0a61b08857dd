"""LDA checkpoints as plain data: what :meth:`LDATopicModel.save` writes and ``load`` reads back.

A checkpoint holds the kind, the estimator's parameters, the fitted topics (scikit-learn's
``components_`` lambda and its ``exp(E[log beta])``, the priors as used), the training word
frequencies, the vocabulary, the metrics and the per-iteration history, as tensors and plain
Python values (see :mod:`docmodel.checkpoint`), never a pickled scikit-learn object. Reading one
treats it as user input: every field is checked and a bad one raises :class:`ModelError`.

This module works on the estimator class and instances it is handed and never imports
:mod:`docmodel.models.lda.estimator`, which imports it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from scipy.special import digamma
from sklearn.decomposition import LatentDirichletAllocation

from docmodel.base import as_vocabulary
from docmodel.errors import ModelError

if TYPE_CHECKING:
    from docmodel.models.lda.estimator import LDATopicModel

_PARAM_NAMES = (
    "n_units", "learning_method", "max_iter", "doc_topic_prior", "topic_word_prior", "batch_size",
    "learning_decay", "learning_offset", "evaluate_every", "max_seconds", "patience", "max_doc_update_iter",
    "mean_change_tol", "random_state", "n_jobs",
)


def payload(model: LDATopicModel, metrics: dict | None = None) -> dict:
    """The plain-data checkpoint of a fitted model, for :func:`docmodel.checkpoint.save_checkpoint`.

    Parameters
    ----------
    model : LDATopicModel
        A fitted model.
    metrics : dict, optional
        Figures to store with the model, after ``train_seconds``, ``n_iter``, ``stopped``,
        ``best_epoch`` and ``best_val_perplexity_bound`` (which they may override).

    Returns
    -------
    dict
        ``kind``, ``config``, ``state`` (``components`` and ``exp_dirichlet_component`` as float64
        tensors of shape (n_units, n_words), the priors, ``n_batch_iter``, ``word_frequencies`` of
        shape (n_words,)), ``vocabulary``, ``metrics`` and ``history``.
    """
    model._check_fitted()
    lda = model.lda_
    config = model.get_params()
    if not isinstance(config["random_state"], (int, type(None))):
        config["random_state"] = None
    return {
        "kind": model.kind,
        "config": config,
        "state": {
            "components": torch.from_numpy(np.ascontiguousarray(lda.components_, dtype=np.float64)),
            # exp(E[log beta]) as scikit-learn computed it, so that transform after loading
            # is bit-identical (recomputing it with scipy's digamma differs in the last bits).
            "exp_dirichlet_component": torch.from_numpy(
                np.ascontiguousarray(lda.exp_dirichlet_component_, dtype=np.float64)
            ),
            "doc_topic_prior": float(lda.doc_topic_prior_),
            "topic_word_prior": float(lda.topic_word_prior_),
            "n_batch_iter": int(lda.n_batch_iter_),
            "word_frequencies": torch.from_numpy(np.asarray(model.word_frequencies_, dtype=np.float64)),
        },
        "vocabulary": list(model.vocabulary_.words) if model.vocabulary_ is not None else None,
        "metrics": {
            "train_seconds": float(model.train_seconds_),
            "n_iter": int(model.n_iter_),
            "stopped": model.stopped_,
            "best_epoch": model.best_epoch_,
            "best_val_perplexity_bound": model.best_val_perplexity_bound_,
            **(metrics or {}),
        },
        "history": [_plain(entry) for entry in model.history_],
    }


def restore(cls: type[LDATopicModel], data: dict) -> LDATopicModel:
    """Rebuild a fitted model from checkpoint data (as :func:`docmodel.checkpoint.load_checkpoint`
    returns it).

    Parameters
    ----------
    cls : type
        The estimator class to build (:class:`LDATopicModel` or a subclass).
    data : dict
        The checkpoint, as :func:`payload` wrote it (older ones may lack
        ``exp_dirichlet_component``, ``n_batch_iter`` and ``word_frequencies``).

    Returns
    -------
    LDATopicModel
        Fitted, with ``transform`` bit-identical to the saved model's.
    """
    config = dict(data["config"])
    unknown = set(config) - set(_PARAM_NAMES)
    if unknown:
        raise ModelError(f"LDA checkpoint has unknown settings: {', '.join(sorted(unknown))}")
    # A checkpoint is user input: the number of worker processes is this machine's choice,
    # not the file's, and the other settings are checked like fit's.
    config["n_jobs"] = None
    model = cls(**config)
    model._validate_params()
    state = data["state"]
    try:
        components = np.asarray(state["components"].numpy(), dtype=np.float64)
        doc_topic_prior = float(state["doc_topic_prior"])
        topic_word_prior = float(state["topic_word_prior"])
    except (KeyError, AttributeError, TypeError) as exc:
        raise ModelError(f"LDA checkpoint is malformed: {exc!r} in its state") from None
    if components.ndim != 2 or np.any(~np.isfinite(components)) or np.any(components <= 0):
        raise ModelError("LDA checkpoint is malformed: components must be a positive 2-D matrix")
    n_units, n_words = components.shape
    lda = LatentDirichletAllocation(**{**model._sklearn(1, False).get_params(), "n_components": n_units})
    # The fitted attributes scikit-learn's transform reads. exp(E[log beta]) under
    # Dirichlet(components) is recomputed when a checkpoint does not carry it.
    lda.components_ = components
    if "exp_dirichlet_component" in state:
        lda.exp_dirichlet_component_ = np.asarray(state["exp_dirichlet_component"].numpy(), dtype=np.float64)
    else:
        lda.exp_dirichlet_component_ = np.exp(
            digamma(components) - digamma(components.sum(axis=1, keepdims=True))
        )
    if lda.exp_dirichlet_component_.shape != components.shape:
        raise ModelError("LDA checkpoint is malformed: exp_dirichlet_component does not match components")
    lda.doc_topic_prior_ = doc_topic_prior
    lda.topic_word_prior_ = topic_word_prior
    lda.n_features_in_ = n_words
    lda.n_batch_iter_ = int(state.get("n_batch_iter", 1))
    lda.n_iter_ = int(data.get("metrics", {}).get("n_iter", 0))
    lda.random_state_ = np.random.mtrand.RandomState(model.random_state)
    lda._validate_params()  # scikit-learn's own checks (n_jobs, ...), as its fit makes them
    model.lda_ = lda
    model.n_words_ = n_words
    model.n_features_in_ = n_words
    model.word_frequencies_ = _word_frequencies(state, components)
    vocabulary = data.get("vocabulary")
    model.vocabulary_ = as_vocabulary(vocabulary, n_words) if vocabulary else None
    model.history_ = list(data.get("history") or [])
    metrics = data.get("metrics") or {}
    model.n_iter_ = int(metrics.get("n_iter", len(model.history_)))
    model.train_seconds_ = float(metrics.get("train_seconds", float("nan")))
    model.stopped_ = metrics.get("stopped", "unknown")
    model.best_epoch_ = metrics.get("best_epoch")
    model.best_val_perplexity_bound_ = metrics.get("best_val_perplexity_bound")
    model.metrics_ = dict(metrics)
    return model


def _word_frequencies(state: dict, components: np.ndarray) -> np.ndarray:
    """p(w) from a checkpoint; older checkpoints without it use the topics' pseudo-counts,
    which are the training counts plus the topic-word prior."""
    if "word_frequencies" not in state:
        return components.sum(axis=0) / components.sum()
    try:
        freq = np.asarray(state["word_frequencies"].numpy(), dtype=np.float64)
    except AttributeError:
        raise ModelError("LDA checkpoint is malformed: word_frequencies is not a tensor") from None
    if freq.shape != (components.shape[1],) or not np.all(np.isfinite(freq)) or np.any(freq <= 0):
        raise ModelError("LDA checkpoint is malformed: word_frequencies must be positive, one per word")
    return freq


def _plain(entry: dict) -> dict:
    """A history entry with numpy scalars turned into Python numbers (weights_only loading)."""
    return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in entry.items()}
