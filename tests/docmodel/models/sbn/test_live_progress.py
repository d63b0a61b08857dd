"""The SBN's reports between validations: progress-only entries, interim validations for live
displays, and a stop asked for in the middle of an epoch."""

from __future__ import annotations

import numpy as np
import pytest

from docmodel.base import is_validation
from docmodel.models.sbn import training
from tests.docmodel.models.sbn.test_sbn_estimator import planted_corpus, small_model


@pytest.fixture
def every_step(monkeypatch):
    """Reports after every minibatch and an interim validation whenever asked for."""
    monkeypatch.setattr(training, "PROGRESS_EVERY", 0.0)
    monkeypatch.setattr(training, "INTERIM_SECONDS", 0.0)
    monkeypatch.setattr(training, "INTERIM_SPACING", 0.0)
    monkeypatch.setattr(training, "INTERIM_COST_FACTOR", 0.0)


def test_progress_entries_come_between_validations_and_count_documents(every_step):
    X, _ = planted_corpus(n_docs=330)  # 297 training documents: 10 minibatches of 32 per epoch
    seen = []
    m = small_model(max_epochs=3, patience=100).fit(X, callback=lambda e: seen.append(dict(e)))
    progress = [e for e in seen if not is_validation(e)]
    validations = [e for e in seen if is_validation(e)]
    assert [e["epoch"] for e in validations] == [h["epoch"] for h in m.history_]
    assert len(progress) == 3 * 10  # one after each minibatch
    first = progress[0]
    assert first["epoch"] == 0 and first["step"] == 1 and first["docs_seen"] == 32
    assert first["epochs"] == pytest.approx(32 / 297) and 0 < first["progress"] < 1
    assert progress[9]["docs_seen"] == 297 and progress[9]["epochs"] == pytest.approx(1.0)
    assert all("val_perplexity_bound" not in e for e in progress)  # none asked for
    assert [e["step"] for e in progress] == sorted(e["step"] for e in progress)
    assert m.n_iter_ == 3 and m.stopped_ == "max_epochs"


def test_a_stop_asked_for_between_validations_ends_within_the_epoch(every_step):
    X, _ = planted_corpus(n_docs=2000)  # about 57 minibatches an epoch
    seen = []

    def stop_at_step_5(entry):
        seen.append(dict(entry))
        return entry["step"] >= 5

    m = small_model(max_epochs=50, patience=100).fit(X, callback=stop_at_step_5)
    assert m.stopped_ == "cancelled" and m.n_iter_ == 1
    # One more minibatch after the request, then the validation that ends the run.
    assert m.train_result_["steps"] == 6
    assert [h["step"] for h in m.history_] == [6] and is_validation(seen[-1])
    # The best parameters are kept: the starting ones or those just validated, whichever is better.
    assert m.best_val_perplexity_bound_ <= m.history_[-1]["val_perplexity_bound"]


def test_interim_validations_are_for_display_and_do_not_change_the_result(every_step):
    X, _ = planted_corpus(n_docs=330)
    plain = small_model(max_epochs=4, patience=100).fit(X)
    seen = []
    live = small_model(max_epochs=4, patience=100).fit(X, callback=lambda e: seen.append(dict(e)),
                                                       interim_validations=True)
    interim = [e for e in seen if e.get("interim")]
    assert len(interim) == 4 * 10 and all(np.isfinite(e["val_perplexity_bound"]) for e in interim)
    assert not any(is_validation(e) for e in interim)
    assert all(not h.get("interim") for h in live.history_) and len(live.history_) == len(plain.history_)
    np.testing.assert_array_equal(live.unit_word(), plain.unit_word())
    assert live.best_val_perplexity_bound_ == plain.best_val_perplexity_bound_
    # (One validation, after the 40 steps of the 4 epochs: a round is at least 100 steps or the run.)
    # After the last minibatch, the interim figure is that of the validation that follows.
    last = live.history_[-1]
    same_step = [e for e in interim if e["step"] == last["step"]]
    assert same_step and same_step[0]["val_perplexity_bound"] == pytest.approx(last["val_perplexity_bound"])


def test_the_epoch_count_survives_a_checkpoint(tmp_path):
    X, _ = planted_corpus(n_docs=200)
    m = small_model(max_epochs=3, patience=100).fit(X)
    assert m.n_iter_ == 3
    m.save(tmp_path / "model")
    from docmodel.checkpoint import load_model

    assert load_model(tmp_path / "model").n_iter_ == 3
