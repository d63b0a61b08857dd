"""Workspaces through Streamlit's AppTest: a session's corpus, models and figures come back from
the page's address (a reload, another tab, a restarted server); malformed, unknown and
path-traversing ids start a new workspace with a notice and reach nothing; the quota refuses a
corpus, a model and a training run with a clear message; a second job waits in the queue with
its position shown, and one can leave the queue. The store itself (ids, index, quota) is tested
on its own first. Recovery after a killed server is in ``test_workspace_recovery.py``."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from app import exports, resources
from docmodel.workspace import QuotaExceeded, Store, WorkspaceError, valid_id
from tests.app.pages.apptest import (
    MAIN,
    TIMEOUT,
    errors,
    new_app,
    planted_csv,
    run,
    shown,
    train,
    train_both,
    upload,
    upload_planted,
)

PARAM = "workspace"


def open_at(ws_id: str | None) -> AppTest:
    """A new browser session on the address ``?workspace=ws_id`` (as a reload or another tab)."""
    at = AppTest.from_file(MAIN, default_timeout=TIMEOUT)
    if ws_id is not None:
        at.query_params[PARAM] = ws_id
    return run(at)


def warnings(at: AppTest) -> list[str]:
    return [shown(w.value) for w in at.warning]


def sidebar_text(at: AppTest) -> str:
    """The sidebar's text (drawn by the router: only after a run of the main script, not of a
    page that AppTest switched to)."""
    return " ".join(shown(c.value) for c in at.sidebar.caption) + " ".join(m.value for m in at.sidebar.markdown)


# ---- the store on its own --------------------------------------------------------------------
@pytest.mark.parametrize("bad", ["../x", "..", ".", "a/b", "/etc/passwd", "", "x" * 21, "x" * 23, "abc.def_ghi-jkl.mno-pq",
                                 "..%2fxxxxxxxxxxxxxxxxxx", "AAAAAAAAAAAAAAAAAAAA\x00B", None, 22])
def test_malformed_ids_never_reach_a_path(tmp_path, bad):
    store = Store(tmp_path / "data")
    store.create()
    assert not valid_id(bad) and store.open(bad) is None
    with pytest.raises(WorkspaceError, match="not a workspace id"):
        store.path_of(bad)


def test_ids_are_unguessable_tokens_and_workspaces_are_private(tmp_path):
    store = Store(tmp_path / "data")
    a, b = store.create(), store.create()
    assert a.id != b.id and valid_id(a.id) and len(a.id) == 22
    assert store.ids() == sorted([a.id, b.id])
    assert store.open(a.id).path == a.path and store.open(a.id[:-1] + ("A" if a.id[-1] != "A" else "B")) is None
    mode = a.path.stat().st_mode & 0o777
    assert mode == 0o700, oct(mode)  # other local users cannot list it either


def test_the_quota_counts_what_a_workspace_holds(tmp_path):
    from corpora import Document
    from corpora.prepare import PrepareOptions, prepare

    texts = ["apple pear plum", "apple pear", "car van bus", "car bus van"]
    ds = prepare([Document(f"d{i}", t) for i, t in enumerate(texts)], options=PrepareOptions(min_df=1, test_fraction=0))
    roomy = Store(tmp_path / "a", quota_mb=10).create()
    roomy.save_corpus(ds, "fruit and cars")
    assert roomy.usage() > 1000
    tight = Store(tmp_path / "b", quota_mb=1000 / 2**20).create()
    with pytest.raises(QuotaExceeded, match=r"This corpus is refused: this workspace would hold .* over its quota of 1000 B"):
        tight.save_corpus(ds, "fruit and cars")
    assert tight.corpus_record() is None and tight.usage() < 1000  # nothing of it was left behind


# ---- a session's work comes back ---------------------------------------------------------------
@pytest.fixture(scope="module")
def worked() -> AppTest:
    """A session that uploaded the planted corpus, trained a tiny SBN and LDA and measured both."""
    at = train_both(upload_planted(new_app()))
    at.switch_page("pages/compare.py")
    run(at)
    assert set(at.session_state["evaluations"]) == {"sbn-nvil-4", "lda-batch-3"}
    return at


def test_reload_shows_the_same_corpus_models_and_figures(worked, app_data_dir, monkeypatch):
    ws_id = worked.query_params[PARAM]
    assert valid_id(ws_id)
    back = open_at(ws_id)  # a reload: a new session on the same address
    assert back.query_params[PARAM] == ws_id and warnings(back) == []
    assert back.session_state["dataset_name"] == "upload: planted.csv"
    before, after = worked.session_state["dataset"], back.session_state["dataset"]
    assert after.vocabulary == before.vocabulary and (after.train.X != before.train.X).nnz == 0
    assert after.train.labels == before.train.labels and after.test.doc_ids == before.test.doc_ids
    assert list(back.session_state["models"]) == ["sbn-nvil-4", "lda-batch-3"]
    for name, entry in back.session_state["models"].items():
        old = worked.session_state["models"][name]
        assert entry.settings == old.settings and entry.origin == "trained"
        np.testing.assert_allclose(entry.model.transform(after.test.X), old.model.transform(before.test.X), rtol=1e-5)
    for name, result in worked.session_state["evaluations"].items():
        kept = back.session_state["evaluations"][name]
        assert kept["figures"]["perplexity_bound"] == pytest.approx(result["figures"]["perplexity_bound"])
        np.testing.assert_array_equal(kept["per_document"]["doc_index"], result["per_document"]["doc_index"])
    assert "Bookmark this page's address" in sidebar_text(back)
    from app import measure

    def not_again(*args, **kwargs):
        raise AssertionError("measured again")

    monkeypatch.setattr(measure, "measure", not_again)  # the figures are read back, not measured again
    back.switch_page("pages/compare.py")
    run(back)
    assert errors(back) == [] and len(back.table) >= 1
    # Every file of the workspace is in the project's plain formats and readable.
    folder = app_data_dir / "workspaces" / ws_id
    index = json.loads((folder / "index.json").read_text())
    assert set(index["models"]) == {"sbn-nvil-4", "lda-batch-3"} and index["corpus"]["source"] == "saved"
    from corpora import Dataset
    from docmodel.checkpoint import load_model

    Dataset.load(folder / "corpus" / index["corpus"]["id"])
    for record in index["models"].values():
        load_model(folder / "models" / record["key"] / "model.pt")


def test_another_tab_of_the_workspace_sees_new_models_and_removals(worked):
    ws_id = worked.query_params[PARAM]
    tab = open_at(ws_id)
    train(worked, "LDA", lda_units=2, lda_iter=2, lda_seconds=0, lda_name="second-lda")
    run(tab)
    assert "second-lda" in tab.session_state["models"]
    tab.switch_page("pages/models.py")
    run(tab)
    tab.selectbox(key="models_pick").set_value("second-lda")
    run(tab)
    tab.button(key="remove_model").click()
    run(tab)
    run(worked)
    assert "second-lda" not in worked.session_state["models"] and "second-lda" not in open_at(ws_id).session_state["models"]


def test_other_workspaces_see_nothing_of_it(worked, app_data_dir):
    other = new_app()
    assert other.query_params[PARAM] != worked.query_params[PARAM]
    assert other.session_state["dataset_name"] == resources.DEMO_NAME and other.session_state["models"] == {}
    assert "planted" not in sidebar_text(other)


@pytest.mark.parametrize("bad", ["../x", "..", "../../etc", "x" * 40, "not valid!"])
def test_a_malformed_id_starts_a_new_workspace_with_a_notice(worked, app_data_dir, bad):
    before = set((app_data_dir / "workspaces").iterdir())
    at = open_at(bad)
    assert any("does not hold a valid workspace id" in w for w in warnings(at)), warnings(at)
    new_id = at.query_params[PARAM]
    assert valid_id(new_id) and new_id != worked.query_params[PARAM]
    assert at.session_state["models"] == {} and at.session_state["dataset_name"] == resources.DEMO_NAME
    created = set((app_data_dir / "workspaces").iterdir()) - before
    assert [p.name for p in created] == [new_id]  # nothing else, and nothing outside the workspaces folder
    assert not (app_data_dir / "x").exists() and not (app_data_dir.parent / "x").exists()


def test_an_unknown_id_starts_a_new_workspace_with_a_notice(worked):
    known = worked.query_params[PARAM]
    guess = known[:-1] + ("A" if known[-1] != "A" else "B")
    at = open_at(guess)
    assert any(f"There is no workspace {guess[:6]}... on this server" in w for w in warnings(at)), warnings(at)
    assert at.query_params[PARAM] not in (known, guess) and at.session_state["models"] == {}
    run(at)
    assert warnings(at) == []  # said once


# ---- limits ----------------------------------------------------------------------------------
def test_the_quota_refuses_a_corpus_a_model_and_training(monkeypatch):
    from docmodel.models.lda.estimator import LDATopicModel

    monkeypatch.setenv("DOCMODEL_APP_QUOTA_MB", "0.004")  # 4 KB: the demo's reference fits, little else
    at = new_app()
    assert "of 4.1 KB used" in sidebar_text(at)
    upload(at, ("planted.csv", planted_csv(), "text/csv"))
    at.button(key="prepare_upload").click()
    run(at)
    assert any("This corpus is refused: this workspace would hold" in e and "over its quota of 4.1 KB" in e
               for e in errors(at)), errors(at)
    assert at.session_state["dataset_name"] == resources.DEMO_NAME  # the corpus in use is kept

    ds = at.session_state["dataset"]
    model = LDATopicModel(n_units=2, max_iter=2).fit(ds.train.X, vocabulary=ds.vocabulary)
    at.switch_page("pages/models.py")
    run(at)
    at.file_uploader(key="model_upload").set_value(("mine.pt", exports.checkpoint_bytes(model), "application/octet-stream"))
    run(at)
    assert any("Model mine is refused: this workspace would hold" in e for e in errors(at)), errors(at)
    assert at.session_state["models"] == {}

    at.switch_page("pages/train.py")
    run(at)
    next(b for b in at.button if b.label == "Train LDA").click()
    run(at)
    assert any(e.startswith("Training lda-batch-") and "is refused: this workspace would hold" in e
               for e in errors(at)), errors(at)
    assert at.session_state["training_run"] is None


@pytest.fixture
def idle_scheduler():
    """The server's scheduler with no job of an earlier test still ending; every job started in
    the test is stopped afterwards, whatever happened (a 10,000-epoch run left going would take
    the only slot, and the CPU, from the tests after it)."""
    from app.jobs import SCHEDULER

    deadline = time.monotonic() + TIMEOUT
    while SCHEDULER.counts() != (0, 0) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert SCHEDULER.counts() == (0, 0), "jobs of an earlier test are still training"
    yield SCHEDULER
    left = SCHEDULER.live()
    for job in left:
        SCHEDULER.cancel(job)
    for job in left:
        job.join(TIMEOUT)


def test_jobs_beyond_the_limit_wait_in_a_queue(monkeypatch, idle_scheduler):
    SCHEDULER = idle_scheduler
    monkeypatch.setenv("DOCMODEL_APP_MAX_JOBS", "1")
    a, b, c = new_app(), new_app(), new_app()
    train_a = {"sbn_layers": "3", "sbn_epochs": 10_000, "sbn_seconds": 0, "sbn_patience": 10_000}
    start(a, "Train SBN", **train_a)
    assert a.session_state["training_run"].snapshot().status == "running"
    start(b, "Train LDA", lda_units=2, lda_iter=2, lda_seconds=0)
    start(c, "Train LDA", lda_units=3, lda_iter=2, lda_seconds=0)
    job_b, job_c = b.session_state["training_run"], c.session_state["training_run"]
    assert job_b.snapshot().status == job_c.snapshot().status == "queued"
    run(c)
    assert any("Waiting for its turn: number 2 of 2 in the queue (this server trains 1 model(s) at once)" in shown(i.value)
               for i in c.info), [i.value for i in c.info]
    assert "waits to train: number 2 of 2 in the queue" in sidebar_text(open_at(c.query_params[PARAM]))
    c.button(key="cancel_training").click()  # leaves the queue
    run(c)
    assert job_c.finished and SCHEDULER.position(job_b) == (1, 1)
    assert any("Training lda-batch-3 was cancelled before it started" in shown(i.value) for i in c.info)
    assert c.session_state["models"] == {}
    run(b)
    assert any("number 1 of 1 in the queue" in shown(i.value) for i in b.info)
    a.button(key="cancel_training").click()  # the running job stops; the queued one starts
    run(a)
    a.session_state["training_run"].join(TIMEOUT)
    job_b.join(TIMEOUT)
    run(a)
    run(b)
    assert list(a.session_state["models"]) == ["sbn-nvil-3"] and list(b.session_state["models"]) == ["lda-batch-2"]
    assert any("Model **lda-batch-2** is trained" in shown(s.value) for s in b.success)


def start(at: AppTest, button: str, **fields) -> AppTest:
    """Set the Train page's ``fields`` and press ``button``, without waiting for the run."""
    at.switch_page("pages/train.py")
    run(at)
    for key, value in fields.items():
        (at.text_input(key=key) if key == "sbn_layers" else at.number_input(key=key)).set_value(value)
    next(b for b in at.button if b.label == button).click()
    return run(at)


def test_a_workspace_removed_by_the_operator_gives_way_to_a_new_one(app_data_dir):
    from docmodel.workspace import remove

    at = new_app()
    ws_id = at.query_params[PARAM]
    remove(Store(app_data_dir), ws_id)  # docmodel workspaces remove, while the page is open
    run(at)
    assert any("The workspace you were using was removed from this server" in w for w in warnings(at)), warnings(at)
    assert valid_id(at.query_params[PARAM]) and at.query_params[PARAM] != ws_id
    assert at.session_state["dataset_name"] == resources.DEMO_NAME


def test_an_unreadable_index_is_reported_and_left_for_the_operator(app_data_dir):
    at = new_app()
    ws_id = at.query_params[PARAM]
    index = app_data_dir / "workspaces" / ws_id / "index.json"
    index.write_text("{ not json")
    back = open_at(ws_id)
    assert any(f"the index of workspace {ws_id[:6]}... cannot be read" in e and "This is a new workspace" in e
               for e in errors(back)), errors(back)
    assert back.query_params[PARAM] != ws_id and index.read_text() == "{ not json"
