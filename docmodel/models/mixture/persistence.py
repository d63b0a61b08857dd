"""Mixture checkpoints as plain data: what :meth:`MixtureTopicModel.save` writes and ``load``
reads back.

A checkpoint holds the kind, the estimator's parameters (``config["params"]``), the fitted
mixing weights and word distributions and the training word frequencies as float64 tensors, the
vocabulary, the metrics and the per-step history (see :mod:`docmodel.checkpoint`). Reading one
treats it as user input: every field is checked and a bad one raises :class:`ModelError` with one
line. This module never imports :mod:`docmodel.models.mixture.estimator`, which imports it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from docmodel.base import as_vocabulary
from docmodel.errors import ModelError

if TYPE_CHECKING:
    from docmodel.models.mixture.estimator import MixtureTopicModel

_PARAM_NAMES = (
    "n_units", "max_epochs", "max_seconds", "patience", "n_val_docs", "word_prior", "mixing_prior",
    "random_state",
)
_SUM_TOLERANCE = 1e-9
"""How far from one a stored distribution's sum may be (they are stored in float64)."""


def payload(model: MixtureTopicModel, metrics: dict | None = None) -> dict:
    """The plain-data checkpoint of a fitted model, for :func:`docmodel.checkpoint.save_checkpoint`.

    Parameters
    ----------
    model : MixtureTopicModel
        A fitted model.
    metrics : dict, optional
        Figures to store with the model, after the training metrics (which they may override).

    Returns
    -------
    dict
        ``kind``, ``config`` (``{"params": ...}``), ``state`` (``mixing_weights`` of shape
        (n_units,), ``beta`` of shape (n_units, n_words) and ``word_frequencies`` of shape
        (n_words,), float64 tensors), ``vocabulary``, ``metrics`` and ``history``.
    """
    model._check_fitted()

    def tensor(array):
        return torch.from_numpy(np.array(array, dtype=np.float64))

    return {
        "kind": model.kind,
        "config": {"params": _plain(model.get_params())},
        "state": {
            "mixing_weights": tensor(model.mixing_weights_),
            "beta": tensor(model.beta_),
            "word_frequencies": tensor(model.word_frequencies_),
        },
        "vocabulary": list(model.vocabulary_.words) if model.vocabulary_ is not None else None,
        "metrics": _plain({
            "best_val_perplexity_bound": model.best_val_perplexity_bound_,
            "train_seconds": model.train_seconds_,
            "stopped": model.stopped_,
            "best_epoch": model.best_epoch_,
            "n_iter": model.n_iter_,
            **(metrics or {}),
        }),
        "history": [_plain(entry) for entry in model.history_],
    }


def restore(cls: type[MixtureTopicModel], data: dict) -> MixtureTopicModel:
    """Rebuild a fitted model from checkpoint data (as :func:`docmodel.checkpoint.load_checkpoint`
    returns it).

    Parameters
    ----------
    cls : type
        The estimator class to build (:class:`MixtureTopicModel` or a subclass).
    data : dict
        The checkpoint, as :func:`payload` wrote it.

    Returns
    -------
    MixtureTopicModel
        Fitted, with ``transform`` and the likelihoods identical to the saved model's.

    Raises
    ------
    ModelError
        A field is missing, of the wrong type or shape, or not a distribution.
    """
    params = data.get("config", {}).get("params") if isinstance(data.get("config"), dict) else None
    if not isinstance(params, dict):
        raise ModelError("mixture checkpoint is malformed: config has no 'params' mapping")
    unknown = set(params) - set(_PARAM_NAMES)
    if unknown:
        raise ModelError(f"mixture checkpoint has unknown settings: {', '.join(sorted(map(str, unknown)))}")
    model = cls(**params)
    model._validate_params()
    state = data.get("state")
    if not isinstance(state, dict):
        raise ModelError("mixture checkpoint is malformed: 'state' is missing")
    weights = _array(state, "mixing_weights", 1)
    beta = _array(state, "beta", 2)
    n_units, n_words = beta.shape
    if n_units != model.n_units or weights.shape != (n_units,):
        raise ModelError(
            f"mixture checkpoint is malformed: {weights.shape[0]} mixing weights, {n_units} word distributions "
            f"and n_units={model.n_units!r} do not agree"
        )
    if np.any(beta <= 0) or np.any(np.abs(beta.sum(axis=1) - 1.0) > _SUM_TOLERANCE):
        raise ModelError("mixture checkpoint is malformed: every row of beta must be positive and sum to one")
    if np.any(weights < 0) or abs(weights.sum() - 1.0) > _SUM_TOLERANCE:
        raise ModelError("mixture checkpoint is malformed: the mixing weights must be non-negative and sum to one")
    frequencies = _array(state, "word_frequencies", 1)
    if frequencies.shape != (n_words,) or np.any(frequencies <= 0):
        raise ModelError("mixture checkpoint is malformed: word_frequencies must be positive, one per word")

    model.mixing_weights_, model.beta_, model.word_frequencies_ = weights, beta, frequencies
    model.n_words_ = model.n_features_in_ = n_words
    vocabulary = data.get("vocabulary")
    model.vocabulary_ = as_vocabulary(vocabulary, n_words) if vocabulary else None
    history = data.get("history") or []
    if not isinstance(history, list) or not all(isinstance(h, dict) for h in history):
        raise ModelError("mixture checkpoint is malformed: history must be a list of mappings")
    model.history_ = list(history)
    metrics = data.get("metrics") or {}
    if not isinstance(metrics, dict):
        raise ModelError("mixture checkpoint is malformed: metrics must be a mapping")
    model.n_iter_ = int(metrics.get("n_iter", len(model.history_)))
    model.train_seconds_ = float(metrics.get("train_seconds", float("nan")))
    model.stopped_ = metrics.get("stopped", "unknown")
    model.best_epoch_ = metrics.get("best_epoch")
    model.best_val_perplexity_bound_ = metrics.get("best_val_perplexity_bound")
    model.metrics_ = dict(metrics)
    return model


def _array(state: dict, name: str, ndim: int) -> np.ndarray:
    """``state[name]`` as a finite float64 array of ``ndim`` dimensions, or a ModelError."""
    value = state.get(name)
    if not isinstance(value, torch.Tensor):
        raise ModelError(f"mixture checkpoint is malformed: state has no '{name}' tensor")
    if value.ndim != ndim or value.numel() == 0 or value.is_complex():
        raise ModelError(f"mixture checkpoint is malformed: '{name}' must be a non-empty real {ndim}-D tensor")
    array = value.detach().cpu().to(torch.float64).numpy().copy()
    if not np.all(np.isfinite(array)):
        raise ModelError(f"mixture checkpoint is malformed: '{name}' holds NaN or infinity")
    return array


def _plain(entry: dict) -> dict:
    """A mapping with numpy scalars turned into Python numbers (for weights_only loading)."""
    return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in entry.items()}
