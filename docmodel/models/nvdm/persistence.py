"""An NVDM estimator as a plain-data checkpoint and back (:mod:`docmodel.checkpoint` writes and
reads the file): parameters, architecture, the encoder's and decoder's weights, the training
word frequencies, the vocabulary and the training record."""

from __future__ import annotations

import numpy as np
import torch

from docmodel.base import as_vocabulary
from docmodel.errors import ModelError
from docmodel.models.nvdm.networks import Decoder, Encoder, NVDMConfig


def payload(model) -> dict:
    """The checkpoint of a fitted model as plain data (tensors, numbers, strings, lists)."""
    state = {}
    for prefix, module in (("encoder", model.encoder_), ("decoder", model.decoder_)):
        for k, v in module.state_dict().items():
            state[f"{prefix}.{k}"] = v.detach().cpu().clone()
    state["word_frequencies"] = torch.from_numpy(np.asarray(model.word_frequencies_, dtype=np.float64))
    state["dimensions_flipped"] = torch.from_numpy(np.asarray(model.dimensions_flipped_, dtype=bool))
    params = model.get_params()
    params["encoder_hidden"] = list(model.config_.encoder_hidden)
    if not isinstance(params["random_state"], (int, type(None))):
        params["random_state"] = int(params["random_state"])
    return {
        "kind": model.kind,
        "config": {"params": params, "architecture": model.config_.to_dict()},
        "state": state,
        "vocabulary": list(model.vocabulary_.words) if model.vocabulary_ is not None else None,
        "metrics": {
            "best_val_perplexity_bound": float(model.best_val_perplexity_bound_),
            "train_seconds": float(model.train_seconds_),
            "stopped": model.stopped_,
            "best_epoch": int(model.best_epoch_),
            "n_iter": int(model.n_iter_),
        },
        "history": [{k: (v.item() if isinstance(v, np.generic) else v) for k, v in h.items()} for h in model.history_],
    }


def restore(cls, data: dict):
    """A fitted ``cls`` (the estimator class) rebuilt from
    :func:`docmodel.checkpoint.load_checkpoint` output; malformed data raises a one-line
    ModelError."""
    try:
        params = dict(data["config"]["params"])
        params["device"] = "cpu"  # the machine loading it decides where it runs
        params["n_threads"] = None
        arch = dict(data["config"]["architecture"])
        config = NVDMConfig(n_words=int(arch["n_words"]), n_units=int(arch["n_units"]),
                            encoder_hidden=tuple(arch["encoder_hidden"]))
        params["encoder_hidden"] = config.encoder_hidden
        model = cls(**params)
        model._settings(0)  # the stored settings are checked as fit checks them
        if model.n_units != config.n_units:
            raise ValueError(f"n_units is {model.n_units!r} but the networks have {config.n_units} dimensions")
        encoder, decoder = Encoder(config), Decoder(config)
        state = data["state"]
        if not isinstance(state, dict):
            raise TypeError("state is not a dict")
        for prefix, module in (("encoder", encoder), ("decoder", decoder)):
            module.load_state_dict({k[len(prefix) + 1 :]: v for k, v in state.items() if k.startswith(prefix + ".")})
        freq = state["word_frequencies"]
        flipped = state.get("dimensions_flipped")
    except (KeyError, TypeError, RuntimeError, ValueError, AttributeError, ModelError) as exc:
        reason = " ".join(str(exc).split())  # load_state_dict lists its complaints on many lines
        raise ModelError(f"NVDM checkpoint is malformed or from an incompatible version: {reason}") from None
    for module in (encoder, decoder):
        if not all(bool(torch.isfinite(t).all()) for t in module.state_dict().values()):
            raise ModelError("NVDM checkpoint is malformed: its weights are not all finite")
    if not isinstance(freq, torch.Tensor) or tuple(freq.shape) != (config.n_words,) or not bool((freq > 0).all()):
        raise ModelError("NVDM checkpoint is malformed: word_frequencies must be positive, one per word")
    model.config_, model.encoder_, model.decoder_ = config, encoder.eval(), decoder.eval()
    model.n_words_ = model.n_features_in_ = config.n_words
    model.word_frequencies_ = freq.double().numpy()
    model.dimensions_flipped_ = (
        np.zeros(config.n_units, dtype=bool) if flipped is None else np.asarray(flipped, dtype=bool).reshape(-1)
    )
    model.vocabulary_ = as_vocabulary(data.get("vocabulary"), config.n_words) if data.get("vocabulary") else None
    model.history_ = list(data.get("history") or [])
    metrics = data.get("metrics") or {}
    model.best_val_perplexity_bound_ = metrics.get("best_val_perplexity_bound")
    model.train_seconds_ = float(metrics.get("train_seconds", float("nan")))
    model.stopped_ = metrics.get("stopped", "unknown")
    model.best_epoch_ = metrics.get("best_epoch")
    model.n_iter_ = int(metrics.get("n_iter", len(model.history_)))
    return model
