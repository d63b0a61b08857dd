"""DocNADE checkpoints as plain data: what :meth:`DocNADETopicModel.save` writes and ``load``
reads back.

A checkpoint holds the kind, the estimator's parameters and the network's architecture
(``config``), the four parameter tensors and the training word frequencies (``state``), the
vocabulary, the metrics and the per-epoch history (see :mod:`docmodel.checkpoint`). Reading one
treats it as user input: every field is checked and a bad one raises :class:`ModelError` with
one line. This module never imports :mod:`docmodel.models.docnade.estimator`, which imports it.
"""

from __future__ import annotations

import inspect

import numpy as np
import torch

from docmodel.base import as_vocabulary
from docmodel.errors import ModelError
from docmodel.models.docnade.network import DocNADE, DocNADEConfig

_TENSORS = ("W", "c", "out_weight", "out_bias")


def payload(model) -> dict:
    """The checkpoint of a fitted model: ``kind``, ``config`` (``params``: the estimator's
    parameters; ``network``: n_words, n_units, softmax), ``state`` (``W`` (n_words, n_units),
    ``c`` (n_units,), ``out_weight`` (n_outputs, n_units), ``out_bias`` (n_outputs,) as float32
    tensors and ``word_frequencies`` (n_words,) as float64), ``vocabulary``, ``metrics`` and
    ``history``."""
    net = model.net_
    params = model.get_params()
    if not isinstance(params["random_state"], (int, type(None))):
        params["random_state"] = None
    state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
    state["word_frequencies"] = torch.from_numpy(np.asarray(model.word_frequencies_, dtype=np.float64))
    return {
        "kind": model.kind,
        "config": {"params": params, "network": net.config.to_dict()},
        "state": state,
        "vocabulary": list(model.vocabulary_.words) if model.vocabulary_ is not None else None,
        "metrics": {
            "best_val_perplexity_bound": float(model.best_val_perplexity_bound_),
            "best_epoch": int(model.best_epoch_),
            "train_seconds": float(model.train_seconds_),
            "n_iter": int(model.n_iter_),
            "stopped": model.stopped_,
        },
        "history": [{k: (v.item() if isinstance(v, np.generic) else v) for k, v in h.items()} for h in model.history_],
    }


def restore(cls, data: dict):
    """A fitted ``cls`` (the estimator class) rebuilt from
    :func:`docmodel.checkpoint.load_checkpoint` output; a malformed checkpoint raises
    :class:`ModelError`."""
    try:
        config = data["config"]
        params = dict(config["params"])
        network = dict(config["network"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"DocNADE checkpoint is malformed: its config lacks {_brief(exc)}") from None
    known = set(inspect.signature(cls.__init__).parameters) - {"self"}
    unknown = set(params) - known
    if unknown:
        raise ModelError(f"DocNADE checkpoint has unknown settings: {', '.join(sorted(map(str, unknown)))}")
    params["device"] = "cpu"  # the weights are loaded on the CPU
    model = cls(**params)
    model._validate_params()
    try:
        arch = DocNADEConfig(n_words=_int(network["n_words"]), n_units=_int(network["n_units"]),
                             softmax=str(network["softmax"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"DocNADE checkpoint is malformed: bad network config ({_brief(exc)})") from None
    state = data.get("state")
    if not isinstance(state, dict):
        raise ModelError("DocNADE checkpoint is malformed: 'state' is missing")
    tensors = {}
    for name in _TENSORS:
        value = state.get(name)
        if not isinstance(value, torch.Tensor) or not value.is_floating_point():
            raise ModelError(f"DocNADE checkpoint is malformed: state '{name}' is not a float tensor")
        if not bool(torch.isfinite(value).all()):
            raise ModelError(f"DocNADE checkpoint is malformed: state '{name}' holds NaN or infinity")
        tensors[name] = value.float()
    net = DocNADE(arch)
    try:
        net.load_state_dict(tensors)
    except RuntimeError as exc:
        raise ModelError(f"DocNADE checkpoint is malformed: {_brief(exc)}") from None
    net.eval()
    model.net_ = net
    model.n_words_ = model.n_features_in_ = arch.n_words
    model.word_frequencies_ = _word_frequencies(state.get("word_frequencies"), arch.n_words)
    vocabulary = data.get("vocabulary")
    model.vocabulary_ = as_vocabulary(vocabulary, arch.n_words) if vocabulary else None
    metrics = data.get("metrics") or {}
    model.history_ = list(data.get("history") or [])
    model.n_iter_ = int(metrics.get("n_iter", len(model.history_)))
    model.best_epoch_ = metrics.get("best_epoch")
    model.best_val_perplexity_bound_ = float(metrics.get("best_val_perplexity_bound", float("nan")))
    model.train_seconds_ = float(metrics.get("train_seconds", float("nan")))
    model.stopped_ = metrics.get("stopped", "unknown")
    return model


def _int(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an integer, got {_brief(value)}")
    return value


def _word_frequencies(value, n_words: int) -> np.ndarray:
    if not isinstance(value, torch.Tensor):
        raise ModelError("DocNADE checkpoint is malformed: word_frequencies is not a tensor")
    freq = value.double().numpy()
    if freq.shape != (n_words,) or not np.all(np.isfinite(freq)) or np.any(freq <= 0):
        raise ModelError("DocNADE checkpoint is malformed: word_frequencies must be positive, one per word")
    return freq


def _brief(value) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= 120 else text[:117] + "..."
