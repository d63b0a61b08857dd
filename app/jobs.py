"""The app server's training jobs: a queue with a limit on how many train at once, one job at a
time per workspace, each job writing its own model into its workspace, and the recovery of
jobs that a stopped server left behind.

A job (:class:`WorkspaceJob`) is a :class:`app.runner.TrainingRun` whose data and record live in
its workspace (:mod:`docmodel.workspace.runs`): its status goes to disk as it changes, its
validation history every few seconds, and when ``fit`` returns the job itself writes the model
into the workspace, so a closed or reloaded tab loses nothing; a page only watches a job. The
:class:`Scheduler` is this process's registry of jobs, keyed by workspace id: a reloaded page
finds its workspace's job there and attaches to it (progress, live curve, cancel).

When the server is killed, its jobs' records still say queued or running, with an owner process
that is gone. :func:`recover`, run once when a server starts on the data directory, starts them
again: a queued job from the start; a running one whose estimator saves a resume state (the
SBN's ``fit(state_path=..., resume=True)``, as ``docmodel train --resume``) from its last saved
state, reaching the result the uninterrupted run would have; one of a kind without such state is
marked ``interrupted`` and the user is told to train it again. A sweep (:mod:`app.sweep_job`)
continues with the pairs it had not finished (its finished models are kept; it is marked
interrupted only when its corpus was replaced). No streamlit here: tests and other processes
drive jobs directly.
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
from dataclasses import dataclass, field

from app.runner import CANCELLED, DONE, FAILED, INTERRUPTED, QUEUED, RUNNING, TrainingRun
from corpora import CorpusError
from docmodel.workspace import DEFAULT_MAX_JOBS, Store, Workspace, WorkspaceError, runs
from docmodel.workspace.files import owner_alive, this_process

log = logging.getLogger(__name__)

PROGRESS_EVERY_SECONDS = 5.0  # how often a running job's history goes to disk
FORGET_AFTER_SECONDS = 3600.0  # a finished job leaves the registry (its model is on disk)


def resumable(estimator) -> bool:
    """Whether the estimator's ``fit`` saves a state to resume from (it takes ``state_path``)."""
    return "state_path" in inspect.signature(estimator.fit).parameters


def fit_options(estimator, ws: Workspace, run_id: str, resume: bool, state_every_seconds: float | None) -> dict:
    """``fit``'s keyword arguments for a job: interim validation points for the live curve, and the
    state to resume from, where the estimator takes them."""
    options = {"interim_validations": True} if "interim_validations" in inspect.signature(estimator.fit).parameters else {}
    if not resumable(estimator):
        return options
    options.update(state_path=runs.state_path(ws, run_id), resume=resume)
    if state_every_seconds is not None:  # else the estimator's own default
        options["state_every_seconds"] = float(state_every_seconds)
    return options


@dataclass
class WorkspaceJob(TrainingRun):
    """A training run of one workspace (see the module's docstring).

    Attributes
    ----------
    workspace : Workspace
    run_id : str
        Its folder under ``runs/``.
    note : str
        Shown with its progress (e.g. that it was resumed after a restart).
    model_name : str or None
        The name its model was kept under, once kept.
    """

    workspace: Workspace | None = None
    run_id: str = ""
    note: str = ""
    model_name: str | None = None
    scheduler: Scheduler | None = field(default=None, repr=False)
    _last_write: float = 0.0

    @property
    def workspace_id(self) -> str:
        return self.workspace.id

    def _write(self, **fields) -> None:
        try:
            runs.update_run(self.workspace, self.run_id, lambda r: r.update(fields))
        except (OSError, ValueError, WorkspaceError) as exc:  # a removed workspace; the job still ends
            log.warning("cannot write run %s of workspace %s...: %s", self.run_id, self.workspace.id[:6], exc)

    def record_progress(self, history) -> None:
        now = time.monotonic()
        if now - self._last_write >= PROGRESS_EVERY_SECONDS:
            self._last_write = now
            self._write(history=list(history))

    def finish(self, status: str, error: str) -> tuple[str, str]:
        """Keep the model (the best one so far when cancelled) in the workspace, then the final record."""
        self.X = self.X_val = None  # the job's copy of the counts is not needed any more
        progress = self.snapshot()
        done = {}
        if status in (DONE, CANCELLED):
            trained = getattr(self.estimator, "train_seconds_", progress.elapsed)
            epochs = getattr(self.estimator, "n_iter_", progress.epoch)
            settings = dict(self.settings, train_seconds=round(float(trained), 1), epochs=int(epochs))
            done = {"epochs": int(epochs), "train_seconds": round(float(trained), 1)}
            try:
                # Over the quota too: the quota was checked when the job started, and finished work is kept.
                self.model_name = self.workspace.add_model(self.name, self.estimator, settings, "trained",
                                                           run=self.run_id, check_quota=False)
            except Exception as exc:  # (a full disk, a removed workspace): the record must not say running
                self._write(status=FAILED, error=f"the trained model could not be written: {exc}", ended=time.time())
                raise
        self._write(status=status, error=error, history=list(progress.history), ended=time.time(),
                    model=self.model_name, **done)
        runs.drop_data(self.workspace, self.run_id)
        return status, error

    def ended(self) -> None:
        if self.scheduler is not None:
            self.scheduler.finished(self)


class Scheduler:
    """This process's training jobs: at most ``max_running`` train at once, the others wait in
    order; one live job per workspace; the latest job of each workspace is kept for its pages."""

    def __init__(self, max_running: int = DEFAULT_MAX_JOBS):
        self.max_running = max(1, int(max_running))
        self._lock = threading.RLock()
        self._queue: list[WorkspaceJob] = []
        self._running: list[WorkspaceJob] = []
        self._latest: dict[str, WorkspaceJob] = {}

    def configure(self, max_running: int) -> None:
        with self._lock:
            self.max_running = max(1, int(max_running))
            self._start_ready()

    def job_for(self, ws_id: str) -> WorkspaceJob | None:
        """The workspace's latest job in this process (live, or finished within the last hour)."""
        with self._lock:
            return self._latest.get(ws_id)

    def submit(self, job: WorkspaceJob) -> WorkspaceJob:
        """Queue ``job`` (it starts at once when fewer than ``max_running`` train)."""
        with self._lock:
            current = self._latest.get(job.workspace_id)
            if current is not None and not current.finished:
                raise CorpusError(f"{current.name} is still training in this workspace: wait for it or cancel it first")
            self._forget_old()
            job.scheduler = self
            self._latest[job.workspace_id] = job.queue()
            self._queue.append(job)
            self._start_ready()
        return job

    def position(self, job) -> tuple[int, int] | None:
        """``(k, n)``: the job is k-th of the n waiting; None when it is not waiting."""
        with self._lock:
            if job not in self._queue:
                return None
            return self._queue.index(job) + 1, len(self._queue)

    def counts(self) -> tuple[int, int]:
        """Jobs training and jobs waiting."""
        with self._lock:
            return len(self._running), len(self._queue)

    def live(self) -> list[WorkspaceJob]:
        """The jobs waiting and training now."""
        with self._lock:
            return [*self._queue, *self._running]

    def cancel(self, job: WorkspaceJob) -> None:
        """Take a waiting job out of the queue (nothing was trained), or ask a running one to stop
        at its next progress report, within a second or two for the minibatch models (its best
        model so far is kept)."""
        with self._lock:
            if job in self._queue:
                self._queue.remove(job)
                job._write(status=CANCELLED, error="", ended=time.time())
                runs.drop_data(job.workspace, job.run_id)
                job.end_unstarted(CANCELLED)
                return
        job.cancel()

    def finished(self, job: WorkspaceJob) -> None:
        with self._lock:
            self._running = [j for j in self._running if j is not job]
            self._start_ready()

    def _start_ready(self) -> None:
        while self._queue and len(self._running) < self.max_running:
            job = self._queue.pop(0)
            self._running.append(job)
            job._write(status=RUNNING, started=time.time(), owner=this_process())
            job.start()

    def _forget_old(self) -> None:
        now = time.perf_counter()
        for ws_id, job in list(self._latest.items()):
            if job.finished and job._ended is not None and now - job._ended > FORGET_AFTER_SECONDS:
                del self._latest[ws_id]


SCHEDULER = Scheduler()


def plain_size(*matrices) -> int:
    """Bytes of sparse matrices' arrays (an upper bound of their compressed files)."""
    return sum(m.data.nbytes + m.indices.nbytes + m.indptr.nbytes for m in matrices)


def new_job(ws: Workspace, *, name: str, estimator, X, X_val, vocabulary, settings: dict, max_epochs: int,
            max_seconds: float | None, state_every_seconds: float | None = None) -> WorkspaceJob:
    """Record a new job in ``ws`` (refused over the workspace's quota) and return it, unsubmitted."""
    ws.check_room(plain_size(X, X_val), f"Training {name}")
    params = runs.plain_params(estimator.get_params()) if hasattr(estimator, "get_params") else None
    words = vocabulary.words if vocabulary is not None else None
    record = runs.create_run(ws, name=name, kind=estimator.kind, params=params, settings=settings,
                             max_epochs=max_epochs, max_seconds=max_seconds, X=X, X_val=X_val, words=words)
    return WorkspaceJob(
        name=name, estimator=estimator, X=X, X_val=X_val, vocabulary=vocabulary, settings=settings,
        max_epochs=max_epochs, max_seconds=max_seconds, workspace=ws, run_id=record["id"],
        fit_options=fit_options(estimator, ws, record["id"], False, state_every_seconds),
    )


# ---- after a restart -------------------------------------------------------------------------
def _recover_sweep(ws: Workspace, record: dict, kept: list[str], scheduler: Scheduler, mark) -> str:
    """Continue a sweep from the pairs it finished; marked interrupted (finished models kept)
    when it cannot be (its corpus replaced or unreadable)."""
    from app.sweep_job import resume_sweep_job  # (it builds on this module)

    run_id, name = record["id"], record.get("name", "?")
    try:
        job = resume_sweep_job(ws, record)
    except (CorpusError, OSError, ValueError) as exc:
        some = f"the models it had finished are kept ({', '.join(kept)})" if kept else "no model had finished"
        mark(status=INTERRUPTED, models=kept,
             error=f"the server stopped during the sweep and it could not be continued ({exc}); {some}. "
                   "Run the sweep again for the others.")
        return f"{name}: interrupted"
    n_done, n_pairs = len(job.kept), len(job.sweep_settings.pairs())
    job.note = (f"Continued after the server restarted: {n_done} of {n_pairs} pairs were finished and are kept; "
                "the others are trained now.")
    runs.update_run(ws, run_id, lambda r: r.update(status=QUEUED, owner=this_process(), note=job.note,
                                                   resumes=int(r.get("resumes") or 0) + 1))
    scheduler.submit(job)
    return f"{name}: {job.note}"


def _rebuild(ws: Workspace, record: dict, resume: bool, state_every_seconds: float | None) -> WorkspaceJob:
    from corpora.vocabulary import Vocabulary
    from docmodel.models import REGISTRY

    kind, params = record.get("kind"), record.get("params")
    if kind not in REGISTRY or not isinstance(params, dict):
        raise WorkspaceError(f"its model kind {kind!r} or settings cannot be rebuilt")
    estimator = REGISTRY[kind].estimator()(**params)
    X, X_val, words = runs.load_data(ws, record["id"])
    job = WorkspaceJob(
        name=record["name"], estimator=estimator, X=X, X_val=X_val,
        vocabulary=Vocabulary(tuple(words)) if words is not None else None, settings=dict(record.get("settings") or {}),
        max_epochs=int(record.get("max_epochs") or 1), max_seconds=record.get("max_seconds"),
        workspace=ws, run_id=record["id"],
        fit_options=fit_options(estimator, ws, record["id"], resume, state_every_seconds),
    )
    job._history = [h for h in record.get("history") or [] if isinstance(h, dict)]
    return job


def recover(store: Store, scheduler: Scheduler = SCHEDULER, state_every_seconds: float | None = None) -> list[str]:
    """Take over the jobs a stopped server left queued or running in ``store`` (see the module's
    docstring); returns one line per job, for the log."""
    done = []
    for ws in store.workspaces():
        for record in runs.list_runs(ws):
            if record.get("status") not in (QUEUED, RUNNING) or owner_alive(record.get("owner")):
                continue
            try:
                done.append(_recover_one(ws, record, scheduler, state_every_seconds))
            except (OSError, ValueError, CorpusError) as exc:
                log.warning("cannot recover run %s of workspace %s...: %s", record.get("id"), ws.id[:6], exc)
    for line in done:
        log.info("%s", line)
    return done


def _recover_one(ws: Workspace, record: dict, scheduler: Scheduler, state_every_seconds: float | None) -> str:
    run_id, name = record["id"], record.get("name", "?")

    def mark(**fields):
        runs.update_run(ws, run_id, lambda r: r.update(fields, ended=time.time(), announced=False))
        runs.drop_data(ws, run_id)

    kept = [n for n, m in ws.models().items() if m.get("run") == run_id]
    if record.get("job") == runs.SWEEP:  # (app.sweep_job): its finished pairs' models are in the workspace
        return _recover_sweep(ws, record, kept, scheduler, mark)
    if kept:  # the model was written just before the server stopped
        mark(status=DONE, error="", model=kept[0])
        return f"{name}: finished before the server stopped"
    was_running = record.get("status") == RUNNING
    try:
        job = _rebuild(ws, record, resume=was_running, state_every_seconds=state_every_seconds)
    except (CorpusError, TypeError, ValueError) as exc:
        mark(status=INTERRUPTED if was_running else FAILED,
             error=f"the server stopped and the run could not be started again ({exc}); train it again")
        return f"{name}: could not be started again"
    if was_running and not resumable(job.estimator):
        mark(status=INTERRUPTED, error="the server stopped while it trained, and this kind of model keeps no "
                                       "state to resume from; train it again")
        return f"{name}: interrupted"
    if was_running:
        saved = runs.state_path(ws, run_id).exists()
        job.note = ("Resumed after the server restarted, from its last saved state." if saved else
                    "Started again after the server restarted (it had not saved a state to resume from yet).")
    else:
        job.note = "Queued again after the server restarted."
    runs.update_run(ws, run_id, lambda r: r.update(status=QUEUED, owner=this_process(), note=job.note,
                                                   resumes=int(r.get("resumes") or 0) + was_running))
    scheduler.submit(job)
    return f"{name}: {job.note}"
