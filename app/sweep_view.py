"""The Train page's sweep over the number of units (docs/sweep.md): the box that starts one, its
progress while it runs (:mod:`app.sweep_job`), and the workspace's latest sweep: its chart,
table and reading, and a way to open its models in Explore or Compare."""

from __future__ import annotations

import math
from collections.abc import Callable

import pandas as pd
import streamlit as st

from app import charts, settings, state, ui
from app.jobs import SCHEDULER
from app.pages import PAGES
from app.runner import RUNNING
from corpora import CorpusError
from docmodel.compare import MODEL_LABELS, MODEL_NAMES, CompareSettings
from docmodel.sweep import DEFAULT_MODELS, SweepSettings
from docmodel.sweep_report import choice_reading, figure_grid, labels, table_columns

DEFAULT_SIZES = "10, 20, 50"
DEFAULT_SECONDS = 60
STATUS = {"done": "finished", "cancelled": "cancelled, finished models kept", "failed": "failed",
          "interrupted": "interrupted"}


def settings_box(busy: Callable[[], bool]) -> None:
    """The sweep's settings and its Run button (plain widgets, not a form, as the other boxes:
    Enter in a field starts nothing); ``busy()`` says whether a job of the workspace still goes."""
    with st.container(border=True, key="sweep_settings"):
        st.markdown("#### Number of units (sweep)")
        st.caption("Trains each chosen model at each size on the same documents, one after another in the "
                   "background, and measures each as `docmodel sweep` does: held-out perplexity by three "
                   "estimators, NPMI, diversity. The validation bound shows where more units stop helping. "
                   "Each model joins this workspace as it finishes.")
        models = st.multiselect("Models", list(MODEL_NAMES), default=list(DEFAULT_MODELS),
                                format_func=lambda name: MODEL_LABELS.get(name, name),
                                key="sweep_models", persist_state=ui.KEEP)
        c1, c2, c3 = st.columns([2, 1, 1])
        sizes = c1.text_input("Sizes (units / topics)", DEFAULT_SIZES, key="sweep_sizes", persist_state=ui.KEEP,
                              help="Comma-separated; each model is trained once at each size.")
        seconds = c2.number_input("Time budget per model (s)", 1, 86_400, DEFAULT_SECONDS, key="sweep_seconds",
                                  persist_state=ui.KEEP,
                                  help="Training time of each (model, size) pair; measuring comes on top.")
        seed = c3.number_input("Seed", 0, 2**31 - 1, CompareSettings.seed, key="sweep_seed", persist_state=ui.KEEP,
                               help="The same seed for every pair: the validation documents, the models, the estimates.")
        submitted = st.button("Run sweep", type="primary", key="run_sweep")
    if submitted and not busy():
        with ui.page_errors("starting the sweep"):
            ds = state.dataset()
            if ds.test is None or ds.test.n_docs == 0:
                raise CorpusError("A sweep measures every model on the test split, and this corpus has none: "
                                  "prepare it again on the Corpus page with a test fraction above 0.")
            units = settings.parse_sizes(sizes)
            if not models:
                raise CorpusError("Choose at least one model for the sweep.")
            compare = CompareSettings(models=tuple(models), max_minutes=float(seconds) / 60.0, seed=int(seed))
            state.start_sweep(SweepSettings(units=units, compare=compare))
            st.rerun()


def progress(run, p) -> None:
    """A sweep's progress (``p``: its :class:`app.runner.Progress`, the current model's): which
    pair, the current model's progress, the chart so far, and cancel."""
    s = run.sweep_progress()
    n_done = len(s.sweep.get("pairs", []))
    if p.status == RUNNING and s.model is not None:
        st.markdown(f"Pair {s.index} of {s.n_pairs}: **{ui.md(s.label)}** with {s.n_units} units")
        if s.phase == "measuring":
            parts = ["trained; measuring it on the test split"]
        else:
            parts = [f"{100 * p.fraction:.0f} % of its time budget"]
            parts.append(f"about {ui.fmt_seconds(p.remaining)} left (at most)" if p.remaining is not None
                         else "estimating...")
        parts.append(f"sweep: {n_done} of {s.n_pairs} finished, {ui.fmt_seconds(p.elapsed)} elapsed")
        st.progress(1.0 if s.phase == "measuring" else p.fraction, text=" · ".join(parts))
    else:
        st.progress(n_done / max(s.n_pairs, 1),
                    text=f"{n_done} of {s.n_pairs} pairs finished · {ui.fmt_seconds(p.elapsed)} · "
                         f"{STATUS.get(p.status, p.status)}")
    if p.error:
        st.error(ui.md(p.error))
    if p.status != RUNNING:
        return  # the table and chart follow on the page
    chart(s.sweep)
    if run.cancel_requested:
        st.info("Stopping after the current step; the models already finished are kept.")
    elif st.button("Cancel the sweep (keep the finished models)", key="cancel_training", icon=":material/stop_circle:"):
        SCHEDULER.cancel(run)
        st.rerun(scope="app")  # (the panel then polls faster: app.pages.train.poll_seconds)


def chart_points(sweep: dict) -> pd.DataFrame:
    """``model`` (label), ``units``, ``val_perplexity_bound`` of every finished pair with a
    validation bound."""
    columns = ["model", "units", "val_perplexity_bound"]
    if not sweep.get("pairs"):  # (a sweep not started yet is {})
        return pd.DataFrame([], columns=columns)
    names = labels(sweep)
    rows = [{"model": names[name], "units": size, "val_perplexity_bound": value}
            for name, values in figure_grid(sweep, "best_val_perplexity_bound").items()
            for size, value in sorted(values.items())
            if isinstance(value, (int, float)) and math.isfinite(value)]
    return pd.DataFrame(rows, columns=columns)


def chart(sweep: dict) -> None:
    points = chart_points(sweep)
    if points.empty:
        st.caption("The chart of the validation bound against the number of units fills in as models finish.")
        return
    st.altair_chart(charts.sweep_curve(points), width="stretch")
    n_val = sweep["corpus"]["n_docs_val"]
    st.caption(f"Best per-document perplexity bound on the {n_val} validation documents held out from the "
               "training split (lower is better): the figure the size is chosen by; compare sizes within a model.")


def table(sweep: dict) -> pd.DataFrame:
    """One row per finished pair: the model, its size, the figures of the sweep's table and the
    name its model is kept under in the workspace."""
    columns = table_columns(sweep)
    names = labels(sweep)
    order = {name: i for i, name in enumerate(sweep["settings"]["models"])}
    rows = []
    for pair in sorted(sweep["pairs"], key=lambda q: (order.get(q["model"], len(order)), q["n_units"])):
        row = {"model": names.get(pair["model"], pair["model"]), "units": pair["n_units"]}
        for key, title, _ in columns:
            value = pair["figures"].get(key)
            row[title] = value if isinstance(value, (int, float)) and math.isfinite(value) else None
        row["model in this workspace"] = pair.get("workspace_model")
        rows.append(row)
    return pd.DataFrame(rows)


def number_formats(sweep: dict) -> dict:
    """``st.dataframe`` column formats of :func:`table`, from the table's own (``{:.1f}`` -> ``%.1f``)."""
    return {title: st.column_config.NumberColumn(format="percent" if fmt.endswith("%}") else "%" + fmt[2:-1])
            for _, title, fmt in table_columns(sweep)}


def results() -> None:
    """The workspace's latest sweep: chart, table, reading, and its models to open."""
    sweep = state.workspace().sweep()
    if sweep is None:
        return
    conf, corpus = sweep["settings"], sweep["corpus"]
    n_all = len(conf["units"]) * len(conf["models"])
    st.subheader("Number of units: the latest sweep")
    budget = conf.get("max_minutes_per_pair")
    st.caption(
        f"Sizes {', '.join(map(str, conf['units']))}; {len(sweep['pairs'])} of {n_all} (model, size) pairs finished; "
        + (f"{ui.fmt_seconds(60 * budget)} of training per pair; " if budget else "")
        + f"seed {conf['seed']}; {corpus['n_docs_train']} training, {corpus['n_docs_val']} validation and "
        f"{corpus['n_docs_test']} test documents."
    )
    if not sweep["pairs"]:
        st.caption("No pair of this sweep has finished.")
        return
    chart(sweep)
    st.dataframe(table(sweep), hide_index=True, width="stretch", column_config=number_formats(sweep))
    st.caption("*val bound*: best validation bound perplexity during training. *test bound / IS / completion*: "
               f"per-document test perplexities by the bound, importance sampling ({conf['n_samples']} samples) and "
               "document completion (natural logarithms, lower is better). NPMI: top 10 words, mean over units; "
               "diversity: top 25 words.")
    st.markdown("\n".join(f"- {ui.md(sentence)}" for sentence in choice_reading(sweep)))
    kept = [q.get("workspace_model") for q in sweep["pairs"] if q.get("workspace_model") in state.models()]
    if kept:
        c1, c2, c3 = st.columns([2, 1, 1], vertical_alignment="bottom")
        name = c1.selectbox("A model of the sweep", kept, key="sweep_open_model", persist_state=ui.KEEP)
        if c2.button("Open in Explore", key="sweep_explore", icon=":material/travel_explore:"):
            st.session_state[state.EXPLORE_MODEL] = name
            st.switch_page(PAGES["explore"])
        if c3.button("Open in Compare", key="sweep_compare", icon=":material/leaderboard:"):
            st.switch_page(PAGES["compare"])
