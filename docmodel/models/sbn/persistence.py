"""An SBN estimator as a plain-data checkpoint and back (:mod:`docmodel.checkpoint` writes and
reads the file): parameters, architecture, NVIL's running statistics, the three networks'
weights, the units' word distributions, the vocabulary and the training record."""

from __future__ import annotations

import numpy as np
import torch

from docmodel.errors import ModelError
from docmodel.models.sbn.nvil import RunningStats
from docmodel.models.sbn.words import saved_word_distributions, saved_word_frequencies


def payload(model) -> dict:
    """The checkpoint of a fitted model as plain data (tensors, numbers, strings, lists)."""
    nets = model.nets_
    state = {}
    for prefix, module in (("model", nets.model), ("encoder", nets.encoder), ("baselines", nets.baselines)):
        for k, v in module.state_dict().items():
            state[f"{prefix}.{k}"] = v.detach().cpu()
    state["word_frequencies"] = torch.from_numpy(np.asarray(model.word_frequencies_, dtype=np.float64))
    state["word_distributions"] = torch.from_numpy(np.asarray(model.word_distributions_, dtype=np.float32))
    params = model.get_params()
    params["layers"] = list(model._layers())
    return {
        "kind": model.kind,
        "config": {"params": params, "architecture": model.config_.to_dict(), "stats": nets.stats.to_dict()},
        "state": state,
        "vocabulary": list(model.vocabulary_.words) if model.vocabulary_ is not None else None,
        "metrics": {
            "best_val_perplexity_bound": float(model.best_val_perplexity_bound_),
            "train_seconds": float(model.train_seconds_),
            "stopped": model.stopped_,
            "n_iter": int(model.n_iter_),
            "unit_on_share": None if model.unit_on_share_ is None else [float(v) for v in model.unit_on_share_],
        },
        "history": [{k: (float(v) if isinstance(v, float) else v) for k, v in h.items()} for h in model.history_],
    }


PRE_OPTION_VALUES = {"prior_logit": None, "nonnegative": False, "fixed_background": False, "weight_l1": 0.0,
                     "coherence_weight": 0.0, "overlap_weight": 0.0}
"""What a model saved before the readable-unit options existed was trained with (a model saved
before ``coherence_weight`` and ``overlap_weight`` existed was trained without them)."""


def restore(cls, data: dict):
    """A fitted ``cls`` (the estimator class) rebuilt from
    :func:`docmodel.checkpoint.load_checkpoint` output."""
    try:
        cfg = data["config"]
        params = dict(cfg["params"])
        params["device"] = "cpu"
        params["distributed"] = False
        # Models saved before the updates existed keep the q they were scored with (none).
        params.setdefault("mean_field_steps", cfg["architecture"].get("mean_field_steps", 0))
        # Models saved before the readable-unit options existed were trained without them (the
        # defaults then), whatever the defaults are now.
        for name, value in PRE_OPTION_VALUES.items():
            params.setdefault(name, value)
        model = cls(**params)
        nets = model._build(int(cfg["architecture"]["n_words"]))
        for prefix, module in (("model", nets.model), ("encoder", nets.encoder), ("baselines", nets.baselines)):
            sub = {k[len(prefix) + 1 :]: v for k, v in data["state"].items() if k.startswith(prefix + ".")}
            module.load_state_dict(sub)
        nets.stats = RunningStats.from_dict(cfg["stats"])
    except (KeyError, TypeError, RuntimeError, ValueError) as exc:
        reason = " ".join(str(exc).split())  # load_state_dict lists its complaints on many lines
        raise ModelError(f"checkpoint is malformed or from an incompatible version: {reason}") from None
    vocabulary = None
    if data.get("vocabulary"):
        from corpora.vocabulary import Vocabulary

        vocabulary = Vocabulary(tuple(data["vocabulary"]))
        if len(vocabulary) != nets.model.config.n_words:
            raise ModelError(
                f"checkpoint vocabulary has {len(vocabulary)} words but the model has {nets.model.config.n_words}"
            )
    metrics = data.get("metrics") or {}
    history = list(data.get("history") or [])
    model._set_fitted(
        nets,
        vocabulary,
        {
            "history": history,
            # (a checkpoint without the count: its last validation's epoch)
            "epochs": metrics.get("n_iter", history[-1].get("epoch", 0) if history else 0),
            "train_seconds": metrics.get("train_seconds", float("nan")),
            "best_val_perplexity_bound": metrics.get("best_val_perplexity_bound", float("nan")),
            "stopped": metrics.get("stopped", "unknown"),
        },
    )
    model.word_frequencies_ = saved_word_frequencies(data["state"], nets.model)
    model.word_distributions_ = saved_word_distributions(data["state"], nets.model)
    share = metrics.get("unit_on_share")
    model.unit_on_share_ = None
    if isinstance(share, list) and len(share) == model.n_units_:
        model.unit_on_share_ = np.asarray(share, dtype=np.float64)
    return model
