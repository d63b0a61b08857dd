"""The Train page through Streamlit's AppTest: training an SBN and an LDA in the background on a
tiny planted corpus, cancelling a run, and the error paths a user can reach (bad settings, a
failed run, a duplicate name)."""

from __future__ import annotations

from tests.app.pages.apptest import TIMEOUT, errors, new_app, run, train, upload_planted


def test_train_both_models_in_the_background(trained):
    at = trained
    sbn = at.session_state["models"]["sbn-nvil-4"].model
    assert sbn.n_units_ == 4 and sbn.history_[-1]["epoch"] == 3
    table = at.dataframe[-1].value
    assert list(table["name"]) == ["sbn-nvil-4", "lda-batch-3"]
    assert set(table["fits this corpus"]) == {True}


def test_cancel_keeps_the_best_model_so_far():
    at = upload_planted(new_app())
    at.switch_page("pages/train.py")
    run(at)
    at.text_input(key="sbn_layers").set_value("3")
    at.number_input(key="sbn_epochs").set_value(10_000)
    at.number_input(key="sbn_seconds").set_value(0)
    at.number_input(key="sbn_patience").set_value(10_000)
    at.text_input(key="sbn_name").set_value("long-run")
    next(b for b in at.button if b.label == "Train SBN").click()
    run(at)
    assert at.session_state["training_run"].name == "long-run"
    at.button(key="cancel_training").click()
    run(at)
    at.session_state["training_run"].join(TIMEOUT)
    run(at)
    model = at.session_state["models"]["long-run"].model
    assert model.stopped_ == "cancelled" and len(model.history_) < 10_000
    assert any("cancelled: the best model so far was kept" in s.value for s in at.success)


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
