"""How an SBN is trained: :class:`TrainConfig`, built by the estimator from its parameters and
checked here once for the training loop (:mod:`docmodel.models.sbn.training`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from docmodel.errors import ModelError
from docmodel.models.batching import auto_batch_size
from docmodel.models.sbn.nvil import VarianceReduction

ALGORITHMS = ("nvil", "wake-sleep", "reinforce", "relaxed")
OPTIMIZERS = ("adam", "sgd")


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """How to train. Every setting a user chooses comes from the estimator
    (:class:`docmodel.models.sbn.estimator.SBNTopicModel`, whose signature holds the defaults);
    only the loop's own constants have defaults here.

    ``optimizer="sgd"`` with ``learning_rate=3e-5``, ``encoder_learning_rate=6e-6`` and
    ``batch_size=20`` gives the paper's 20 Newsgroups settings.
    """

    algorithm: str
    variance_reduction: VarianceReduction
    optimizer: str
    learning_rate: float
    encoder_learning_rate: float | None
    baseline_learning_rate: float | None
    plateau_drop: float | None
    batch_size: int
    n_samples: int
    max_epochs: int
    max_seconds: float | None
    patience: int
    weight_decay: float
    weight_l1: float
    coherence_weight: float
    overlap_weight: float
    encoder_dropout: float
    encoder_dropout_words: bool
    encoder_dreams: float
    relaxed_temperature: float
    ema_decay: float | None
    seed: int
    val_samples: int = 10
    max_grad_norm: float = 1e4

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise ModelError(f"algorithm must be one of {', '.join(ALGORITHMS)}; got {self.algorithm!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ModelError(f"optimizer must be one of {', '.join(OPTIMIZERS)}; got {self.optimizer!r}")
        for name in ("learning_rate", "max_grad_norm"):
            if not getattr(self, name) > 0:
                raise ModelError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("encoder_learning_rate", "baseline_learning_rate", "max_seconds"):
            v = getattr(self, name)
            if v is not None and not v > 0:
                raise ModelError(f"{name} must be positive, got {v}")
        for name in ("batch_size", "n_samples", "max_epochs", "val_samples"):
            if getattr(self, name) < 1:
                raise ModelError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.plateau_drop is not None and not 0 < self.plateau_drop < 1:
            raise ModelError(f"plateau_drop must be in (0, 1) or None, got {self.plateau_drop}")
        if self.patience < 1:
            raise ModelError(f"patience must be at least 1, got {self.patience}")
        if self.ema_decay is not None and not 0 < self.ema_decay < 1:
            raise ModelError(f"ema_decay must be in (0, 1), got {self.ema_decay}")
        if not 0 <= self.encoder_dropout < 1:
            raise ModelError(f"encoder_dropout must be in [0, 1), got {self.encoder_dropout}")
        if not 0 <= self.encoder_dreams <= 16:
            raise ModelError(f"encoder_dreams must be in [0, 16] (dreamed documents per real one), got {self.encoder_dreams}")
        if self.variance_reduction.sample_baseline and self.algorithm == "nvil" and self.n_samples < 2:
            raise ModelError(f"sample_baseline (leave-one-out) needs n_samples of at least 2, got {self.n_samples}")
        if self.encoder_dreams and self.algorithm != "nvil":
            raise ModelError("encoder_dreams applies to nvil training only")
        if not 0.01 <= self.relaxed_temperature <= 100:
            raise ModelError(f"relaxed_temperature must be in [0.01, 100], got {self.relaxed_temperature}")
        if self.weight_decay < 0:
            raise ModelError(f"weight_decay must be >= 0, got {self.weight_decay}")
        if not self.weight_l1 >= 0:
            raise ModelError(f"weight_l1 must be >= 0, got {self.weight_l1}")
        if not (self.coherence_weight >= 0 and np.isfinite(self.coherence_weight)):
            raise ModelError(f"coherence_weight must be a finite number >= 0, got {self.coherence_weight}")
        if not (self.overlap_weight >= 0 and np.isfinite(self.overlap_weight)):
            raise ModelError(f"overlap_weight must be a finite number >= 0, got {self.overlap_weight}")


def train_config(est, train_lengths: np.ndarray | None = None) -> TrainConfig:
    """The training configuration of estimator ``est`` (from its parameters); ``train_lengths``
    (tokens of each training document) settles the automatic minibatch and the length weights
    (before them: placeholders)."""
    if isinstance(est.batch_size, str):
        if est.batch_size != "auto":
            raise ModelError(f"batch_size must be a positive integer or 'auto', got {est.batch_size!r}")
        batch_size = 64 if train_lengths is None else auto_batch_size(len(train_lengths))
    else:
        batch_size = est.batch_size
    reference = 0.0
    if est.encoder_length_weights and train_lengths is not None:
        # The harmonic mean: the weights reference / N_d then average 1 over the corpus.
        reference = float(1.0 / np.mean(1.0 / np.maximum(train_lengths, 1.0)))
    vr = VarianceReduction(
        global_baseline=est.global_baseline,
        input_baseline=est.input_baseline,
        mean_field_term=est.input_baseline and est.mean_field_baseline,
        variance_norm=est.variance_norm,
        local_signals=est.local_signals,
        length_reference=reference,
        sample_baseline=est.sample_baseline,
    )
    return TrainConfig(
        algorithm=est.algorithm,
        variance_reduction=vr,
        optimizer=est.optimizer,
        learning_rate=est.learning_rate,
        encoder_learning_rate=est.encoder_learning_rate,
        baseline_learning_rate=est.baseline_learning_rate,
        plateau_drop=est.plateau_drop,
        batch_size=batch_size,
        n_samples=est.n_samples,
        max_epochs=est.max_epochs,
        max_seconds=est.max_seconds,
        patience=est.patience,
        weight_decay=est.weight_decay,
        weight_l1=est.weight_l1,
        coherence_weight=est.coherence_weight,
        overlap_weight=est.overlap_weight,
        encoder_dropout=est.encoder_dropout,
        encoder_dropout_words=est.encoder_dropout_words,
        encoder_dreams=est.encoder_dreams,
        relaxed_temperature=est.relaxed_temperature,
        ema_decay=est.ema_decay,
        seed=est.random_state,
    )
