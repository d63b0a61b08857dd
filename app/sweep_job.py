"""The app's sweep over the number of units: ``docmodel sweep`` as a background job of a
workspace (docs/sweep.md).

A :class:`SweepJob` trains every (model, size) pair of a :class:`docmodel.sweep.SweepSettings`
one after another in its thread, each with :func:`docmodel.sweep.train_pair` and measured with
:func:`docmodel.sweep.measure_pair`, the very functions of the command, and writes each pair's
model into the workspace as soon as it is measured (``sweep-<model>-<size>``), so Compare and
Explore can open it while the others train. The sweep so far, in ``sweep.json``'s form, goes to
the workspace after every pair (:meth:`docmodel.workspace.Workspace.save_sweep`).

It goes through the :class:`app.jobs.Scheduler` like a training job: a place in the queue, one
live job per workspace, cancel. Cancelling stops the current model at its next progress report;
that model is dropped (cut short and not measured, it would distort the table), the finished
ones are kept. A server stopped mid-sweep leaves the finished pairs' models and the sweep so
far; when it starts again, :func:`app.jobs.recover` continues the sweep (:func:`resume_sweep_job`:
the workspace's corpus read again, checked by its fingerprint, and only the unfinished pairs
trained), or marks it interrupted, its finished models kept, when the corpus was replaced. No
streamlit here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from app.jobs import WorkspaceJob
from app.runner import CANCELLED, DONE, INTERRUPTED
from app.text_view import markdown_escape
from corpora import CorpusError
from docmodel import sweep as sweeps
from docmodel.compare import MODEL_LABELS
from docmodel.errors import ModelError
from docmodel.workspace import Workspace, runs

TRAINING, MEASURING = "training", "measuring"


def model_name(name: str, n_units: int) -> str:
    """The name a pair's model is kept under in the workspace (``-2``... added when taken)."""
    return f"sweep-{name}-{n_units}"


@dataclass(frozen=True)
class SweepProgress:
    """Where a sweep stands.

    Attributes
    ----------
    index, n_pairs : int
        The current pair is the ``index``-th (from 1) of ``n_pairs``; 0 before the first.
    model : str or None
        The current pair's model (a name of :data:`docmodel.models.VARIANTS`) and its size.
    n_units : int or None
    phase : str
        :data:`TRAINING` or :data:`MEASURING` the current pair ("" before the first).
    sweep : dict
        The sweep so far (``sweep.json``'s form; empty before the job starts): its ``pairs``
        are the finished ones, each with ``workspace_model``, the name its model is kept under.
    """

    index: int
    n_pairs: int
    model: str | None
    n_units: int | None
    phase: str
    sweep: dict

    @property
    def label(self) -> str:
        return MODEL_LABELS.get(self.model, self.model or "")


@dataclass
class SweepJob(WorkspaceJob):
    """A sweep of one workspace (see the module's docstring); ``estimator``, ``X`` and ``X_val``
    are None: each pair builds its own estimator on ``data``."""

    dataset: object = None
    sweep_settings: sweeps.SweepSettings | None = None
    data: sweeps.SweepData | None = None
    _sweep: dict = field(default_factory=dict, repr=False)
    _kept: list = field(default_factory=list, repr=False)
    _pair: tuple = (0, None, None)
    _phase: str = ""

    def sweep_progress(self) -> SweepProgress:
        with self._lock:
            sweep = dict(self._sweep, pairs=list(self._sweep.get("pairs", [])))
            index, name, n_units = self._pair
            return SweepProgress(index, len(self.sweep_settings.pairs()), name, n_units, self._phase, sweep)

    @property
    def kept(self) -> list[str]:
        """The names of the models it has written into the workspace so far."""
        with self._lock:
            return list(self._kept)

    def _begin(self, index: int, name: str, n_units: int) -> None:
        with self._lock:  # the progress shown is the current model's
            self._pair, self._phase = (index, name, n_units), TRAINING
            self._history, self._latest, self._fraction = [], {}, 0.0

    def train(self) -> None:
        settings = self.sweep_settings
        with self._lock:  # a resumed sweep (resume_sweep_job) starts with its finished pairs
            self._sweep = self._sweep or sweeps.new_sweep(self.dataset, settings, self.data)
            done = {(pair["model"], pair["n_units"]) for pair in self._sweep["pairs"]}
            sweep = dict(self._sweep, pairs=list(self._sweep["pairs"]))
        self.workspace.save_sweep(sweep)  # replaces the workspace's previous sweep
        for index, (name, n_units) in enumerate(settings.pairs(), start=1):
            if self._cancel.is_set():
                return
            if (name, n_units) in done:
                continue
            self._begin(index, name, n_units)
            try:
                model = sweeps.train_pair(self.dataset, self.data, settings, name, n_units, callback=self._callback)
                if self._cancel.is_set():
                    return  # cut short: neither measured nor kept
                with self._lock:
                    self._phase = MEASURING
                pair = sweeps.measure_pair(self.dataset, settings, name, n_units, model)
                pair["workspace_model"] = self.workspace.add_model(
                    model_name(name, n_units), model, self._model_settings(pair), "trained", run=self.run_id)
            except CorpusError as exc:  # (the quota, say): the message says which pair
                raise CorpusError(f"{MODEL_LABELS.get(name, name)} with {n_units} units: {exc}") from exc
            with self._lock:
                self._sweep["pairs"].append(pair)
                self._kept.append(pair["workspace_model"])
                sweep = dict(self._sweep, pairs=list(self._sweep["pairs"]))
            self.workspace.save_sweep(sweep)
            self._write(models=self.kept)

    def _model_settings(self, pair: dict) -> dict:
        figures, corpus = pair["figures"], self._sweep["corpus"]
        return {
            "kind": figures["kind"], "algorithm": f"sweep ({pair['model']})", "variant": pair["model"],
            "n_units": pair["n_units"], "max_seconds": pair["budget_seconds"], "seed": self.sweep_settings.compare.seed,
            "n_train_docs": corpus["n_docs_train"], "n_val_docs": corpus["n_docs_val"],
            "train_seconds": round(figures["train_seconds"], 1), "epochs": figures["epochs"], "sweep": self.run_id,
        }

    def finish(self, status: str, error: str) -> tuple[str, str]:
        """The models are in the workspace already: only the final record."""
        self.dataset = self.data = None
        self._write(status=status, error=error, history=[], ended=time.time(), models=self.kept)
        return status, error


def new_sweep_job(ws: Workspace, dataset, settings: sweeps.SweepSettings) -> SweepJob:
    """Record a sweep of ``dataset`` (the workspace's corpus) in ``ws`` and return its job,
    unsubmitted. Raises a ModelError (no test split, too few training documents) or a
    QuotaExceeded before anything is written."""
    data = sweeps.sweep_data(dataset, settings)
    ws.check_room(0, "The sweep")
    name = f"sweep over {', '.join(map(str, settings.units))} units"
    corpus = ws.corpus_record()
    record = runs.create_run(ws, name=name, kind=None, params=None, settings=settings.to_dict(),
                             max_epochs=0, max_seconds=settings.budget_seconds, X=None, X_val=None, words=None,
                             job=runs.SWEEP, corpus=corpus["id"] if corpus else None)
    return _job(ws, record, dataset, settings, data)


def _job(ws: Workspace, record: dict, dataset, settings: sweeps.SweepSettings, data: sweeps.SweepData) -> SweepJob:
    # The fraction of each pair's budget spent is its progress, where the estimator reports none.
    return SweepJob(name=record["name"], estimator=None, X=None, X_val=None, vocabulary=dataset.vocabulary,
                    settings=settings.to_dict(), max_epochs=10**9, max_seconds=settings.budget_seconds, workspace=ws,
                    run_id=record["id"], dataset=dataset, sweep_settings=settings, data=data)


def resume_sweep_job(ws: Workspace, record: dict) -> SweepJob:
    """The job that continues the sweep of ``record``, which a stopped server left queued or
    running: it reads the workspace's corpus again and trains only the pairs whose models are not
    in the workspace yet (the pair cut short starts again), as ``docmodel sweep`` continues.

    Raises
    ------
    ModelError
        The settings cannot be read, or the workspace's corpus is gone or no longer the one the
        sweep began with (another corpus replaced it).
    CorpusError, OSError
        The corpus cannot be read.
    """
    settings = sweeps.SweepSettings.from_dict(record.get("settings"))
    corpus = ws.corpus_record()
    if corpus is None or record.get("corpus") != corpus["id"]:
        raise ModelError("the workspace's corpus is not the one the sweep began with")
    dataset = ws.load_corpus(corpus)
    data = sweeps.sweep_data(dataset, settings)
    kept = {n for n, m in ws.models().items() if m.get("run") == record["id"]}
    fresh = sweeps.new_sweep(dataset, settings, data)
    sweep = ws.sweep()
    if sweep is None or {k: sweep.get(k) for k in ("settings", "corpus")} != {k: fresh[k] for k in ("settings", "corpus")}:
        sweep = fresh  # the server stopped before the sweep was first saved
    # Only the pairs whose models this run wrote are finished (an older sweep may share settings).
    pairs = [p for p in sweep.get("pairs", []) if p.get("workspace_model") in kept]
    job = _job(ws, record, dataset, settings, data)
    job._sweep = dict(sweep, pairs=pairs)
    job._kept = [p["workspace_model"] for p in pairs]
    return job


def announcement(record: dict) -> tuple[str, str]:
    """The message (``st`` function name, Markdown) that tells the user a sweep has ended."""
    kept = [markdown_escape(n) for n in record.get("models") or []]
    models = f"{len(kept)} model{'' if len(kept) == 1 else 's'} ({', '.join(kept)})"
    error = markdown_escape(record.get("error") or "")
    finished = f" The {models} it had finished {'is' if len(kept) == 1 else 'are'} kept." if kept else ""
    status = record.get("status")
    if status == DONE:
        return "success", f"The sweep is finished: {models} added to this workspace; its table is on the Train page."
    if status == CANCELLED:
        return "info", "The sweep was cancelled." + (finished or " No model had finished yet.")
    if status == INTERRUPTED:
        return "warning", f"The sweep was interrupted: {error}"
    return "error", f"The sweep failed: {error.rstrip('.')}.{finished}"
