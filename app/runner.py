"""Training in a background thread, so the page stays responsive.

A :class:`TrainingRun` owns one thread that calls the estimator's ``fit`` with a callback. The
callback only writes into a lock-protected progress record and answers whether to stop; the
page reads snapshots of that record (an ``st.fragment`` polling every second, faster while a
stop is pending) and never touches the thread's objects while it runs. The estimators call back about once a second (progress between
validations, and for the SBN interim validation points early in a run). Cancelling sets an event:
at the next call the callback returns True, and the estimator stops after its current minibatch
(LDA: iteration) and keeps the best parameters so far. A run may wait in a queue
before it starts (:mod:`app.jobs` keeps the queue and writes runs into their workspaces through
the :meth:`TrainingRun.finish` and :meth:`TrainingRun.record_progress` hooks).

Every browser session's training runs in this one server process, so the runs share its CPUs:
:data:`JOBS` divides the threads of :func:`docmodel.threads.cpu_budget` among the running jobs
(:func:`docmodel.threads.shares`). torch's intra-op thread count is kept per calling thread, so
each job's thread sets its own; a job started or ended changes the others' shares, which they
take up at their next callback. ``DOCMODEL_THREADS`` overrides the shares.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from corpora.errors import CorpusError
from docmodel import threads

log = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, CANCELLED, FAILED, INTERRUPTED = (
    "queued", "running", "done", "cancelled", "failed", "interrupted")
ACTIVE = (QUEUED, RUNNING)


class Jobs:
    """The training runs of this process, in the order they started, and their CPU shares."""

    def __init__(self, budget=threads.cpu_budget):
        self._budget = budget  # -> (threads, why); the process's training budget
        self._lock = threading.Lock()
        self._running: list = []

    def add(self, job) -> None:
        with self._lock:
            self._running.append(job)

    def remove(self, job) -> None:
        with self._lock:  # by identity: a run's fields (its matrices) are no key
            self._running = [j for j in self._running if j is not job]

    def __len__(self) -> int:
        with self._lock:
            return len(self._running)

    def share(self, job) -> tuple[int, str]:
        """``job``'s threads now, and why (the budget alone for a job not running)."""
        cpus, why = self._budget()
        with self._lock:
            n = len(self._running)
            i = next((k for k, j in enumerate(self._running) if j is job), 0)
        if n <= 1:
            return cpus, why
        mine = threads.shares(cpus, n)[i]
        return mine, f"{mine} of {cpus} threads for {n} concurrent training jobs ({why})"


JOBS = Jobs()


@dataclass(frozen=True)
class Progress:
    """A consistent copy of a run's progress at one moment."""

    status: str
    fraction: float
    elapsed: float
    remaining: float | None
    epoch: int
    """Epochs (LDA: iterations) done."""
    history: tuple[dict, ...]
    """The validation points so far (interim ones included), oldest first."""
    error: str = ""
    epochs: float = 0.0
    """Epochs done, with the running one's fraction where the estimator reports it."""
    docs_seen: int | None = None
    """Training documents processed so far (counting repeats), where reported."""


@dataclass
class TrainingRun:
    """One model being trained in the background.

    Parameters
    ----------
    name : str
        The name the model will have in the session.
    estimator : SBNTopicModel or LDATopicModel
        Unfitted; ``fit`` is called in the thread.
    X, X_val : sparse matrices
        Training and validation counts.
    vocabulary : corpora.Vocabulary
    settings : dict
        The settings to keep with the model.
    max_epochs : int
        Used for the progress fraction when the estimator does not report one.
    max_seconds : float or None
    fit_options : dict
        More keyword arguments of ``fit`` (an SBN's ``state_path``, ``resume``).
    """

    name: str
    estimator: object
    X: object
    X_val: object
    vocabulary: object
    settings: dict
    max_epochs: int
    max_seconds: float | None = None
    fit_options: dict = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    _history: list = field(default_factory=list, repr=False)
    _latest: dict = field(default_factory=dict, repr=False)  # the last entry of any kind
    _status: str = RUNNING
    _error: str = ""
    _fraction: float = 0.0
    _started: float = 0.0
    _ended: float | None = None
    _thread: threading.Thread | None = field(default=None, repr=False)
    _ended_event: threading.Event = field(default_factory=threading.Event, repr=False)
    collected: bool = False

    def start(self) -> TrainingRun:
        with self._lock:
            self._status = RUNNING
            self._started = time.perf_counter()
        self._thread = threading.Thread(target=self._train, name=f"train-{self.name}", daemon=True)
        self._thread.start()
        return self

    def cancel(self) -> None:
        """Ask the run to stop at its next callback, keeping the best model so far."""
        self._cancel.set()

    def end_unstarted(self, status: str, error: str = "") -> None:
        """End a run that never started (cancelled in the queue, or refused), with ``status``."""
        with self._lock:
            self._status, self._error, self._ended = status, error, time.perf_counter()
            self._started = self._ended
        self._ended_event.set()

    def queue(self) -> TrainingRun:
        """Mark the run as waiting for its turn (:meth:`start` starts it)."""
        with self._lock:
            self._status = QUEUED
        return self

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    @property
    def finished(self) -> bool:
        with self._lock:
            return self._status not in ACTIVE

    def join(self, timeout: float | None = None) -> None:
        """Wait until the run has ended (a queued run: until it has started and ended)."""
        if self._thread is None and self._status != QUEUED:
            return
        self._ended_event.wait(timeout)

    def snapshot(self) -> Progress:
        with self._lock:
            end = self._ended if self._ended is not None else time.perf_counter()
            elapsed = 0.0 if self._status == QUEUED else end - self._started
            fraction = 1.0 if self._status == DONE else self._fraction
            latest = self._latest or (self._history[-1] if self._history else {})
            remaining = None
            if self._status == RUNNING and fraction > 0:
                # From the estimator's own clock (which starts after set-up), like the CLI's bar.
                trained = float(latest.get("seconds", elapsed))
                remaining = trained * (1 - fraction) / fraction
            epoch = int(latest.get("epoch", 0))
            epochs = float(latest.get("epochs", epoch))
            seen = latest.get("docs_seen")
            return Progress(self._status, fraction, elapsed, remaining, epoch, tuple(self._history), self._error,
                            epochs, None if seen is None else int(seen))

    # ---- the thread ---------------------------------------------------------------------
    def _callback(self, metrics: dict) -> bool:
        fraction = metrics.get("progress")
        if fraction is None:
            by_epoch = metrics.get("epoch", 0) / max(self.max_epochs, 1)
            by_time = metrics.get("seconds", 0.0) / self.max_seconds if self.max_seconds else 0.0
            fraction = max(by_epoch, by_time)
        point = metrics.get("val_perplexity_bound") is not None  # a validation, perhaps an interim one
        with self._lock:
            if point:
                if "step" in metrics:  # a resumed run repeats the steps after its last saved state
                    self._history = [h for h in self._history if h.get("step", -1) < metrics["step"]]
                self._history.append(dict(metrics))
            self._latest = dict(metrics)
            self._fraction = float(min(1.0, max(0.0, fraction)))
            history = tuple(self._history)
        threads.rebalance(*JOBS.share(self))  # (this is the training thread)
        if point:
            self.record_progress(history)
        return self._cancel.is_set()

    # ---- hooks (app.jobs) -----------------------------------------------------------------
    def record_progress(self, history: tuple[dict, ...]) -> None:
        """Called in the training thread after each validation point with the points so far."""

    def finish(self, status: str, error: str) -> tuple[str, str]:
        """Called in the training thread when ``fit`` has ended with ``status`` (and ``error``),
        before the run counts as ended: where the trained model is kept. Returns the final status
        and error; an exception fails the run with its message."""
        return status, error

    def ended(self) -> None:
        """Called in the training thread once the run has ended (whatever its status)."""

    def train(self) -> None:
        """The work of the thread: ``fit`` the estimator, reporting through :meth:`_callback`
        (a sweep, :mod:`app.sweep_job`, trains several models here)."""
        self.estimator.fit(self.X, vocabulary=self.vocabulary, X_val=self.X_val, callback=self._callback,
                           **self.fit_options)

    def _train(self) -> None:
        status, error = DONE, ""
        JOBS.add(self)
        try:
            with threads.job_share(*JOBS.share(self)):
                self.train()
            if self._cancel.is_set():
                status = CANCELLED
        except CorpusError as exc:
            status, error = FAILED, str(exc)
        except Exception as exc:  # the thread must always end with a status the page can show
            log.exception("training %s failed", self.name)
            status, error = FAILED, f"training failed unexpectedly: {type(exc).__name__}: {exc}"
        finally:
            JOBS.remove(self)
        try:
            status, error = self.finish(status, error)
        except CorpusError as exc:
            status, error = FAILED, str(exc)
        except Exception as exc:
            log.exception("keeping the model of %s failed", self.name)
            status, error = FAILED, f"the trained model could not be kept: {type(exc).__name__}: {exc}"
        with self._lock:
            self._status, self._error, self._ended = status, error, time.perf_counter()
        try:
            self.ended()
        finally:
            self._ended_event.set()
