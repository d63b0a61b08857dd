"""The learning-rate drop when the validation bound stalls (``plateau_drop``)."""

from __future__ import annotations

import pytest

from docmodel.errors import ModelError
from docmodel.models.sbn import training
from tests.docmodel.models.sbn.test_sbn_estimator import planted_corpus, small_model


def test_the_rates_drop_after_the_set_number_of_validations_without_a_better_bound(monkeypatch):
    monkeypatch.setattr(training, "MIN_ROUND_STEPS", 1)  # a validation after every epoch
    X, _ = planted_corpus(n_docs=200)
    m = small_model(max_epochs=60, patience=1000, learning_rate=3e-2, plateau_drop=0.5).fit(X)
    history = m.history_
    rate, stalled, best, drops = 3e-2, 0, float("inf"), 0
    for h in history:  # the rule, replayed from the recorded bounds
        if h["val_perplexity_bound"] < best:
            best, stalled = h["val_perplexity_bound"], 0
        else:
            stalled += 1
        if stalled >= training.PLATEAU_ROUNDS:
            rate, stalled, drops = rate * 0.5, 0, drops + 1
        assert h["learning_rate"] == pytest.approx(rate)
    assert drops >= 1  # the planted corpus is learnt within 60 epochs at this rate
    # Without the option the rate stays where it was set.
    constant = small_model(max_epochs=10, patience=1000, learning_rate=3e-2).fit(X)
    assert [h["learning_rate"] for h in constant.history_] == pytest.approx([3e-2] * len(constant.history_))


@pytest.mark.parametrize("value", [0.0, 1.0, 1.5, -0.5])
def test_a_drop_outside_zero_to_one_is_refused(value):
    X, _ = planted_corpus(n_docs=50)
    with pytest.raises(ModelError, match="plateau_drop must be in"):
        small_model(plateau_drop=value).fit(X)
