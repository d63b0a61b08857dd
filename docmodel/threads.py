"""How many CPU threads a training run uses: a policy that holds on a busy machine.

torch runs an operation's arithmetic on an OpenMP team of intra-op threads. Its default team is
one thread per core of the machine, whatever share of them this process may use and whatever
else runs: on a shared 2-core machine with one other CPU-bound process, the default 2 threads
trained NVIL 3.4x slower than one thread. Three things went wrong, and each has a
remedy here:

* **Waiting workers spin.** libgomp's workers spin for a while (300,000 iterations) after each
  parallel region before they sleep, taking CPU from the other processes and from the thread
  that holds the work. :func:`prepare_process` sets ``OMP_WAIT_POLICY=PASSIVE`` (sleep at once).
  libgomp reads it once, when it is loaded with torch, so it is called by the entry points
  before torch is imported (``docmodel``'s command line, which the app's server inherits);
  once torch is loaded setting it changes nothing in this process (it still reaches child
  processes), and :func:`prepare_process` says so.
* **A team as large as the machine straggles.** Each parallel region splits its work evenly and
  ends when the slowest thread ends: if anything else runs, one of the team shares a core and
  every region takes as long as that thread's half-speed share. The policy keeps one of the
  usable CPUs free (:func:`cpu_budget`) so that one other busy process costs nothing; on two
  CPUs that means one thread.
* **Small steps gain nothing from more threads.** Waking and joining a team costs tens of
  microseconds per parallel region and a step has dozens of regions; the n-th thread saves
  ``T / (n (n - 1))`` of a step's parallel time ``T``, so it pays only when ``T`` is large
  against that overhead (:func:`work_threads`).

"CPUs this process may use" is the cores under its affinity mask (``os.sched_getaffinity``; two
hyperthreads of a core share its arithmetic units), a cgroup CPU quota
(v2 ``cpu.max``, v1 ``cpu.cfs_quota_us``: a container's ``--cpus``; rounded down, since a team
larger than its quota is throttled as a whole) and ``OMP_NUM_THREADS`` (set by the user, or by
``torchrun`` for its workers) as an upper bound.

Override order: an explicit count (``n_threads=``, ``--threads``) > the ``DOCMODEL_THREADS``
environment variable > the policy. torch's count is per thread (the OpenMP backend keeps it per
calling thread; the last value set becomes the default of threads started later), so the app's
training threads each get their share of the budget (:func:`job_share`, :func:`rebalance`), and
:func:`training` restores the caller's count when the run ends. The thread count changes the
order of floating-point sums, so a seed reproduces a run exactly only with the same count.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from docmodel.errors import ModelError

log = logging.getLogger(__name__)

ENV = "DOCMODEL_THREADS"
# Multiply-adds that take as long as waking and joining a team for every parallel region of one
# step: an estimate, not a fit (~60 regions of ~30 us, at the ~13 G multiply-adds/s that the
# one-thread minibatch-64 step reached on a 2-core machine: 7,112 docs/s, README). The
# n-th thread pays once a step does n (n - 1) times this; on 2 CPUs the budget decides first.
WORK_PER_OVERHEAD = 2.5e7

_local = threading.local()  # this thread's job share and current run (see training, job_share)
_set_late = False  # prepare_process set OMP_WAIT_POLICY in this process after torch had loaded


@dataclass(frozen=True)
class Decision:
    """Intra-op threads for one run, and why."""

    n_threads: int
    reason: str
    from_policy: bool = True


def affinity() -> set[int]:
    """The logical CPUs in this process's affinity mask (all of them where there is none)."""
    if hasattr(os, "sched_getaffinity"):
        return set(os.sched_getaffinity(0)) or {0}
    return set(range(os.cpu_count() or 1))


def physical_cores(cpus: set[int], root: Path = Path("/")) -> int:
    """Cores under the logical CPUs ``cpus`` (hyperthreads of one core share its arithmetic
    units, and torch's own default counts cores too); ``len(cpus)`` where the topology is not
    readable."""
    cores = set()
    for cpu in cpus:
        topology = root / "sys" / "devices" / "system" / "cpu" / f"cpu{cpu}" / "topology"
        core, package = _read(topology / "core_id"), _read(topology / "physical_package_id")
        if core is None or package is None:
            return len(cpus)
        cores.add((package, core))
    return max(1, len(cores))


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None


def _quota(directory: Path, v2: bool) -> float | None:
    """CPUs allowed by the quota file in one cgroup directory, or None (no file, no limit)."""
    if v2:
        fields = (_read(directory / "cpu.max") or "max").split()
        quota, period = fields[0], fields[1] if len(fields) > 1 else "100000"
    else:
        quota, period = _read(directory / "cpu.cfs_quota_us") or "-1", _read(directory / "cpu.cfs_period_us") or "0"
    try:
        q, p = float(quota), float(period)
    except ValueError:  # "max", or an unreadable file
        return None
    return q / p if q > 0 and p > 0 else None


def cgroup_cpu_limit(root: Path = Path("/")) -> float | None:
    """The tightest cgroup CPU quota over this process's cgroup and its ancestors, in CPUs
    (e.g. 1.5), or None when there is none. ``root`` stands for ``/`` (tests pass a folder)."""
    mount = root / "sys" / "fs" / "cgroup"
    limits = []
    for line in (_read(root / "proc" / "self" / "cgroup") or "").splitlines():
        _, controllers, path = line.split(":", 2) if line.count(":") >= 2 else ("", "", "")
        v2 = controllers == ""
        if not v2 and "cpu" not in controllers.split(","):
            continue
        for base in [mount] if v2 else [mount / "cpu", mount / controllers]:
            parts = [p for p in path.strip("/").split("/") if p]
            # The path may not exist under the mount (a container's own cgroup namespace
            # shows "/"), so every ancestor down to the mount itself is read.
            for depth in range(len(parts), -1, -1):
                limit = _quota(base.joinpath(*parts[:depth]), v2)
                if limit is not None:
                    limits.append(limit)
    return min(limits) if limits else None


def usable_cpus(root: Path = Path("/"), environ=None) -> tuple[int, str]:
    """CPUs this process may really use, and how that was decided."""
    environ = os.environ if environ is None else environ
    cpus = affinity()
    n = physical_cores(cpus, root)
    why = [f"{len(cpus)} CPU{'s' * (len(cpus) != 1)} in the affinity mask"]
    if n < len(cpus):
        why[0] += f" on {n} core{'s' * (n != 1)}"
    quota = cgroup_cpu_limit(root)
    if quota is not None and math.floor(quota) < n:
        n = max(1, math.floor(quota))
        why.append(f"a cgroup quota of {quota:g} CPUs")
    omp = _positive(environ.get("OMP_NUM_THREADS", "").split(",")[0])
    if omp is not None and omp < n:
        n = omp
        why.append(f"OMP_NUM_THREADS={omp}")
    return n, ", ".join(why)


def cpu_budget(root: Path = Path("/"), environ=None) -> tuple[int, str]:
    """Threads this process's training may use: the usable CPUs less one kept free for the
    rest of the machine (the app's server, another job), so one busy process costs nothing."""
    n, why = usable_cpus(root, environ)
    if n > 1:
        return n - 1, f"{why}, one kept free"
    return n, why


def shares(budget: int, n_jobs: int) -> list[int]:
    """The budget divided among ``n_jobs`` concurrent jobs, earlier jobs taking the remainder;
    every job gets at least one thread (more jobs than CPUs share them through the scheduler)."""
    each, extra = divmod(max(1, budget), max(1, n_jobs))
    return [max(1, each + (i < extra)) for i in range(n_jobs)]


def sbn_step_work(batch_size: int, n_words: int, n_units: int, n_samples: int, baseline_hidden: int,
                  encoder_hidden: int = 0) -> float:
    """Multiply-adds of one NVIL step's products with the vocabulary (the rest of a step is
    smaller): q's and the baseline's first layers forward and for their weight gradients, the
    mean-field term, and p(x|h) for every sample forward and backward."""
    q_width = encoder_hidden or n_units
    return float(batch_size) * n_words * (3 * q_width + 2 * baseline_hidden + (2 * n_samples + 1) * n_units)


def work_threads(work: float) -> int:
    """Most threads a step of ``work`` multiply-adds gains from: the largest n with
    n (n - 1) * WORK_PER_OVERHEAD <= work (so 1 below 2x, 2 up to 6x, 3 up to 12x...)."""
    ratio = max(0.0, work) / WORK_PER_OVERHEAD
    return max(1, math.floor((1 + math.sqrt(1 + 4 * ratio)) / 2))


def _positive(text) -> int | None:
    try:
        value = int(str(text).strip())
    except ValueError:
        return None
    return value if value >= 1 else None


def decide(work: float, n_threads: int | None = None, *, environ=None, budget: tuple[int, str] | None = None) -> Decision:
    """The intra-op threads for a run whose step does ``work`` multiply-adds on the CPU.

    Parameters
    ----------
    work : float
        See :func:`sbn_step_work`; 0 for a run whose arithmetic is on a GPU.
    n_threads : int or None
        An explicit count (the estimator's ``n_threads``, ``--threads``): used as given.
    environ : mapping, optional
        Where ``DOCMODEL_THREADS`` is read (``os.environ`` by default).
    budget : (int, str), optional
        Threads this run may use and why; by default this thread's job share
        (:func:`job_share`) or else :func:`cpu_budget`.
    """
    environ = os.environ if environ is None else environ
    if n_threads is not None:
        if isinstance(n_threads, bool) or _positive(n_threads) != n_threads:
            raise ModelError(f"n_threads must be a positive integer or None, got {n_threads!r}")
        return Decision(n_threads, f"n_threads={n_threads} given", False)
    if environ.get(ENV, "").strip():
        value = _positive(environ[ENV])
        if value is None:
            raise ModelError(f"{ENV} must be a positive integer, got {environ[ENV]!r}")
        return Decision(value, f"{ENV}={value}", False)
    if budget is None:
        share = getattr(_local, "share", None)
        budget = share if share is not None else cpu_budget(environ=environ)
    cpus, why = budget
    gain = work_threads(work)
    n = max(1, min(cpus, gain))
    if work <= 0:
        return Decision(n, f"{why}; the step's arithmetic is not on the CPU")
    return Decision(n, f"{why}; a step of {work / 1e6:,.0f}M multiply-adds gains from up to {gain}")


def prepare_process(environ=None) -> bool:
    """Make OpenMP workers sleep as soon as they wait (``OMP_WAIT_POLICY=PASSIVE``) unless the
    user chose a policy. Call it before torch is imported; returns whether it holds in this
    process (False once torch, and with it libgomp, is loaded: it then reaches only child
    processes)."""
    global _set_late
    environ = os.environ if environ is None else environ
    if "OMP_WAIT_POLICY" in environ:
        # The user's choice, or ours: in time unless it was set here after torch loaded.
        return not (_set_late and environ is os.environ)
    environ["OMP_WAIT_POLICY"] = "PASSIVE"
    if "torch" in sys.modules:
        _set_late = _set_late or environ is os.environ
        log.warning(
            "torch was imported before OMP_WAIT_POLICY=PASSIVE could be set: its OpenMP workers spin "
            "after each parallel region. Set OMP_WAIT_POLICY=PASSIVE in the environment to stop that."
        )
        return False
    return True


def _apply(n: int) -> None:
    import torch

    if torch.get_num_threads() != n:
        torch.set_num_threads(n)  # this thread's OpenMP team (and the default of later threads)


@contextlib.contextmanager
def training(work: float, n_threads: int | None = None, what: str = "training"):
    """Decide (:func:`decide`), log once and apply the intra-op threads in this thread for the
    duration of a run (``what`` names it in the log: training, scoring); the caller's count is
    restored afterwards. Yields the :class:`Decision`."""
    import torch

    decision = decide(work, n_threads)
    log.info("%s with %d intra-op thread%s: %s", what, decision.n_threads, "s" * (decision.n_threads != 1),
             decision.reason)
    before, outer = torch.get_num_threads(), getattr(_local, "run", None)
    _apply(decision.n_threads)
    _local.run = (work, decision)
    try:
        yield decision
    finally:
        _local.run = outer  # a run inside another (scoring within a training job) gives it back
        _apply(before)


@contextlib.contextmanager
def job_share(cpus: int, why: str = "this job's share"):
    """Runs trained in this thread inside the block may use ``cpus`` threads (the app's share
    of :func:`cpu_budget` for one of several concurrent jobs) instead of the whole budget."""
    previous = getattr(_local, "share", None)
    _local.share = (max(1, cpus), why)
    try:
        yield
    finally:
        _local.share = previous


def rebalance(cpus: int, why: str = "this job's share") -> int | None:
    """Change this thread's share to ``cpus`` and, inside a run whose count the policy chose,
    apply the new count at once; returns the count applied, or None when nothing changed."""
    _local.share = (max(1, cpus), why)
    run = getattr(_local, "run", None)
    if run is None or not run[1].from_policy:
        return None
    work, decision = run
    new = decide(work, budget=_local.share)
    if new.n_threads == decision.n_threads:
        return None
    _apply(new.n_threads)
    _local.run = (work, new)
    log.debug("now %d intra-op threads: %s", new.n_threads, new.reason)
    return new.n_threads
