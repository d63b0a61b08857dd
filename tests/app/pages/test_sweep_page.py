"""The sweep over the number of units from the Train page (AppTest, the tiny planted corpus): it
runs in the background, adds each pair's model to the workspace where Compare and Explore find
it, and shows its table, chart and reading; bad settings are refused with one sentence; cancel
keeps the finished models; a server stopped mid-sweep continues it after the restart with the
missing pairs (or, its corpus replaced, leaves it interrupted with its finished models kept)."""

from __future__ import annotations

import math
import subprocess
import sys
import threading
import time

import pytest

from app.jobs import Scheduler, recover
from app.sweep_job import announcement
from docmodel import sweep as sweeps
from docmodel.workspace import Store, runs
from docmodel.workspace.files import this_process
from tests.app.pages.apptest import TIMEOUT, errors, new_app, run, shown, upload_planted

LDA, SBN = "LDA (scikit-learn, batch VB)", "SBN (NVIL)"


def start_sweep(at, *, sizes: str, seconds: int = 2, models=("sbn_nvil", "lda")):
    """Fill the sweep box on the Train page and press Run sweep (nothing waited for)."""
    at.switch_page("pages/train.py")
    run(at)
    at.multiselect(key="sweep_models").set_value(list(models))
    at.text_input(key="sweep_sizes").set_value(sizes)
    at.number_input(key="sweep_seconds").set_value(seconds)
    at.button(key="run_sweep").click()
    return run(at)


def finish(at):
    job = at.session_state["training_run"]
    if job is not None:
        job.join(TIMEOUT)
    return run(at)


def sweep_table(at):
    return next(d.value for d in at.dataframe if "model in this workspace" in d.value.columns)


@pytest.fixture(scope="module")
def swept():
    at = upload_planted(new_app())
    return finish(start_sweep(at, sizes="3, 2"))


def test_a_sweep_keeps_each_model_and_shows_its_table(swept):
    at = swept
    names = ["sweep-sbn_nvil-2", "sweep-lda-2", "sweep-sbn_nvil-3", "sweep-lda-3"]  # sizes in increasing order
    assert list(at.session_state["models"]) == names, errors(at)
    assert at.session_state["models"]["sweep-lda-3"].model.n_units_ == 3
    assert any(shown(s.value).startswith("The sweep is finished: 4 models (sweep-sbn_nvil-2, sweep-lda-2, "
                                         "sweep-sbn_nvil-3, sweep-lda-3) added") for s in at.success), at.success
    table = sweep_table(at)
    assert list(zip(table["model"], table["units"], table["model in this workspace"])) == [
        (SBN, 2, "sweep-sbn_nvil-2"), (SBN, 3, "sweep-sbn_nvil-3"), (LDA, 2, "sweep-lda-2"), (LDA, 3, "sweep-lda-3")]
    assert "label acc." in table.columns  # (n/a here: 12 test documents are too few for its 5-fold CV)
    for column in ("val bound", "test bound", "test IS", "test completion", "NPMI", "diversity"):
        assert all(v is not None and math.isfinite(v) for v in table[column]), (column, table.to_dict("records"))
    assert all(0 < v <= 1 for v in table["diversity"])
    # The table holds the figures the sweep kept in the workspace, measured as `docmodel sweep` measures.
    kept = at.session_state["workspace"].sweep()
    assert [(p["model"], p["n_units"]) for p in kept["pairs"]] == [("sbn_nvil", 2), ("lda", 2), ("sbn_nvil", 3), ("lda", 3)]
    lda_3 = kept["pairs"][3]["figures"]
    assert table["test bound"].iloc[3] == lda_3["perplexity_bound"] and table["NPMI"].iloc[3] == lda_3["npmi"]
    assert any("the best validation bound is at" in m.value for m in at.markdown)
    assert any("best validation perplexity (bound)" in c.proto.spec for c in at.get("vega_lite_chart"))


def test_compare_lists_the_sweep_and_explore_opens_one(swept):
    at = swept
    at.switch_page("pages/compare.py")
    run(at)
    options = at.multiselect(key="compare_models").options
    assert {"sweep-sbn_nvil-2", "sweep-lda-2", "sweep-sbn_nvil-3", "sweep-lda-3"} <= set(options)
    at.switch_page("pages/train.py")
    run(at)
    at.selectbox(key="sweep_open_model").set_value("sweep-lda-3")
    at.button(key="sweep_explore").click()
    run(at)
    assert at.selectbox(key="explore_model").value == "sweep-lda-3"


@pytest.mark.parametrize(("sizes", "message"), [
    ("10, ten", "Sizes must be whole numbers from 1 to 2000 separated by commas, such as 10, 20, 50; got '10, ten'."),
    ("0", "got '0'."),
    ("", "got ''."),
    ("5000", "from 1 to 2000"),
    ("10, 20, 10", "Each size may be given only once; '10, 20, 10' repeats 10."),
])
def test_bad_sizes_are_refused_with_one_sentence(sizes, message):
    at = start_sweep(new_app(), sizes=sizes)
    assert any(message in e for e in errors(at)), errors(at)
    assert at.session_state["training_run"] is None


def test_a_sweep_needs_models_and_a_test_split():
    at = start_sweep(new_app(), sizes="2", models=())
    assert "Choose at least one model for the sweep." in errors(at)
    at = new_app()
    at.slider(key="opt_test_fraction").set_value(0.0)
    run(at)
    at = upload_planted(at)
    at = start_sweep(at, sizes="2")
    assert ("A sweep measures every model on the test split, and this corpus has none: prepare it again on the "
            "Corpus page with a test fraction above 0.") in errors(at)
    assert at.session_state["training_run"] is None


def test_cancel_keeps_the_models_already_finished(monkeypatch):
    """LDA at 2 topics finishes; the SBN after it is held at its first progress report until
    Cancel is pressed: it is dropped, LDA's model stays."""
    reached, original = threading.Event(), sweeps.train_pair

    def held_sbn(dataset, data, settings, name, n_units, callback=None):
        def held(metrics):
            reached.set()
            deadline = time.monotonic() + TIMEOUT
            while not callback(metrics) and time.monotonic() < deadline:
                time.sleep(0.02)
            return True

        return original(dataset, data, settings, name, n_units, callback=held if name == "sbn_nvil" else callback)

    monkeypatch.setattr(sweeps, "train_pair", held_sbn)
    at = start_sweep(upload_planted(new_app()), sizes="2", seconds=600, models=("lda", "sbn_nvil"))
    assert reached.wait(TIMEOUT)
    run(at)
    assert any("Pair 2 of 2: **SBN (NVIL)** with 2 units" in shown(m.value) for m in at.markdown)
    at.button(key="cancel_training").click()
    at = finish(run(at))
    assert list(at.session_state["models"]) == ["sweep-lda-2"]
    assert any(shown(i.value) == "The sweep was cancelled. The 1 model (sweep-lda-2) it had finished is kept."
               for i in at.info), at.info
    assert list(sweep_table(at)["model in this workspace"]) == ["sweep-lda-2"]


def test_a_failed_pair_ends_the_sweep_with_its_message_and_keeps_the_others(monkeypatch):
    from docmodel.errors import ModelError

    original = sweeps.train_pair

    def failing_sbn(dataset, data, settings, name, n_units, callback=None):
        if name == "sbn_nvil":
            raise ModelError("the learning rate exploded")
        return original(dataset, data, settings, name, n_units, callback=callback)

    monkeypatch.setattr(sweeps, "train_pair", failing_sbn)
    at = finish(start_sweep(upload_planted(new_app()), sizes="2", models=("lda", "sbn_nvil")))
    assert ("The sweep failed: SBN (NVIL) with 2 units: the learning rate exploded. The 1 model (sweep-lda-2) it "
            "had finished is kept.") in errors(at)
    assert list(at.session_state["models"]) == ["sweep-lda-2"]


class ServerStopped(Exception):
    """Stands for the server process dying mid-sweep."""


def cut_short_sweep(ws, dataset, monkeypatch, *, stop_at: int):
    """Run a sweep of LDA at 2 and 3 topics in this thread until the pair with ``stop_at``
    topics, which "dies" with the server; leave its record running under an owner that is gone,
    as a killed server leaves it."""
    from app.sweep_job import new_sweep_job
    from docmodel.compare import CompareSettings

    original = sweeps.train_pair

    def dying(dataset, data, settings, name, n_units, callback=None):
        if n_units == stop_at:
            raise ServerStopped
        return original(dataset, data, settings, name, n_units, callback=callback)

    settings = sweeps.SweepSettings(units=(2, 3), compare=CompareSettings(models=("lda",), max_minutes=0.05))
    job = new_sweep_job(ws, dataset, settings)
    monkeypatch.setattr(sweeps, "train_pair", dying)
    with pytest.raises(ServerStopped):
        job.train()
    monkeypatch.setattr(sweeps, "train_pair", original)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    owner = dict(this_process(), pid=int(gone.stdout), boot="a boot before this one", start=None)
    runs.update_run(ws, job.run_id, lambda r: r.update(status="running", owner=owner))
    return job.run_id, settings


def test_a_sweep_cut_short_by_the_server_continues_with_the_missing_pairs(tmp_path, monkeypatch):
    """The pair at 2 topics finished before the server died; after the restart only the pair at
    3 is trained, and the sweep ends with both, measured as an uninterrupted sweep measures."""
    from tests.docmodel.test_compare import planted_dataset

    store = Store(tmp_path)
    ws = store.create()
    dataset = planted_dataset()
    ws.save_corpus(dataset, "planted")
    run_id, settings = cut_short_sweep(ws, dataset, monkeypatch, stop_at=3)
    assert list(ws.models()) == ["sweep-lda-2"] and len(ws.sweep()["pairs"]) == 1
    first = ws.sweep()["pairs"][0]
    trained = []
    original = sweeps.train_pair

    def watched(dataset, data, settings, name, n_units, callback=None):
        trained.append((name, n_units))
        return original(dataset, data, settings, name, n_units, callback=callback)

    monkeypatch.setattr(sweeps, "train_pair", watched)
    scheduler = Scheduler()
    note = ("Continued after the server restarted: 1 of 2 pairs were finished and are kept; the others are "
            "trained now.")
    assert recover(store, scheduler) == [f"sweep over 2, 3 units: {note}"]
    job = scheduler.job_for(ws.id)
    assert job.note == note
    job.join(TIMEOUT)
    after = runs.read_run(ws, run_id)
    assert after["status"] == "done", after
    assert after["models"] == ["sweep-lda-2", "sweep-lda-3"] and list(ws.models()) == ["sweep-lda-2", "sweep-lda-3"]
    assert trained == [("lda", 3)]  # the finished pair is not trained again
    sweep = ws.sweep()
    assert [(p["model"], p["n_units"], p["workspace_model"]) for p in sweep["pairs"]] == [
        ("lda", 2, "sweep-lda-2"), ("lda", 3, "sweep-lda-3")]
    assert sweep["pairs"][0] == first and sweep["settings"] == json_settings(settings)
    kind, text = announcement(after)
    assert kind == "success" and shown(text).startswith("The sweep is finished: 2 models (sweep-lda-2, sweep-lda-3) added")


def json_settings(settings):
    import json

    return json.loads(json.dumps(settings.to_dict()))


def test_a_sweep_whose_corpus_was_replaced_is_interrupted_with_its_models_kept(tmp_path, monkeypatch):
    from tests.docmodel.test_compare import planted_dataset

    store = Store(tmp_path)
    ws = store.create()
    dataset = planted_dataset()
    ws.save_corpus(dataset, "planted")
    run_id, _ = cut_short_sweep(ws, dataset, monkeypatch, stop_at=3)
    ws.save_corpus(planted_dataset(seed=1), "other")  # (the Corpus page keeps the models)
    assert recover(store, Scheduler()) == ["sweep over 2, 3 units: interrupted"]
    after = runs.read_run(ws, run_id)
    assert after["status"] == "interrupted" and after["models"] == ["sweep-lda-2"]
    kind, text = announcement(after)
    assert kind == "warning" and shown(text) == (
        "The sweep was interrupted: the server stopped during the sweep and it could not be continued (the "
        "workspace's corpus is not the one the sweep began with); the models it had finished are kept "
        "(sweep-lda-2). Run the sweep again for the others.")
