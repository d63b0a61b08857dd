"""Four browser sessions training at once: does the app's server keep up? (issue 17)

Drives the app's job API the way four browser sessions' Train pages do, in this one process, as
the server runs them (no browser, no websocket: the pages only call this API):

* **Workspaces.** ``--jobs`` (4) workspaces in a temporary data directory
  (``docmodel.workspace.Store``), each with the bundled demo corpus as a new session gets it
  (``app.ui.page_setup``: Lee's news stories, ``PrepareOptions(test_fraction=0.2)``, stored as a
  reference with ``set_demo_corpus``).
* **Jobs.** In each workspace the Train page's SBN with every widget at its initial value
  (``app.settings.sbn_estimator`` fed from ``REGISTRY["sbn"].defaults()``, as
  ``benchmarks/app_budget.py`` builds it) but a fixed amount of work: ``--epochs`` epochs, no time
  budget, and a patience longer than the run, so that early stopping cannot end it sooner. Each
  is recorded and run as the page's "Train SBN" does (``app.jobs.new_job`` on the page's
  training and validation rows, submitted to the server's scheduler ``app.jobs.SCHEDULER``,
  allowed ``--jobs`` at once): resume state, progress records, the CPU shares of
  ``app.runner.JOBS`` and the thread policy of ``docmodel.threads`` as in the app.
* **Phases.** *Sequential*: the jobs submitted one after another, each when the previous has
  ended. *Concurrent*: all submitted at once. Each phase is timed from the first submission to
  the end of the last job; the order of the two alternates over ``--repeats`` so that a drift of
  a shared machine's load falls on both. One job of one epoch trains first, untimed (torch's
  first steps load more of it, as the app's own warm-up does).
* **Pages.** Throughout both phases (so that both carry the same load), one session (AppTest,
  ``streamlit.testing.v1``) opened on the first workspace's address renders the Train page every
  ``--render-every`` seconds, as the page's progress panel polls, in this process, where the
  jobs' threads run: each full run of the page (``at.run()``) is timed. Renders with no job
  running, before the phases, are the reference.

Printed: each job's epochs, seconds and intra-op threads (as ``docmodel.threads`` logs them when
the job starts or its share changes), the phases' total seconds, the renders' median and slowest
time, and the load average before and after.

Targets (issue 17): the concurrent phase takes at most 1.3x the sequential one, and no render of
the page takes 1 s or more while the jobs train concurrently.

    .venv/bin/python benchmarks/app_load.py --json app_load.json      # ~3 minutes
    .venv/bin/python benchmarks/app_load.py --epochs 2                 # a smoke test
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import tempfile
import threading
import time

from _common import ROOT, table, write_json

TARGET_RATIO = 1.3
TARGET_RENDER = 1.0
PHASES = ("sequential", "concurrent")
RENDER_TIMEOUT = 120


class ThreadLog(logging.Handler):
    """Keeps, per thread, the intra-op thread counts ``docmodel.threads`` logs: when a run starts
    ("training with N ...") and when its share changes ("now N ...", at debug level)."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.counts: dict[str, list[tuple[int, str]]] = {}

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg.startswith(("training with", "now")) and record.args:
            self.counts.setdefault(record.threadName, []).append((int(record.args[0]), str(record.args[-1])))


def demo_corpus():
    """The demo corpus as a new session gets it (``app.ui.page_setup``), and the options key its
    workspace records; prepared here as ``app.resources.demo_dataset`` does, without its cache
    (which wants a Streamlit runtime)."""
    from app import resources
    from corpora.prepare import PrepareOptions, prepare

    options = PrepareOptions(test_fraction=0.2)
    return prepare(resources.DEMO_SOURCE, options=options), resources.options_key(options)


def page_job(ws, name: str, ds, epochs: int):
    """The Train page's SBN job in ``ws`` with ``epochs`` epochs of work, unsubmitted (see the
    module's docstring)."""
    from app import settings, state
    from app import workspace as app_workspace
    from app.jobs import new_job
    from docmodel.models import REGISTRY

    default = REGISTRY["sbn"].defaults()
    layers = settings.parse_layers(str(default["n_units"]))
    algorithm = settings.SBN_ALGORITHMS[next(iter(settings.SBN_ALGORITHMS))]
    estimator = settings.sbn_estimator(
        layers=layers, algorithm=algorithm, max_epochs=epochs, max_seconds=0,  # 0: no time budget
        learning_rate=default["learning_rate"], encoder_learning_rate=0.0, batch_size=0,
        patience=epochs + 1,  # longer than the run: early stopping cannot end it sooner
        seed=default["random_state"],
        prior=settings.SBN_PRIORS[next(iter(settings.SBN_PRIORS))],
        inference=settings.SBN_INFERENCE[next(iter(settings.SBN_INFERENCE))],
    )
    n_train = ds.train.n_docs
    train_rows, val_rows = state.training_rows(n_train), state.validation_rows(n_train)
    run_settings = {"kind": "sbn", "algorithm": algorithm, "layers": list(layers), "max_epochs": epochs,
                    "max_seconds": 0, "n_train_docs": len(train_rows), "n_val_docs": len(val_rows)}
    return new_job(ws, name=name, estimator=estimator, X=ds.train.X[train_rows], X_val=ds.train.X[val_rows],
                   vocabulary=ds.vocabulary, settings=run_settings, max_epochs=epochs, max_seconds=None,
                   state_every_seconds=app_workspace.config().state_every_seconds)


class TrainPage:
    """One browser-free session of the app on a workspace's address, on the Train page."""

    def __init__(self, ws_id: str):
        from streamlit.testing.v1 import AppTest

        self.at = AppTest.from_file(str(ROOT / "app" / "main.py"), default_timeout=RENDER_TIMEOUT)
        self.at.query_params["workspace"] = ws_id
        self.render()  # the router's default page (Corpus); prepares the demo corpus once
        self.at.switch_page("pages/train.py")
        self.render()
        if self.at.session_state["workspace"].id != ws_id or [t.value for t in self.at.title] != ["Train"]:
            raise SystemExit(f"the session did not open the Train page of workspace {ws_id[:6]}...")

    def render(self) -> float:
        """Seconds of one full run of the page."""
        start = time.perf_counter()
        self.at.run()
        seconds = time.perf_counter() - start
        if self.at.exception:
            raise SystemExit(f"the page failed: {[e.value for e in self.at.exception]}")
        return seconds

    def shows_progress(self) -> bool:
        """Whether the last render showed a job's progress panel (its bar)."""
        return bool(self.at.get("progress"))

    def until(self, done: threading.Event, every: float) -> tuple[list[float], int]:
        """Render every ``every`` seconds (at once when a render took longer) until ``done``;
        returns the renders' seconds and how many showed a job's progress."""
        seconds, progress = [], 0
        while not done.is_set():
            seconds.append(self.render())
            progress += self.shows_progress()
            done.wait(max(0.0, every - seconds[-1]))
        return seconds, progress


def run_phase(phase: str, jobs: list, page: TrainPage, every: float) -> tuple[float, list[float], int]:
    """Submit ``jobs`` one after another or all at once while ``page`` renders; returns the
    phase's seconds, the renders' seconds and how many of them showed a job's progress."""
    from app.jobs import SCHEDULER

    done, result = threading.Event(), {}

    def drive() -> None:
        try:
            start = time.perf_counter()
            for job in jobs:
                SCHEDULER.submit(job)
                if phase == "sequential":
                    job.join()
            for job in jobs:
                job.join()
            result["seconds"] = time.perf_counter() - start
        except BaseException as exc:  # reported in the main thread
            result["error"] = exc
        finally:
            done.set()

    driver = threading.Thread(target=drive, name=f"drive-{phase}", daemon=True)
    driver.start()
    renders, progress = page.until(done, every)
    driver.join()
    if "error" in result:
        raise result["error"]
    return result["seconds"], renders, progress


def job_figures(phase: str, repeat: int, i: int, job, notes: ThreadLog) -> dict:
    """One ended job's row: status, epochs, seconds (from its start to its end, model written),
    ``fit``'s own seconds, and the intra-op thread counts it was given, in order."""
    counts = notes.counts.get(f"train-{job.name}", [])
    shown = []
    for n, _ in counts:
        if not shown or shown[-1] != n:
            shown.append(n)
    p = job.snapshot()
    return {"phase": phase, "repeat": repeat + 1, "job": i + 1, "status": p.status, "error": p.error,
            "epochs": int(getattr(job.estimator, "n_iter_", p.epoch)),
            "stopped": getattr(job.estimator, "stopped_", None),
            "seconds": p.elapsed, "train_seconds": float(getattr(job.estimator, "train_seconds_", float("nan"))),
            "threads": "->".join(map(str, shown)) or "?", "thread_reason": counts[0][1] if counts else ""}


def render_stats(seconds: list[float]) -> dict:
    return {"renders": len(seconds), "median": statistics.median(seconds) if seconds else None,
            "slowest": max(seconds) if seconds else None}


def summary_table(rows: list[dict]) -> str:
    """The figures against their targets (a first column wider than ``_common.table``'s)."""
    width = max(len(r["figure"]) for r in rows)
    lines = [f"{'figure':<{width}}  {'value':>8}  {'target':>8}  met", "-" * (width + 29)]
    for r in rows:
        value = "-" if r["value"] is None else f"{r['value']:.2f}"
        lines.append(f"{r['figure']:<{width}}  {value:>8}  {r.get('target', ''):>8}  {r.get('met', '')}")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--jobs", type=int, default=4, help="concurrent training jobs / workspaces (default 4)")
    p.add_argument("--epochs", type=int, default=200,
                   help="epochs of every job (default 200, the Train page's max. epochs)")
    p.add_argument("--repeats", type=int, default=1, help="sequential and concurrent phases, in alternating order")
    p.add_argument("--render-every", type=float, default=1.0,
                   help="seconds between the starts of two renders of the page (default 1, as its progress polls)")
    p.add_argument("--reference-renders", type=int, default=10, help="renders with no job running (default 10)")
    p.add_argument("--json")
    args = p.parse_args()
    if min(args.jobs, args.epochs, args.repeats, args.reference_renders) < 1 or args.render_every < 0:
        raise SystemExit("--jobs, --epochs, --repeats and --reference-renders must be positive and "
                         f"--render-every not negative; got {args.jobs}, {args.epochs}, {args.repeats}, "
                         f"{args.reference_renders} and {args.render_every:g}")

    from docmodel import threads

    threads.prepare_process()  # before torch loads, as `docmodel app` does for its server
    notes = ThreadLog()
    thread_log = logging.getLogger("docmodel.threads")
    thread_log.setLevel(logging.DEBUG)
    thread_log.addHandler(notes)

    load_start = os.getloadavg()
    budget = threads.cpu_budget()
    print(f"{args.jobs} jobs of {args.epochs} epochs, {args.repeats} repeat(s); {os.cpu_count()} CPUs, training "
          f"budget {budget[0]} thread(s) ({budget[1]}); "
          f"load average {load_start[0]:.2f} {load_start[1]:.2f} {load_start[2]:.2f}", flush=True)
    rows, totals = [], {phase: [] for phase in PHASES}
    renders: dict[str, list[float]] = {"no job": [], **{phase: [] for phase in PHASES}}
    with tempfile.TemporaryDirectory(prefix="app-load-") as data_dir:
        # The server's settings (app.workspace.Config): the pages re-read them on every run.
        os.environ.update(DOCMODEL_DATA_DIR=data_dir, DOCMODEL_APP_MAX_JOBS=str(args.jobs), DOCMODEL_APP_KEEP_DAYS="0")
        import streamlit.logger

        streamlit.logger.set_log_level("error")  # not its warnings that the app loads outside a server
        from app import resources
        from app.jobs import SCHEDULER
        from docmodel.workspace import Store

        SCHEDULER.configure(args.jobs)
        ds, key = demo_corpus()
        store = Store(data_dir)
        workspaces = [store.create() for _ in range(args.jobs)]
        for ws in workspaces:
            ws.set_demo_corpus(resources.DEMO_NAME, key)
        # Once, not timed: torch's first training step loads more of it (the app warms up the same).
        warm_up = page_job(workspaces[0], "load-warm-up", ds, 1)
        SCHEDULER.submit(warm_up).join()
        page = TrainPage(workspaces[0].id)
        renders["no job"] = [page.render() for _ in range(args.reference_renders)]
        print(f"Train page with no job: median {statistics.median(renders['no job']):.2f} s, "
              f"slowest {max(renders['no job']):.2f} s", flush=True)

        for r in range(args.repeats):
            for phase in PHASES if r % 2 == 0 else PHASES[::-1]:
                jobs = [page_job(ws, f"load-{phase[:3]}{r + 1}-{i + 1}", ds, args.epochs)
                        for i, ws in enumerate(workspaces)]
                seconds, seen, progress = run_phase(phase, jobs, page, args.render_every)
                totals[phase].append(seconds)
                renders[phase] += seen
                rows += [job_figures(phase, r, i, job, notes) for i, job in enumerate(jobs)]
                print(f"  repeat {r + 1}, {phase}: {seconds:.1f} s; renders median {statistics.median(seen):.2f} s, "
                      f"slowest {max(seen):.2f} s ({len(seen)}, {progress} with a progress panel); "
                      f"load {os.getloadavg()[0]:.2f}", flush=True)
    load_end = os.getloadavg()

    failed = [r for r in rows if r["status"] != "done"]
    for r in failed:
        print(f"job {r['job']} of {r['phase']} repeat {r['repeat']} ended {r['status']}: {r['error']}")
    print()
    print(table(rows, [("phase", "phase", "s"), ("repeat", "repeat", "d"), ("job", "job", "d"),
                       ("epochs", "epochs", "d"), ("stopped", "stopped by", "s"), ("seconds", "seconds", ".1f"),
                       ("train_seconds", "fit s", ".1f"), ("threads", "threads", "s")]))
    reasons = sorted({r["thread_reason"] for r in rows if r["thread_reason"]})
    print("thread decisions (docmodel.threads):" + "".join(f"\n  {reason}" for reason in reasons))

    sequential, concurrent = statistics.median(totals["sequential"]), statistics.median(totals["concurrent"])
    ratio = concurrent / sequential
    stats = {k: render_stats(v) for k, v in renders.items()}
    ratio_met = ratio <= TARGET_RATIO and not failed
    render_met = stats["concurrent"]["slowest"] < TARGET_RENDER
    summary = [
        {"figure": "sequential total (s)", "value": sequential},
        {"figure": "concurrent total (s)", "value": concurrent},
        {"figure": "concurrent / sequential", "value": ratio, "target": f"<= {TARGET_RATIO:g}",
         "met": "met" if ratio_met else "not met"},
    ]
    for phase, s in stats.items():
        summary.append({"figure": f"render, {phase}: median (s)", "value": s["median"]})
        summary.append({"figure": f"render, {phase}: slowest (s)", "value": s["slowest"],
                        **({"target": f"< {TARGET_RENDER:g}", "met": "met" if render_met else "not met"}
                           if phase == "concurrent" else {})})
    print()
    print(summary_table(summary))
    counts = ", ".join(f"{s['renders']} {k}" for k, s in stats.items())
    print(f"renders: {counts}; one started every {args.render_every:g} s, or at once after a slower one")
    print(f"load average at the end {load_end[0]:.2f} {load_end[1]:.2f} {load_end[2]:.2f}")
    write_json(args.json, {
        "jobs": args.jobs, "epochs": args.epochs, "repeats": args.repeats, "render_every": args.render_every,
        "cpus": os.cpu_count(), "training_budget": list(budget), "demo_corpus": "lee",
        "totals_seconds": totals, "sequential_seconds": sequential, "concurrent_seconds": concurrent,
        "ratio": ratio, "ratio_target": TARGET_RATIO, "ratio_met": ratio_met,
        "renders": stats, "render_seconds": renders, "render_target": TARGET_RENDER, "render_met": render_met,
        "job_runs": rows, "load_average_start": load_start, "load_average_end": load_end,
    })


if __name__ == "__main__":
    main()
