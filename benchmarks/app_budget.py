"""The app's first minutes (issue 15): the SBN and LDA as the app trains them when the user changes
nothing but the time budget, on the demo corpus and on 3,000 raw 20 Newsgroups posts.

Everything a new user would meet goes through the app's own code:

* **Corpora.** The Corpus page's preprocessing with its widgets untouched
  (``app.settings.prepare_options()``). The demo: ``app.resources.demo_dataset`` (Lee's 300
  news stories). 20 Newsgroups: ``--posts`` (3,000) posts drawn at random (``--seed``) from the
  *train* part of ``../shared/data/20news_bydate/20news-bydate.tar.gz``, written as their raw
  bytes into a temporary folder (one sub-folder per group, so the group comes through as the
  label) and prepared as an uploaded folder is (``app.uploads.prepare_staged``); the page's
  default split holds 20 % of them out as the test split. Nothing is downloaded.
* **Models.** The Train page's SBN and LDA boxes at their initial values
  (``app.settings.sbn_estimator`` / ``lda_estimator`` fed from ``REGISTRY[kind].defaults()``, the
  first entry of each select box, ``CompareSettings.lda_patience``, and 0 where the page's 0
  means "automatic" or "the same"), with the time budget as ``max_seconds``. Each is trained as a
  job of the app's server (``app.jobs.new_job`` in a temporary workspace, run by a scheduler of
  its own): the same training and validation rows (``app.state.training_rows`` /
  ``validation_rows``), interim validation points, resume state and thread policy as in the app
  (``--threads`` sets ``DOCMODEL_THREADS``, the app's override). One model trains at a time.
* **Figures.** The Compare page's (``app.measure``: ``docmodel.compare.model_figures`` with its
  samples and seed) on the test split: per-document perplexity of the 10-sample bound and of
  document completion (``docmodel.evaluation.evaluate``), and the mean NPMI of each unit's top 10
  words (the relevance rule of ``docmodel.topwords``), co-occurrence counted on the training
  split. Lower perplexity is better.

Target (issue 15): at 60 s the SBN ahead of LDA (lower) on both bound and completion, on both
corpora. The load average is printed before and after, since the machine may be shared; the
defaults take about 14 minutes of training plus evaluation.

    .venv/bin/python benchmarks/app_budget.py --json app_budget.json
    .venv/bin/python benchmarks/app_budget.py --budgets 3 --corpora demo      # a smoke test
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from _common import SHARED_DATA, write_json

CORPORA = ("demo", "20news")
NEWS_TARBALL = SHARED_DATA / "20news_bydate" / "20news-bydate.tar.gz"
NEWS_PART = "20news-bydate-train"
TARGET_BUDGET = 60.0


class ThreadNotes(logging.Handler):
    """Keeps the thread decisions that ``docmodel.threads`` logs when a run starts."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.notes: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.notes.append(record.getMessage())


def budget_list(text: str) -> list[float]:
    try:
        budgets = [float(b) for b in text.split(",") if b.strip()]
    except ValueError:
        budgets = []
    if not budgets or any(not b > 0 for b in budgets):
        raise argparse.ArgumentTypeError(f"budgets must be positive seconds separated by commas, got {text!r}")
    return budgets


def corpus_list(text: str) -> list[str]:
    names = [c.strip() for c in text.split(",") if c.strip()]
    if not names or any(c not in CORPORA for c in names):
        raise argparse.ArgumentTypeError(f"corpora must be among {', '.join(CORPORA)}, got {text!r}")
    return names


# ---- corpora -----------------------------------------------------------------------------------
def demo_corpus():
    """The demo corpus as the Corpus page prepares it with its default options."""
    from app import resources, settings

    return resources.demo_dataset(resources.options_key(settings.prepare_options()))


def write_news_sample(tarball: Path, folder: Path, n_posts: int, seed: int) -> int:
    """``n_posts`` posts drawn at random from the tarball's train part, written as
    ``folder/<group>/<number>`` with their original bytes; returns how many posts the part has."""
    import numpy as np

    with tarfile.open(tarball, "r:gz") as tar:
        members = sorted((m for m in tar.getmembers() if m.isfile() and m.name.startswith(NEWS_PART + "/")),
                         key=lambda m: m.name)
        if len(members) < n_posts:
            sys.exit(f"{tarball} has {len(members)} posts in {NEWS_PART}/, fewer than the {n_posts} asked for")
        chosen = {members[i].name for i in np.random.default_rng(seed).choice(len(members), n_posts, replace=False)}
        for member in tar:  # one pass through the gzip stream, in the archive's order
            if member.name in chosen:
                group, number = Path(member.name).parts[-2:]
                (folder / group).mkdir(exist_ok=True)
                (folder / group / number).write_bytes(tar.extractfile(member).read())
    return len(members)


def news_corpus(n_posts: int, seed: int, folder: Path):
    """A raw 20 Newsgroups sample prepared as the Corpus page prepares an uploaded folder with its
    default options; returns the dataset and the seconds of each stage."""
    from app import settings, uploads

    t0 = time.perf_counter()
    n_part = write_news_sample(NEWS_TARBALL, folder, n_posts, seed)
    t1 = time.perf_counter()
    staged = uploads.StagedUpload(path=folder, kind="folder", names=(folder.name,))
    ds = uploads.prepare_staged(staged, settings.prepare_options())
    t2 = time.perf_counter()
    return ds, {"posts_in_part": n_part, "sample_seconds": t1 - t0, "prepare_seconds": t2 - t1}


# ---- the Train page's estimators ----------------------------------------------------------------
def page_sbn(budget: float):
    """The Train page's SBN with every widget at its initial value but the time budget; returns
    the estimator and the max. epochs the page passes to the job."""
    from app import settings
    from docmodel.models import REGISTRY

    default = REGISTRY["sbn"].defaults()
    estimator = settings.sbn_estimator(
        layers=settings.parse_layers(str(default["n_units"])),
        algorithm=settings.SBN_ALGORITHMS[next(iter(settings.SBN_ALGORITHMS))],
        max_epochs=default["max_epochs"], max_seconds=budget, learning_rate=default["learning_rate"],
        encoder_learning_rate=0.0, batch_size=0,  # the page's "0 = same" and "0 = automatic"
        patience=default["patience"], seed=default["random_state"],
        prior=settings.SBN_PRIORS[next(iter(settings.SBN_PRIORS))],
        inference=settings.SBN_INFERENCE[next(iter(settings.SBN_INFERENCE))],
    )  # the readable-unit options unticked and at 0: sbn_estimator's own defaults
    return estimator, default["max_epochs"]


def page_lda(budget: float):
    """The Train page's LDA with every widget at its initial value but the time budget; returns
    the estimator and the max. iterations the page passes to the job."""
    from app import settings
    from docmodel.compare import CompareSettings
    from docmodel.models import REGISTRY

    default = REGISTRY["lda"].defaults()
    estimator = settings.lda_estimator(
        n_units=default["n_units"], learning_method=settings.LDA_METHODS[next(iter(settings.LDA_METHODS))],
        max_iter=default["max_iter"], max_seconds=budget, patience=CompareSettings.lda_patience,
        seed=default["random_state"],
    )
    return estimator, default["max_iter"]


PAGE_MODELS = {"sbn": page_sbn, "lda": page_lda}


# ---- training and measuring as the app does -----------------------------------------------------
def train_as_app(ws, scheduler, name: str, kind: str, budget: float, ds):
    """Train the page's ``kind`` model on ``ds`` as a job of the app's server; returns the job."""
    from app import state
    from app import workspace as app_workspace
    from app.jobs import new_job

    estimator, max_epochs = PAGE_MODELS[kind](budget)
    n_train = ds.train.n_docs
    train_rows, val_rows = state.training_rows(n_train), state.validation_rows(n_train)
    job = new_job(ws, name=name, estimator=estimator, X=ds.train.X[train_rows], X_val=ds.train.X[val_rows],
                  vocabulary=ds.vocabulary,
                  settings={"kind": kind, "max_seconds": budget, "n_train_docs": len(train_rows),
                            "n_val_docs": len(val_rows)},
                  max_epochs=max_epochs, max_seconds=budget,
                  state_every_seconds=app_workspace.config().state_every_seconds)
    scheduler.submit(job)
    job.join()
    return job


def compare_figures(model, ds) -> dict:
    """The Compare page's figures of ``model`` on the corpus's evaluation documents (its test split)."""
    from app import measure, state
    from docmodel.compare import CompareSettings, model_figures

    docs = state.evaluation_docs(ds)
    figures, _ = model_figures(model, measure.evaluation_dataset(ds, docs),
                               CompareSettings(n_samples=measure.N_SAMPLES, seed=measure.SEED))
    figures["evaluated_on"] = docs.description
    return figures


def plain(params: dict) -> dict:
    return {k: v for k, v in params.items() if v is None or isinstance(v, (bool, int, float, str))}


def sbn_ahead(sbn: dict, lda: dict) -> dict:
    return {key: sbn[key] < lda[key] for key in ("perplexity_bound", "perplexity_completion")}


def ahead_text(ahead: dict) -> str:
    won = [name for key, name in (("perplexity_bound", "bound"), ("perplexity_completion", "completion"))
           if ahead[key]]
    return " and ".join(won) if won else "neither"


def markdown(rows: list[dict]) -> str:
    """One line per corpus and budget, the SBN beside LDA."""
    lines = ["| corpus | budget | bound SBN / LDA | completion SBN / LDA | NPMI SBN / LDA | SBN epochs | "
             "LDA iterations | SBN ahead on |",
             "|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        s, lda = r["sbn"], r["lda"]
        lines.append(
            f"| {r['corpus']} | {r['budget_seconds']:g} s | {s['perplexity_bound']:.1f} / {lda['perplexity_bound']:.1f} | "
            f"{s['perplexity_completion']:.1f} / {lda['perplexity_completion']:.1f} | {s['npmi']:.3f} / {lda['npmi']:.3f} | "
            f"{s['n_iter']} ({s['stopped']}) | {lda['n_iter']} ({lda['stopped']}) | {ahead_text(r['sbn_ahead'])} |"
        )
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--budgets", type=budget_list, default=[30.0, 60.0, 120.0],
                   help="time budgets in seconds, comma-separated (default 30,60,120)")
    p.add_argument("--corpora", type=corpus_list, default=list(CORPORA),
                   help=f"comma-separated among {','.join(CORPORA)} (default both)")
    p.add_argument("--posts", type=int, default=3000, help="20 Newsgroups posts in the sample (default 3000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the 20 Newsgroups sample (the models keep the "
                   "page's seed)")
    p.add_argument("--threads", type=int, help="training threads (default: the app's policy, docmodel.threads)")
    p.add_argument("--json", help="write the figures to this file")
    args = p.parse_args()
    if args.posts < 10:
        p.error(f"--posts must be at least 10, got {args.posts}")
    if "20news" in args.corpora and not NEWS_TARBALL.is_file():
        sys.exit(f"the raw 20 Newsgroups tarball is missing: expected {NEWS_TARBALL} (see ../shared/EVALUATION.md; "
                 "DOCMODEL_SHARED_DATA names another data folder); nothing is downloaded")
    if args.threads is not None:
        if args.threads < 1:
            p.error(f"--threads must be a positive integer, got {args.threads}")
        os.environ["DOCMODEL_THREADS"] = str(args.threads)  # the app's override of its thread policy

    from docmodel.threads import prepare_process

    prepare_process()  # before torch loads, as the app's entry script does

    import streamlit.logger

    streamlit.logger.set_log_level("error")  # (no Streamlit runtime here: its caches warn that they use memory)

    from app import resources, state
    from app.jobs import Scheduler
    from app.runner import DONE
    from docmodel.compare import N_TOP_NPMI
    from docmodel.workspace import Store

    notes = ThreadNotes()
    logging.getLogger("docmodel.threads").addHandler(notes)
    logging.getLogger("docmodel.threads").setLevel(logging.INFO)
    resources.warm_up().join()  # the app imports the model libraries before the first run, too

    load_start = os.getloadavg()
    print(f"budgets {', '.join(f'{b:g}' for b in args.budgets)} s; threads: "
          f"{args.threads or 'the app policy'}; load average {load_start[0]:.2f} {load_start[1]:.2f} "
          f"{load_start[2]:.2f} on {os.cpu_count()} CPUs", flush=True)
    for kind, build in PAGE_MODELS.items():
        params = build(args.budgets[0])[0].get_params()
        keys = ("n_units", "algorithm", "learning_rate", "batch_size", "max_epochs", "patience") if kind == "sbn" else (
            "n_units", "learning_method", "max_iter", "patience")
        print(f"{kind} as the Train page builds it: " + ", ".join(f"{k}={params[k]}" for k in keys))

    rows, corpora_info = [], {}
    with tempfile.TemporaryDirectory(prefix="app-budget-") as tmp:
        ws, scheduler = Store(Path(tmp) / "workspaces").create(), Scheduler(max_running=1)
        for corpus in args.corpora:
            t0 = time.perf_counter()
            if corpus == "demo":
                ds, timing = demo_corpus(), {}
                timing["prepare_seconds"] = time.perf_counter() - t0
            else:
                folder = Path(tmp) / "20news-sample"
                folder.mkdir()
                ds, timing = news_corpus(args.posts, args.seed, folder)
            n_val = len(state.validation_rows(ds.train.n_docs))
            info = {"n_docs_train": ds.train.n_docs - n_val, "n_docs_val": n_val,
                    "n_docs_test": ds.test.n_docs if ds.test is not None else 0, "n_words": len(ds.vocabulary),
                    "has_labels": bool(ds.train.has_labels),
                    "n_dropped": int(ds.info.get("n_dropped_short", 0)) + int(ds.summary()["n_dropped_empty"]),
                    "n_skipped_files": int(ds.info.get("n_skipped_files", 0)), **timing}
            corpora_info[corpus] = info
            prep = (f"{timing['sample_seconds']:.1f} s to draw and write the posts, "
                    f"{timing['prepare_seconds']:.1f} s to prepare" if "sample_seconds" in timing
                    else f"{timing['prepare_seconds']:.1f} s to prepare")
            print(f"\n{corpus}: {info['n_docs_train']} training + {n_val} validation / {info['n_docs_test']} test "
                  f"documents ({info['n_skipped_files']} files skipped as not text, {info['n_dropped']} documents dropped as "
                  f"empty or too short), {info['n_words']} words"
                  f"{', labelled' if info['has_labels'] else ''} ({prep})", flush=True)
            for budget in args.budgets:
                row = {"corpus": corpus, "budget_seconds": budget}
                for kind in PAGE_MODELS:
                    notes.notes.clear()
                    job = train_as_app(ws, scheduler, f"{corpus}-{kind}-{budget:g}", kind, budget, ds)
                    status = job.snapshot()
                    if status.status != DONE:
                        sys.exit(f"{kind} on {corpus} ({budget:g} s) ended {status.status}: {status.error}")
                    model = job.estimator
                    t1 = time.perf_counter()
                    fig = compare_figures(model, ds)
                    row[kind] = {
                        "perplexity_bound": fig["perplexity_bound"],
                        "perplexity_completion": fig["perplexity_completion"],
                        "perplexity_is": fig["perplexity_is"],
                        "npmi": fig["npmi"],
                        "diversity": fig["diversity"],
                        "label_accuracy": fig["label_accuracy"],
                        "n_iter": int(model.n_iter_),
                        "train_seconds": float(model.train_seconds_),
                        "stopped": model.stopped_,
                        "eval_seconds": time.perf_counter() - t1,
                        "threads": list(notes.notes),
                        "params": plain(model.get_params()),
                    }
                    r = row[kind]
                    unit = ("epoch" if kind == "sbn" else "iteration") + ("" if r["n_iter"] == 1 else "s")
                    print(f"  {budget:5g} s {kind}: bound {r['perplexity_bound']:7.1f}, completion "
                          f"{r['perplexity_completion']:7.1f}, NPMI {r['npmi']:6.3f}; {r['n_iter']} {unit} in "
                          f"{r['train_seconds']:.1f} s ({r['stopped']})"
                          + (f", label accuracy {r['label_accuracy']:.3f}" if r["label_accuracy"] is not None else "")
                          + f"; scored in {r['eval_seconds']:.1f} s"
                          + (f"; {notes.notes[0]}" if notes.notes else ""), flush=True)
                row["sbn_ahead"] = sbn_ahead(row["sbn"], row["lda"])
                print(f"  {budget:5g} s: SBN ahead on {ahead_text(row['sbn_ahead'])}", flush=True)
                rows.append(row)

    target_rows = [r for r in rows if r["budget_seconds"] == TARGET_BUDGET]
    target = {r["corpus"]: all(r["sbn_ahead"].values()) for r in target_rows}
    print()
    print(markdown(rows))
    print(f"\nPer-document test perplexity (lower is better): 10-sample bound, and document completion with "
          f"{N_TOP_NPMI}-word NPMI as on the Compare page; SBN epochs and LDA iterations trained, with what "
          f"stopped them.")
    if target_rows:
        met = len(target) == len(CORPORA) and all(target.values())
        per = ", ".join(f"{c}: {'met' if ok else 'NOT met'}" for c, ok in target.items())
        print(f"Target (SBN ahead of LDA on bound and completion at {TARGET_BUDGET:g} s on both corpora): "
              f"{'met' if met else 'NOT met'} ({per}"
              + ("" if len(target) == len(CORPORA) else "; not every corpus was run") + ")")
    else:
        met = None
        print(f"Target: not measured (no {TARGET_BUDGET:g} s budget in --budgets)")
    load_end = os.getloadavg()
    print(f"load average at the end {load_end[0]:.2f} {load_end[1]:.2f} {load_end[2]:.2f}")
    write_json(args.json, {
        "budgets": args.budgets, "posts": args.posts, "seed": args.seed, "threads": args.threads,
        "news_sample": f"{args.posts} posts drawn from {NEWS_PART} of {NEWS_TARBALL.name}",
        "corpora": corpora_info, "rows": rows, "target_budget": TARGET_BUDGET, "target_per_corpus": target,
        "target_met": met, "load_average_start": load_start, "load_average_end": load_end,
    })


if __name__ == "__main__":
    main()
