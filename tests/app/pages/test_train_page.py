"""The Train page through Streamlit's AppTest: training an SBN and an LDA in the background on a
tiny planted corpus, cancelling a run, and the error paths a user can reach (bad settings, a
failed run, a duplicate name); a Name entered that starts nothing, and settings kept across
pages."""

from __future__ import annotations

from docmodel.models import REGISTRY
from docmodel.models.sbn import MEAN_FIELD_STEPS
from tests.app.pages.apptest import (
    TIMEOUT,
    assert_settings_kept,
    errors,
    new_app,
    run,
    train,
    upload_planted,
)


def test_train_both_models_in_the_background(trained):
    at = trained
    sbn = at.session_state["models"]["sbn-nvil-4"].model
    assert sbn.n_units_ == 4 and sbn.n_iter_ == 200 and sbn.history_[-1]["epoch"] == 200
    table = at.dataframe[-1].value
    assert list(table["name"]) == ["sbn-nvil-4", "lda-batch-3"]
    # Epochs trained (LDA: iterations), not validations: the SBN validated fewer times than it trained epochs.
    lda = at.session_state["models"]["lda-batch-3"].model
    assert len(sbn.history_) < 200 and list(table["epochs"]) == [200, lda.n_iter_]
    assert set(table["fits this corpus"]) == {True}


def start_long_sbn(name: str = ""):
    """The Train page with an SBN of 3 units started that only Cancel ends (no budget, no early
    stopping, 10,000 epochs)."""
    at = upload_planted(new_app())
    at.switch_page("pages/train.py")
    run(at)
    at.text_input(key="sbn_layers").set_value("3")
    at.number_input(key="sbn_epochs").set_value(10_000)
    at.number_input(key="sbn_seconds").set_value(0)
    at.number_input(key="sbn_patience").set_value(10_000)
    if name:
        at.text_input(key="sbn_name").set_value(name)
    next(b for b in at.button if b.label == "Train SBN").click()
    return run(at)


def test_cancel_keeps_the_best_model_so_far():
    at = start_long_sbn("long-run")
    assert at.session_state["training_run"].name == "long-run"
    at.button(key="cancel_training").click()
    run(at)
    at.session_state["training_run"].join(TIMEOUT)
    run(at)
    model = at.session_state["models"]["long-run"].model
    assert model.stopped_ == "cancelled" and len(model.history_) < 10_000
    assert any("cancelled: the best model so far was kept" in s.value for s in at.success)


def test_the_progress_polls_faster_while_a_run_stops(monkeypatch):
    """After Cancel the panel reruns four times a second until the run has ended (the model kept),
    so that the end shows promptly; every second before, not at all after."""
    import threading

    import streamlit as st

    from docmodel.models.sbn.estimator import SBNTopicModel

    kept = threading.Event()  # holds the run between the end of its loop and its end
    real_fit, real_fragment = SBNTopicModel.fit, st.fragment

    def fit_then_wait(self, *args, **kwargs):
        real_fit(self, *args, **kwargs)
        assert kept.wait(TIMEOUT)
        return self

    intervals = []

    def recording_fragment(func=None, *, run_every=None):
        if getattr(func, "__name__", "") == "progress_panel":
            intervals.append(run_every)
        return real_fragment(func, run_every=run_every)

    monkeypatch.setattr(SBNTopicModel, "fit", fit_then_wait)
    monkeypatch.setattr(st, "fragment", recording_fragment)
    at = start_long_sbn()
    assert intervals[-1] == 1.0
    at.button(key="cancel_training").click()
    run(at)
    assert intervals[-1] == 0.25 and not at.session_state["training_run"].finished
    kept.set()
    at.session_state["training_run"].join(TIMEOUT)
    run(at)
    assert intervals[-1] is None and at.session_state["training_run"].finished

def test_bad_training_settings_are_refused():
    at = new_app()
    at.switch_page("pages/train.py")
    run(at)
    at.text_input(key="sbn_layers").set_value("ten")
    next(b for b in at.button if b.label == "Train SBN").click()
    run(at)
    assert any("layers must be whole numbers" in e for e in errors(at))
    at.text_input(key="sbn_layers").set_value("4")
    at.text_input(key="sbn_name").set_value("bad name!")
    next(b for b in at.button if b.label == "Train SBN").click()
    run(at)
    assert any("model names may hold letters" in e for e in errors(at))
    assert at.session_state["training_run"] is None


def test_a_failed_training_run_is_reported(monkeypatch):
    from docmodel.errors import ModelError
    from docmodel.models.sbn.estimator import SBNTopicModel

    def fail(self, *args, **kwargs):
        raise ModelError("the learning rate exploded")

    monkeypatch.setattr(SBNTopicModel, "fit", fail)
    at = train(new_app(), "SBN", sbn_layers="4", sbn_epochs=2)
    assert any("the learning rate exploded" in e for e in errors(at)), errors(at)
    assert at.session_state["models"] == {}


def test_duplicate_names_are_refused(trained):
    at = trained
    at.switch_page("pages/train.py")
    run(at)
    at.text_input(key="lda_name").set_value("lda-batch-3")
    next(b for b in at.button if b.label == "Train LDA").click()
    run(at)
    assert any("A model named lda-batch-3 exists already" in e for e in errors(at)), errors(at)
    at.text_input(key="lda_name").set_value("")
    run(at)


def test_entering_a_name_does_not_start_training():
    """Enter in a field commits its value (one run of the page); only a Train button starts a run."""
    at = new_app()
    at.switch_page("pages/train.py")
    run(at)
    at.text_input(key="sbn_name").input("entered-sbn")
    run(at)
    at.text_input(key="lda_name").input("entered-lda")
    run(at)
    assert at.session_state["training_run"] is None and at.session_state["models"] == {}
    assert at.text_input(key="sbn_name").value == "entered-sbn"


def test_train_settings_are_kept_after_visiting_another_page():
    at = new_app()
    # The model picked in "More models" shows that model's own fields: kept per model, not swapped here.
    kept = assert_settings_kept(at, "pages/train.py", "pages/compare.py", skip=("bench_kind",))
    assert {"sbn_lr", "sbn_name", "sbn_perplexity", "sbn_algorithm", "lda_units", "lda_method"} <= set(kept)
    assert at.session_state["training_run"] is None  # changing settings started nothing


def test_a_kept_learning_rate_is_the_one_trained_with():
    """The issue's case: the learning rate set, another page visited, then Train."""
    at = upload_planted(new_app())
    at.switch_page("pages/train.py")
    run(at)
    at.number_input(key="sbn_lr").set_value(0.0085)
    run(at)
    at.switch_page("pages/compare.py")
    run(at)
    at = train(at, "SBN", sbn_layers="3", sbn_epochs=2, sbn_seconds=0)
    assert at.number_input(key="sbn_lr").value == 0.0085
    assert at.session_state["models"]["sbn-nvil-3"].model.learning_rate == 0.0085


def test_the_other_kinds_train_from_their_box():
    """"More models": each kind of the registry besides the SBN and LDA, with its own defaults."""
    at = upload_planted(new_app())
    at.switch_page("pages/train.py")
    run(at)
    labels = at.selectbox(key="bench_kind").options
    assert "Mixture of multinomials (EM)" in labels
    at.selectbox(key="bench_kind").set_value("Mixture of multinomials (EM)")
    run(at)
    at = train(at, "Mixture", bench_units_mixture=3, bench_epochs_mixture=4, bench_seconds_mixture=0)
    entry = at.session_state["models"]["mixture-3"]
    assert entry.model.n_units_ == 3 and entry.model.n_iter_ <= 4 and entry.kind_label == "Mixture"
    table = at.dataframe[-1].value
    assert list(table["kind"]) == ["Mixture"] and list(table["units"]) == [3]


def test_the_sbn_box_trains_fdarn_with_an_autoregressive_q():
    at = upload_planted(new_app())
    at.switch_page("pages/train.py")
    run(at)
    at.selectbox(key="sbn_prior_kind").set_value("Autoregressive (fDARN)")
    at.selectbox(key="sbn_inference").set_value("Autoregressive")
    run(at)
    at = train(at, "SBN", sbn_layers="3", sbn_epochs=2, sbn_seconds=0)
    model = at.session_state["models"]["fdarn-nvil-arq-3"].model
    assert (model.prior, model.inference, model.n_units_) == ("autoregressive", "autoregressive", 3)


def test_the_sbn_box_gives_q_mean_field_updates_and_refuses_them_where_undefined():
    at = upload_planted(new_app())
    at.switch_page("pages/train.py")
    run(at)
    at = train(at, "SBN", sbn_name="automatic", sbn_layers="3", sbn_epochs=2, sbn_seconds=0)
    assert at.selectbox(key="sbn_mean_field").value == "Automatic"
    automatic = at.session_state["models"]["automatic"]
    assert automatic.model.nets_.encoder.mean_field_steps == MEAN_FIELD_STEPS
    assert automatic.settings["mean_field_steps"] == MEAN_FIELD_STEPS  # the number, for the model's card
    # The training curve says which q it scores.
    assert any(f"adds its {MEAN_FIELD_STEPS} mean-field updates" in c.value for c in at.caption), [c.value for c in at.caption]
    at = train(at, "SBN", sbn_name="", sbn_layers="3", sbn_epochs=2, sbn_seconds=0, sbn_mean_field="3")
    model = at.session_state["models"]["sbn-nvil-3"].model
    assert (model.mean_field_steps, model.nets_.encoder.mean_field_steps) == (3, 3)
    # Two layers: a clear message on the page, nothing trained, the first model kept.
    at = train(at, "SBN", sbn_name="deep", sbn_layers="3, 2", sbn_epochs=2, sbn_seconds=0, sbn_mean_field="3")
    assert any("mean_field_steps needs a one-layer model" in e for e in errors(at)), errors(at)
    assert set(at.session_state["models"]) == {"automatic", "sbn-nvil-3"}


def test_the_sbn_box_trains_readable_units_by_default_and_the_paper_model_on_request():
    at = upload_planted(new_app())
    at.switch_page("pages/train.py")
    run(at)
    defaults = REGISTRY["sbn"].defaults()
    # The readable-unit fields start at the estimator's defaults, and a model trained from them has them.
    assert at.checkbox(key="sbn_nonnegative").value is defaults["nonnegative"] is True
    assert at.number_input(key="sbn_prior").value == defaults["prior_logit"] == -2.5
    assert at.number_input(key="sbn_l1").value == defaults["weight_l1"]
    assert at.number_input(key="sbn_coherence").value == defaults["coherence_weight"] == 5.0
    assert at.number_input(key="sbn_overlap").value == defaults["overlap_weight"] == 1000.0
    at = train(at, "SBN", sbn_name="readable", sbn_layers="3", sbn_epochs=2, sbn_seconds=0)
    readable = at.session_state["models"]["readable"]
    assert (readable.model.nonnegative, readable.model.prior_logit, readable.model.weight_l1) == (
        True, -2.5, defaults["weight_l1"])
    assert (readable.model.coherence_weight, readable.model.overlap_weight) == (5.0, 1000.0)
    assert (readable.settings["coherence_weight"], readable.settings["overlap_weight"]) == (5.0, 1000.0)
    assert readable.model.unit_word().min() >= 0.0
    assert (readable.settings["nonnegative"], readable.settings["prior_logit"]) == (True, -2.5)
    # The best-perplexity preset: the paper's model, whatever the fields below it say.
    at.checkbox(key="sbn_perplexity").check()
    run(at)
    at = train(at, "SBN", sbn_name="paper", sbn_layers="3", sbn_epochs=2, sbn_seconds=0)
    paper = at.session_state["models"]["paper"].model
    assert (paper.nonnegative, paper.prior_logit, paper.weight_l1, paper.coherence_weight, paper.overlap_weight) == (
        False, None, 0.0, 0.0, 0.0)
    assert paper.nets_.model.prior_logits.requires_grad
