"""The training loop shared by the minibatch models (docmodel.models.epochs), on a scripted
"model" whose validation perplexities are given: every reason to stop, the best state kept."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from docmodel.errors import ModelError
from docmodel.models import epochs
from docmodel.models.epochs import fit_epochs, holdout


class Scripted:
    """Parameters are the epoch count; validation reads a script of perplexities."""

    def __init__(self, script, steps_per_epoch=3):
        self.script, self.steps_per_epoch = list(script), steps_per_epoch
        self.state, self.trained = 0, []

    def train_epoch(self, epoch, clock):
        for i in range(self.steps_per_epoch):
            self.trained.append((epoch, i))
            if clock.step((i + 1) / self.steps_per_epoch):
                break
        self.state = epoch
        return {"train_loss": float(epoch)}

    def validate(self):
        return self.script[self.state - 1]

    def run(self, **kwargs):
        return fit_epochs(train_epoch=self.train_epoch, validate=self.validate, get_state=lambda: self.state,
                          set_state=lambda s: setattr(self, "state", s), **kwargs)


def test_runs_every_epoch_and_keeps_the_best():
    model = Scripted([9.0, 7.0, 8.0, 7.5])
    result = model.run(max_epochs=4)
    assert result.stopped == "max_epochs" and result.best_epoch == 2 and model.state == 2
    assert [h["epoch"] for h in result.history] == [1, 2, 3, 4] and result.steps == 12
    assert [h["val_perplexity_bound"] for h in result.history] == [9.0, 7.0, 8.0, 7.5]
    assert [h["best_val_perplexity_bound"] for h in result.history] == [9.0, 7.0, 7.0, 7.0]
    assert result.history[-1]["progress"] == 1.0 and result.history[0]["train_loss"] == 1.0


def test_early_stopping_counts_epochs_without_a_better_bound():
    model = Scripted([9.0, 7.0, 8.0, 7.5, 6.0, 5.0])
    result = model.run(max_epochs=6, patience=2)
    assert result.stopped == "early_stopping" and len(result.history) == 4 and model.state == 2


def test_the_callback_stops_after_an_epoch_and_within_one(monkeypatch):
    model = Scripted([9.0, 8.0, 7.0])
    result = model.run(max_epochs=3, callback=lambda entry: entry.get("epoch") == 2 and "val_perplexity_bound" in entry)
    assert result.stopped == "cancelled" and model.state == 2 and len(result.history) == 2
    # Within an epoch: progress-only entries, at most once per PROGRESS_EVERY seconds.
    monkeypatch.setattr(epochs, "PROGRESS_EVERY", 0.0)
    seen = []
    model = Scripted([9.0, 8.0, 7.0], steps_per_epoch=10)
    result = model.run(max_epochs=3, callback=lambda entry: seen.append(entry) or len(seen) == 4)
    assert result.stopped == "cancelled" and model.trained[-1] == (1, 3)  # stopped at the 4th step
    assert all("val_perplexity_bound" not in e for e in seen) and seen[0]["epoch"] == 0
    assert seen[0]["progress"] == pytest.approx(0.1 / 3)


def test_the_time_budget_ends_the_pass_and_the_run():
    model = Scripted([9.0, 8.0], steps_per_epoch=5)
    result = model.run(max_epochs=2, max_seconds=1e-9)
    assert result.stopped == "time_budget" and model.trained == [(1, 0)] and len(result.history) == 1


def test_a_non_finite_bound_stops_with_the_best_so_far():
    model = Scripted([9.0, 8.0, math.nan])
    result = model.run(max_epochs=3)
    assert result.stopped == "diverged" and model.state == 2 and result.best_val_perplexity_bound == 8.0


def test_holdout_without_and_with_validation_documents():
    X = sp.csr_matrix(np.arange(1, 61, dtype=np.float64).reshape(30, 2))
    train, val = holdout(X, None, 100, seed=0)
    assert (train.shape[0], val.shape[0]) == (27, 3)  # at most a tenth held out
    rows = {tuple(r) for r in train.toarray()} | {tuple(r) for r in val.toarray()}
    assert len(rows) == 30
    X_val = sp.csr_matrix(np.array([[0.0, 0.0], [1.0, 2.0]]))
    assert holdout(X, X_val, 5, seed=0)[1].shape[0] == 1  # the empty one is dropped
    with pytest.raises(ModelError, match="at least 2 non-empty training documents"):
        holdout(X[:1], None, 5, seed=0)
    with pytest.raises(ModelError, match="no non-empty documents"):
        holdout(X, X_val[:1], 5, seed=0)
