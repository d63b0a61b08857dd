"""What an SBN training run holds and keeps: the device, the networks as one bundle with NVIL's
running statistics and their start from the training documents, their parameter average, and
the training state written atomically for ``--resume``."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

from docmodel.checkpoint import atomic_write_bytes
from docmodel.errors import ModelError
from docmodel.models.sbn.networks import SBN, Baselines, InferenceNetwork
from docmodel.models.sbn.nvil import RunningStats


@dataclass
class Networks:
    """The three trained parts and the NVIL running statistics."""

    model: SBN
    encoder: InferenceNetwork
    baselines: Baselines
    stats: RunningStats

    def state(self) -> dict:
        return {
            "model": copy.deepcopy(self.model.state_dict()),
            "encoder": copy.deepcopy(self.encoder.state_dict()),
            "baselines": copy.deepcopy(self.baselines.state_dict()),
            "stats": self.stats,
        }

    def load(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.encoder.load_state_dict(state["encoder"])
        self.baselines.load_state_dict(state["baselines"])
        self.stats = state["stats"]


@torch.no_grad()
def initialise(nets: Networks, X: sp.csr_matrix, *, count_weights: bool) -> None:
    """Start the networks from the training documents ``X``: the word bias at the log unigram
    frequencies, q's input centring at the mean log(1 + count), and with ``count_weights`` the
    baselines' linear count term (needed when the mean-field term does not carry the learning
    signal's growth with document length; with it, the count weights start at 0)."""
    word_counts = torch.from_numpy(np.asarray(X.sum(axis=0)).ravel())
    nets.model.init_word_bias(word_counts)
    if count_weights:
        nets.baselines.init_count_weight(word_counts)
    mean = np.asarray(X.log1p().mean(axis=0)).ravel()
    nets.encoder.input_mean.copy_(torch.from_numpy(mean).float())


class ParameterAverage:
    """Exponential moving average of the model's and inference network's parameters.

    Validation, early stopping and the returned model use the averaged parameters, which
    smooths out the noise of single-sample gradient steps. The decay ramps up as
    min(decay, (1 + t) / (10 + t)) over steps t, so short runs are not dominated by the
    initial parameters.
    """

    def __init__(self, nets: Networks, decay: float):
        self.decay = decay
        self.params = [p for m in (nets.model, nets.encoder) for p in m.parameters()]
        self.average = [p.detach().clone() for p in self.params]

    @torch.no_grad()
    def update(self, step: int) -> None:
        decay = min(self.decay, (1.0 + step) / (10.0 + step))
        torch._foreach_lerp_(self.average, [p.detach() for p in self.params], 1.0 - decay)

    @torch.no_grad()
    def swap(self) -> None:
        """Exchange live and averaged parameters (call twice to undo)."""
        for p, a in zip(self.params, self.average):
            tmp = p.detach().clone()
            p.copy_(a)
            a.copy_(tmp)


def stats_on(stats: RunningStats, device: torch.device) -> RunningStats:
    return RunningStats(stats.mean.to(device), stats.var.to(device), stats.count)


def to_plain(state: dict) -> dict:
    out = dict(state)
    out["stats"] = state["stats"].to_dict()
    return out


def from_plain(state: dict) -> dict:
    out = dict(state)
    out["stats"] = RunningStats.from_dict(state["stats"])
    return out


def write_training_state(path: Path, data: dict) -> None:
    """Write a training state for ``--resume`` atomically (a killed write leaves the old one)."""
    atomic_write_bytes(Path(path), lambda f: torch.save(data, f))


def load_training_state(path: Path) -> dict:
    """Read a state written during training (plain data, ``weights_only``)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file: say so rather than resume wrongly
        raise ModelError(f"cannot resume from {path}: not a readable training state ({exc})") from None
