"""The learning-rate drop when the validation bound stalls (``plateau_drop``)."""

from __future__ import annotations

import pytest

from corpora import Corpus, Dataset
from docmodel.checkpoint import load_model
from docmodel.cli import main
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
        val = h["val_perplexity_bound"]
        stalled = 0 if val < best * (1 - training.PLATEAU_MIN_GAIN) else stalled + 1
        best = min(best, val)
        if stalled >= training.PLATEAU_ROUNDS:
            rate, stalled, drops = rate * 0.5, 0, drops + 1
        assert h["learning_rate"] == pytest.approx(rate)
    assert drops >= 1  # the planted corpus is learnt within 60 epochs at this rate
    # Without the option the rate stays where it was set.
    constant = small_model(max_epochs=10, patience=1000, learning_rate=3e-2, plateau_drop=None).fit(X)
    assert [h["learning_rate"] for h in constant.history_] == pytest.approx([3e-2] * len(constant.history_))


@pytest.mark.parametrize("value", [0.0, 1.0, 1.5, -0.5])
def test_a_drop_outside_zero_to_one_is_refused(value):
    X, _ = planted_corpus(n_docs=50)
    with pytest.raises(ModelError, match="plateau_drop must be in"):
        small_model(plateau_drop=value).fit(X)


@pytest.mark.parametrize(("given", "kept"), [(["--plateau-drop", "0.3"], 0.3), (["--plateau-drop", "none"], None),
                                             ([], None)])
def test_the_cli_option_reaches_the_estimator(tmp_path, given, kept):
    X, vocab = planted_corpus(n_docs=120)
    Dataset(Corpus(X, vocab, [f"d{i}" for i in range(120)])).save(tmp_path / "corpus")
    assert main(["train", str(tmp_path / "corpus"), "--units", "3", "--epochs", "1", "--val-docs", "20",
                 *given, "-o", str(tmp_path / "out")]) == 0
    assert load_model(tmp_path / "out").plateau_drop == kept
