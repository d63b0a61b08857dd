"""Training jobs that outlive their page and their server.

The job registry on its own (a gated fake estimator): a job writes its model into its workspace
with no page watching, waits in the queue beyond the limit, and leaves the queue when cancelled.
Then a server killed mid-training: ``tests/app/workspace_driver.py`` stands in for the server,
starts an SBN job and is SIGKILLed once the job has saved a resume state; the app started again
on the same data directory (AppTest) resumes the run, shows it on the Train page, and keeps its
model; every file of the workspace is readable. A run of a kind that keeps no resume state is
marked interrupted and the user told so; a queued one is queued again.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from streamlit.testing.v1 import AppTest

from app.jobs import Scheduler, new_job, recover
from docmodel.workspace import Store, runs
from docmodel.workspace.files import this_process
from tests.app.pages.apptest import MAIN, TIMEOUT, run, shown
from tests.conftest import ROOT

PARAM = "workspace"


class GatedEstimator:
    """Calls the callback once per epoch after its gate opens; saves a small file as its model."""

    kind = "fake"

    def __init__(self, epochs: int = 3):
        self.epochs, self.gate, self.n_units_ = epochs, threading.Semaphore(0), 2

    def fit(self, X, *, vocabulary=None, X_val=None, callback=None):
        for epoch in range(1, self.epochs + 1):
            assert self.gate.acquire(timeout=20)
            if callback({"epoch": epoch, "seconds": 0.1 * epoch, "val_perplexity_bound": 10.0 / epoch}):
                break
        return self

    def save(self, path):
        Path(path).mkdir(parents=True, exist_ok=True)
        (Path(path) / "model.pt").write_bytes(b"fake")


def fake_job(ws, name: str):
    X = sp.csr_matrix(np.ones((4, 3)))
    return new_job(ws, name=name, estimator=GatedEstimator(), X=X, X_val=X, vocabulary=None, settings={"n": name},
                   max_epochs=3, max_seconds=None)


def test_a_job_keeps_its_model_with_no_page_watching(tmp_path):
    store, scheduler = Store(tmp_path), Scheduler(max_running=1)
    ws = store.create()
    job = scheduler.submit(fake_job(ws, "m"))
    assert runs.read_run(ws, job.run_id)["status"] == "running" and scheduler.job_for(ws.id) is job
    job.estimator.gate.release(3)
    job.join(20)
    record = ws.models()["m"]
    assert record["origin"] == "trained" and record["run"] == job.run_id and record["settings"]["epochs"] == 3
    assert (ws.model_folder(record) / "model.pt").read_bytes() == b"fake"
    kept = runs.read_run(ws, job.run_id)
    assert kept["status"] == "done" and kept["model"] == "m" and len(kept["history"]) == 3
    assert sorted(p.name for p in runs.run_folder(ws, job.run_id).iterdir()) == ["run.json"]  # data dropped


def test_the_queue_keeps_order_and_one_job_per_workspace(tmp_path):
    store, scheduler = Store(tmp_path), Scheduler(max_running=1)
    a, b, c = store.create(), store.create(), store.create()
    first = scheduler.submit(fake_job(a, "a"))
    second, third = scheduler.submit(fake_job(b, "b")), scheduler.submit(fake_job(c, "c"))
    assert scheduler.counts() == (1, 2)
    assert scheduler.position(second) == (1, 2) and scheduler.position(third) == (2, 2) and scheduler.position(first) is None
    with pytest.raises(Exception, match="a is still training in this workspace"):
        scheduler.submit(fake_job(a, "again"))
    scheduler.cancel(second)  # leaves the queue; nothing trained
    assert second.finished and second.snapshot().status == "cancelled" and b.models() == {}
    assert runs.read_run(b, second.run_id)["status"] == "cancelled" and scheduler.position(third) == (1, 1)
    first.estimator.gate.release(3)
    first.join(20)
    deadline = time.monotonic() + 20  # the next job starts when the first has ended
    while third.snapshot().status == "queued" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert third.snapshot().status == "running"
    scheduler.cancel(third)
    third.estimator.gate.release(3)
    third.join(20)
    assert third.snapshot().status == "cancelled" and list(c.models()) == ["c"]  # the best so far is kept


# ---- a server killed mid-training -----------------------------------------------------------
def readable(folder: Path) -> list[str]:
    """Every file under ``folder`` read back in its format; returns their names."""
    from corpora import Dataset
    from docmodel.checkpoint import load_model

    names = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.name == ".lock":
            continue
        names.append(path.name)
        if path.name == "meta.json":
            Dataset.load(path.parent)
        elif path.suffix == ".json":
            json.loads(path.read_text())
        elif path.name == "model.pt":
            load_model(path)
        elif path.suffix == ".pt":
            torch.load(path, weights_only=True)
        elif path.suffix == ".npz":
            sp.load_npz(path)
        elif path.suffix == ".parquet":
            pd.read_parquet(path)
        else:
            path.read_text(encoding="utf-8")
    return names


def kill_mid_training(data: Path, seconds: float) -> tuple[str, str, int]:
    """Start the driver, SIGKILL it once its job has saved a resume state; (workspace, run, epoch saved)."""
    proc = subprocess.Popen([sys.executable, "-m", "tests.app.workspace_driver", str(data), str(seconds)],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        ws_id, run_id = proc.stdout.readline().split()
        state = data / "workspaces" / ws_id / "runs" / run_id / runs.STATE_FILE
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if state.exists() and torch.load(state, weights_only=True)["run"]["epoch"] >= 2:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the job ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    return ws_id, run_id, torch.load(state, weights_only=True)["run"]["epoch"]


def app_on(data: Path, ws_id: str, monkeypatch) -> AppTest:
    """The app started again on ``data`` (a new data directory for this process: it recovers
    the jobs left there) and opened at the workspace's address."""
    monkeypatch.setenv("DOCMODEL_DATA_DIR", str(data))
    at = AppTest.from_file(MAIN, default_timeout=TIMEOUT)
    at.query_params[PARAM] = ws_id
    return run(at)


def test_a_killed_server_s_run_is_resumed_and_its_model_kept(tmp_path, monkeypatch):
    data = tmp_path / "data"
    ws_id, run_id, saved_epoch = kill_mid_training(data, seconds=6.0)
    record = json.loads((data / "workspaces" / ws_id / "runs" / run_id / "run.json").read_text())
    assert record["status"] == "running" and record["owner"]["pid"] != os.getpid()
    readable(data / "workspaces" / ws_id)  # nothing half written by the kill

    at = app_on(data, ws_id, monkeypatch)
    job = at.session_state["training_run"]
    assert job is not None and job.run_id == run_id and job.name == "long-sbn"
    assert job.note == "Resumed after the server restarted, from its last saved state."
    at.switch_page("pages/train.py")
    run(at)
    assert any("Resumed after the server restarted" in shown(c.value) for c in at.caption)
    job.join(TIMEOUT)
    run(at)
    model = at.session_state["models"]["long-sbn"].model
    assert any("Model **long-sbn** is trained" in shown(s.value) for s in at.success)
    assert model.stopped_ == "time_budget" and model.history_[-1]["epoch"] > saved_epoch
    assert model.train_seconds_ >= 6.0  # the budget counts the time before the kill too
    assert np.isfinite(model.best_val_perplexity_bound_)
    files = readable(data / "workspaces" / ws_id)
    assert "model.pt" in files and "index.json" in files and runs.STATE_FILE not in files
    assert runs.list_runs(Store(data).open(ws_id)) == []  # told once, then cleared


def write_stale_run(ws, *, kind: str, params: dict, status: str) -> str:
    """A run record as a killed server leaves it: queued or running, its owner gone."""
    X = sp.csr_matrix(np.random.default_rng(0).poisson(1.0, (30, 8)).astype(float))
    record = runs.create_run(ws, name=f"{kind}-{status}", kind=kind, params=params, settings={"kind": kind},
                             max_epochs=3, max_seconds=None, X=X[:24], X_val=X[24:], words=[f"w{i}" for i in range(8)])
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    owner = dict(this_process(), pid=int(gone.stdout), boot="a boot before this one", start=None)
    runs.update_run(ws, record["id"], lambda r: r.update(status=status, owner=owner))
    return record["id"]


def test_runs_without_resume_state_are_interrupted_and_queued_ones_start_again(tmp_path, monkeypatch):
    from docmodel.models.lda.estimator import LDATopicModel

    data = tmp_path / "data"
    store = Store(data)
    ws = store.create()
    params = LDATopicModel(n_units=2, max_iter=3).get_params()
    write_stale_run(ws, kind="lda", params=params, status="running")
    other = store.create()
    queued = write_stale_run(other, kind="lda", params=params, status="queued")

    at = app_on(data, ws.id, monkeypatch)
    assert any("Training lda-running was interrupted: the server stopped while it trained, and this kind of model "
               "keeps no state to resume from; train it again" in shown(w.value) for w in at.warning), at.warning
    assert at.session_state["models"] == {} and runs.list_runs(ws) == []

    back = app_on(data, other.id, monkeypatch)
    job = back.session_state["training_run"]
    assert job is not None and job.run_id == queued and job.note == "Queued again after the server restarted."
    job.join(TIMEOUT)
    run(back)
    assert list(back.session_state["models"]) == ["lda-queued"]


def test_recovery_leaves_live_runs_alone(tmp_path):
    store = Store(tmp_path)
    ws = store.create()
    X = sp.csr_matrix(np.ones((4, 3)))
    record = runs.create_run(ws, name="mine", kind="lda", params={}, settings={}, max_epochs=1, max_seconds=None,
                             X=X, X_val=X, words=None)  # owned by this (live) process
    assert recover(store, Scheduler()) == [] and runs.read_run(ws, record["id"])["status"] == "queued"
