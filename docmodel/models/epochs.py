"""The training loop shared by the minibatch models (DocNADE, Replicated Softmax, NVDM, the
mixture): epochs, a time budget, validation after every epoch, early stopping on the validation
bound, the best parameters kept, and a callback that can stop a run between minibatches.

A model supplies four functions (one pass over its training documents, the validation
perplexity, and a copy and restore of its parameters); :func:`fit_epochs` does the rest and
returns what the estimator stores as its fitted attributes (``history_``, ``stopped_``, ...).
The SBN has its own loop (:mod:`docmodel.models.sbn.training`: resume state, data-parallel
workers, rollbacks), with the same history entries and reasons for stopping.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from docmodel.counts import check_counts, n_validation_docs
from docmodel.errors import ModelError

log = logging.getLogger(__name__)

PROGRESS_EVERY = 1.0
"""Seconds between the progress-only callbacks made inside an epoch."""


def holdout(X: sp.csr_matrix, X_val, n_val_docs: int, seed) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """The documents to train on and those to validate on (early stopping).

    ``X`` holds non-empty documents. Without ``X_val``, ``n_val_docs`` of them (at most a tenth:
    :func:`docmodel.counts.n_validation_docs`) are held out at random (seeded) and not trained
    on; a given ``X_val`` is checked against ``X``'s vocabulary and loses its empty documents.
    """
    if X_val is None:
        if X.shape[0] < 2:
            raise ModelError(
                f"need at least 2 non-empty training documents (got {X.shape[0]} sample"
                f"{'' if X.shape[0] == 1 else 's'}): one to train on "
                "and one to hold out for early stopping"
            )
        n_val = n_validation_docs(X.shape[0], n_val_docs)
        perm = np.random.default_rng(seed).permutation(X.shape[0])
        X_val, X = X[perm[:n_val]], X[perm[n_val:]]
    else:
        X_val = check_counts(X_val, X.shape[1])
        X_val = X_val[np.asarray(X_val.sum(axis=1)).ravel() > 0]
    if X.shape[0] == 0 or X_val.shape[0] == 0:
        raise ModelError("no non-empty documents to train or validate on")
    return X, X_val


@dataclass
class EpochsResult:
    """What a run of :func:`fit_epochs` leaves (the estimator's fitted attributes)."""

    history: list[dict] = field(default_factory=list)
    """One entry per epoch: ``step``, ``epoch``, ``seconds``, ``progress``,
    ``val_perplexity_bound``, ``best_val_perplexity_bound`` and the pass's own figures."""
    stopped: str = "max_epochs"
    """``max_epochs``, ``time_budget``, ``early_stopping``, ``cancelled`` or ``diverged``."""
    best_epoch: int = 0
    best_val_perplexity_bound: float = math.inf
    train_seconds: float = 0.0
    steps: int = 0

    def set_fitted(self, estimator) -> None:
        """The estimator's fitted attributes from this run: ``history_``, ``stopped_``,
        ``best_epoch_``, ``best_val_perplexity_bound_``, ``train_seconds_`` and ``n_iter_`` (the
        epochs run: one history entry each)."""
        estimator.history_ = self.history
        estimator.stopped_ = self.stopped
        estimator.best_epoch_ = self.best_epoch
        estimator.best_val_perplexity_bound_ = self.best_val_perplexity_bound
        estimator.train_seconds_ = self.train_seconds
        estimator.n_iter_ = len(self.history)


class Clock:
    """Time since the start, the budget, and the progress-only callbacks within an epoch.

    ``train_epoch`` calls :meth:`step` after each minibatch; it returns True when the pass should
    end now (the time budget is spent or the callback asked to stop).
    """

    def __init__(self, max_epochs: int, max_seconds: float | None, callback):
        self.max_epochs, self.max_seconds, self.callback = max_epochs, max_seconds, callback
        self.start = time.perf_counter()
        self.steps, self.epoch, self.cancelled = 0, 0, False
        self._last_report = self.start

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def out_of_time(self) -> bool:
        return self.max_seconds is not None and self.elapsed() >= self.max_seconds

    def progress(self, epochs_done: float) -> float:
        by_time = self.elapsed() / self.max_seconds if self.max_seconds else 0.0
        return min(1.0, max(epochs_done / self.max_epochs, by_time))

    def step(self, fraction_of_epoch: float = 0.0) -> bool:
        """One minibatch done (``fraction_of_epoch`` of this epoch so far); True: stop the pass."""
        self.steps += 1
        now = time.perf_counter()
        if self.callback is not None and now - self._last_report >= PROGRESS_EVERY:
            self._last_report = now
            entry = {"step": self.steps, "epoch": self.epoch, "seconds": now - self.start,
                     "progress": self.progress(self.epoch + fraction_of_epoch)}
            if self.callback(entry):
                self.cancelled = True
        return self.cancelled or self.out_of_time()


def fit_epochs(
    *,
    train_epoch: Callable[[int, Clock], dict | None],
    validate: Callable[[], float],
    get_state: Callable[[], Any],
    set_state: Callable[[Any], None],
    max_epochs: int,
    max_seconds: float | None = None,
    patience: int | None = None,
    callback=None,
) -> EpochsResult:
    """Train for up to ``max_epochs`` passes and keep the parameters of the best validation.

    Parameters
    ----------
    train_epoch : callable ``(epoch, clock) -> dict or None``
        One pass over the training documents (``epoch`` counts from 1). It calls
        ``clock.step(fraction)`` after every minibatch and returns early when that is True. Its
        dict (for example ``{"train_loss": ...}``) joins the epoch's history entry.
    validate : callable ``() -> float``
        Per-document bound perplexity on the validation documents (lower is better); a
        non-finite value counts as divergence.
    get_state, set_state : callables
        A copy of the parameters, and putting such a copy back.
    max_epochs : int
    max_seconds : float or None
        Time budget; the pass running when it is spent stops after its current minibatch.
    patience : int or None
        Stop after this many epochs without a better validation bound (None: never).
    callback : callable, optional
        Called with each history entry and, at most once a second within an epoch, with a
        progress-only entry (``step``, ``epoch`` done, ``seconds``, ``progress``); returning True
        stops training and keeps the best parameters so far.
    """
    clock = Clock(max_epochs, max_seconds, callback)
    result = EpochsResult()
    best_state = get_state()
    for epoch in range(1, max_epochs + 1):
        clock.epoch = epoch - 1
        extra = train_epoch(epoch, clock) or {}
        clock.epoch = epoch
        val = float(validate())
        elapsed = clock.elapsed()
        if not math.isfinite(val):
            result.stopped = "diverged"
            log.warning("epoch %d: validation bound is not finite; keeping the best parameters so far", epoch)
            break
        if val < result.best_val_perplexity_bound:
            result.best_val_perplexity_bound, result.best_epoch, best_state = val, epoch, get_state()
        entry = {
            "step": clock.steps, "epoch": epoch, "seconds": elapsed, "progress": clock.progress(epoch),
            "val_perplexity_bound": val, "best_val_perplexity_bound": result.best_val_perplexity_bound,
            **{k: float(v) for k, v in extra.items()},
        }
        result.history.append(entry)
        log.info("epoch %d: val perplexity (bound) %.1f, best %.1f", epoch, val, result.best_val_perplexity_bound)
        if clock.cancelled or (callback is not None and callback(dict(entry))):
            result.stopped = "cancelled"
            break
        if patience is not None and epoch - result.best_epoch >= patience:
            result.stopped = "early_stopping"
            break
        if clock.out_of_time():
            result.stopped = "time_budget"
            break
    set_state(best_state)
    result.train_seconds, result.steps = clock.elapsed(), clock.steps
    if not result.history:  # diverged in the first epoch: the starting parameters are kept
        result.best_val_perplexity_bound = float(validate())
    return result
