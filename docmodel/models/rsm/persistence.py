"""Replicated Softmax checkpoints as plain data: what :meth:`RSMTopicModel.save` writes and
``load`` reads back.

A checkpoint holds the kind, the estimator's parameters, the network's size and tensors (W, b,
a), the base-rate word logits of the AIS base model, the training word frequencies, the
vocabulary, the metrics and the per-epoch history (see :mod:`docmodel.checkpoint`). Reading one
treats it as user input: every field is checked and a bad one raises :class:`ModelError` with
one line.

This module never imports :mod:`docmodel.models.rsm.estimator`, which imports it.
"""

from __future__ import annotations

import inspect
import math
from typing import TYPE_CHECKING

import numpy as np
import torch

from docmodel.base import as_vocabulary
from docmodel.errors import ModelError
from docmodel.models.rsm.network import RSM, RSMConfig

if TYPE_CHECKING:
    from docmodel.models.rsm.estimator import RSMTopicModel

_TENSORS = ("weight", "word_bias", "unit_bias", "base_bias", "word_frequencies")


def payload(model: RSMTopicModel, metrics: dict | None = None) -> dict:
    """The plain-data checkpoint of a fitted model, for :func:`docmodel.checkpoint.save_checkpoint`.

    Returns
    -------
    dict
        ``kind``, ``config`` (``params``: the estimator's parameters; ``network``: n_words and
        n_units), ``state`` (``weight`` (V, F), ``word_bias`` (V,), ``unit_bias`` (F,) as float32
        tensors; ``base_bias`` and ``word_frequencies`` (V,) as float64), ``vocabulary``,
        ``metrics`` and ``history``.
    """
    model._check_fitted()
    params = model.get_params()
    if not isinstance(params["random_state"], (int, type(None))):
        params["random_state"] = None
    net = model.net_
    return {
        "kind": model.kind,
        "config": {"params": params, "network": net.config.to_dict()},
        "state": {
            "weight": net.weight.detach().cpu().clone(),
            "word_bias": net.word_bias.detach().cpu().clone(),
            "unit_bias": net.unit_bias.detach().cpu().clone(),
            "base_bias": torch.from_numpy(np.asarray(model.base_bias_, dtype=np.float64).copy()),
            "word_frequencies": torch.from_numpy(np.asarray(model.word_frequencies_, dtype=np.float64).copy()),
        },
        "vocabulary": list(model.vocabulary_.words) if model.vocabulary_ is not None else None,
        "metrics": {
            "train_seconds": float(model.train_seconds_),
            "n_iter": int(model.n_iter_),
            "stopped": model.stopped_,
            "best_epoch": int(model.best_epoch_),
            "best_val_perplexity_bound": _finite_or_none(model.best_val_perplexity_bound_),
            **(metrics or {}),
        },
        "history": [_plain(entry) for entry in model.history_],
    }


def restore(cls: type[RSMTopicModel], data: dict) -> RSMTopicModel:
    """Rebuild a fitted model from checkpoint data (as :func:`docmodel.checkpoint.load_checkpoint`
    returns it); the model is on the CPU whatever device it was trained on."""
    config, state = data.get("config"), data.get("state")
    if not isinstance(config, dict) or not isinstance(config.get("params"), dict):
        raise ModelError("RSM checkpoint is malformed: config has no 'params'")
    if not isinstance(state, dict):
        raise ModelError("RSM checkpoint is malformed: 'state' is missing")
    params = dict(config["params"])
    known = set(inspect.signature(cls.__init__).parameters) - {"self"}
    unknown = set(params) - known
    if unknown:
        raise ModelError(f"RSM checkpoint has unknown settings: {', '.join(sorted(map(str, unknown)))}")
    params["device"] = "cpu"  # the file's device is not this machine's choice
    model = cls(**params)
    model._validate_params()
    tensors = {}
    for name in _TENSORS:
        value = state.get(name)
        if not isinstance(value, torch.Tensor) or not value.is_floating_point():
            raise ModelError(f"RSM checkpoint is malformed: state '{name}' is missing or not a float tensor")
        if not torch.isfinite(value).all():
            raise ModelError(f"RSM checkpoint is malformed: state '{name}' has non-finite values")
        tensors[name] = value
    weight = tensors["weight"]
    if weight.dim() != 2:
        raise ModelError(f"RSM checkpoint is malformed: weight must be 2-D (words x units), got shape {tuple(weight.shape)}")
    n_words, n_units = weight.shape
    expected = {"word_bias": (n_words,), "unit_bias": (n_units,), "base_bias": (n_words,), "word_frequencies": (n_words,)}
    for name, shape in expected.items():
        if tuple(tensors[name].shape) != shape:
            raise ModelError(
                f"RSM checkpoint is malformed: {name} has shape {tuple(tensors[name].shape)}, expected {shape} "
                f"for weight of shape {(n_words, n_units)}"
            )
    if n_units != model.n_units:
        raise ModelError(f"RSM checkpoint is malformed: weight has {n_units} units but n_units is {model.n_units}")
    freq = tensors["word_frequencies"].double().numpy()
    if np.any(freq <= 0):
        raise ModelError("RSM checkpoint is malformed: word_frequencies must be positive")
    net = RSM(RSMConfig(int(n_words), int(n_units)))
    with torch.no_grad():
        net.weight.copy_(weight)
        net.word_bias.copy_(tensors["word_bias"])
        net.unit_bias.copy_(tensors["unit_bias"])
    model.net_ = net
    model.base_bias_ = tensors["base_bias"].double().numpy().copy()
    model.word_frequencies_ = freq.copy()
    model.n_words_ = model.n_features_in_ = int(n_words)
    vocabulary = data.get("vocabulary")
    model.vocabulary_ = as_vocabulary(vocabulary, n_words) if vocabulary else None
    history = data.get("history") or []
    if not isinstance(history, list):
        raise ModelError("RSM checkpoint is malformed: history must be a list")
    model.history_ = list(history)
    metrics = data.get("metrics") or {}
    if not isinstance(metrics, dict):
        raise ModelError("RSM checkpoint is malformed: metrics must be a dict")
    try:
        model.n_iter_ = int(metrics.get("n_iter", len(model.history_)))
        model.train_seconds_ = float(metrics.get("train_seconds", float("nan")))
        model.best_epoch_ = int(metrics.get("best_epoch", 0))
        best = metrics.get("best_val_perplexity_bound")
        model.best_val_perplexity_bound_ = float("inf") if best is None else float(best)
    except (TypeError, ValueError):
        raise ModelError("RSM checkpoint is malformed: its metrics are not numbers") from None
    model.stopped_ = str(metrics.get("stopped", "unknown"))
    model.metrics_ = dict(metrics)
    return model


def _finite_or_none(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _plain(entry: dict) -> dict:
    """A history entry with numpy scalars turned into Python numbers (weights_only loading)."""
    return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in entry.items()}
