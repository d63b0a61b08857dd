"""Compare page: the figures of EVALUATION.md for every model, training curves, the per-document
perplexity scatter (click a point to open the document in Explore) and NPMI per unit."""

from __future__ import annotations

import time
from numbers import Real

import numpy as np
import pandas as pd
import streamlit as st

from app import charts, measure, state, ui
from app.text_view import snippet
from docmodel.topwords import rule_note

SCATTER_COUNTER = "scatter_generation"
COLUMNS = {
    "perplexity_bound": ("perplexity (bound)", "10-sample variational bound; an upper bound on perplexity."),
    "perplexity_is": ("perplexity (importance sampled)", "100 samples from the model's approximate posterior."),
    "perplexity_completion": ("perplexity (document completion)",
                              "Posterior from a random half of each document, the other half scored: "
                              "the fairest comparison across models."),
    "npmi": ("NPMI coherence", "Mean over units of the NPMI of their top 10 words (training co-occurrence; "
                               "top words by the one rule, relevance with lambda 0.6, as Explore shows them)."),
    "diversity": ("topic diversity", "Distinct words among all units' top 25 (the same rule)."),
    "label_accuracy": ("label accuracy", "Logistic regression on the document representation, 5-fold CV; "
                                         "empty when too few documents per label."),
    "train_seconds": ("train time (s)", None),
}
BETTER = {"perplexity_bound": min, "perplexity_is": min, "perplexity_completion": min, "npmi": max,
          "diversity": max, "label_accuracy": max}
"""The figures whose best value is marked in the table, and which end is best."""
BEST_STYLE = "font-weight: bold; background-color: #dcefd8"
NPMI_NOTE = (
    "NPMI measures how often a unit's top words occur together in the training documents, not whether they "
    "make a topic: words that always travel together (boilerplate such as signatures, mail headers or a licence "
    "text) score high while saying nothing about the content, and several units made of the same words all score "
    "high. Read it beside topic diversity (the share of distinct words among all units' top words) and the top "
    "words themselves (Explore)."
)


def measure_missing(entries, ds, docs) -> None:
    missing = [e for e in entries if measure.figures(e) is None]
    if not missing:
        return
    with st.status(f"Measuring {len(missing)} model(s) on {docs.description}...", expanded=True) as status:
        bar = st.progress(0.0)
        for i, entry in enumerate(missing):
            status.update(label=f"Measuring {entry.name} ({i + 1} of {len(missing)}): bound, importance sampling, "
                                "completion, coherence, diversity...")
            t0 = time.perf_counter()
            measure.measure(entry, ds, docs)
            st.write(f"{ui.md(entry.name)}: measured in {time.perf_counter() - t0:.1f} s")
            bar.progress((i + 1) / len(missing))
        status.update(label=f"Measured {len(missing)} model(s)", state="complete", expanded=False)


def best_rows(values: list, better) -> list[bool]:
    """Which of a column's ``values`` hold its best value (``better``: ``min`` or ``max``), ties
    included; none when fewer than two values are known (nothing to compare)."""
    known = [v for v in values if isinstance(v, Real) and v == v]
    if len(known) < 2:
        return [False] * len(values)
    best = better(known)
    return [isinstance(v, Real) and v == best for v in values]


def figures_table(entries, has_labels: bool) -> None:
    rows, raw = [], {key: [] for key in COLUMNS}
    for e in entries:
        f = measure.figures(e)["figures"]
        row = {"model": e.name, "kind": e.kind_label, "units": str(f["n_units"]),
               "likelihood": "exact" if f.get("exact") else "estimated"}
        for key, (title, _) in COLUMNS.items():
            if key == "label_accuracy" and not has_labels:
                continue
            row[title] = _format(key, f.get(key))
            raw[key].append(f.get(key))
        rows.append(row)
    table = pd.DataFrame(rows)
    marks = pd.DataFrame("", index=table.index, columns=table.columns)
    for key, better in BETTER.items():
        title = COLUMNS[key][0]
        if title in table:
            marks[title] = [BEST_STYLE if best else "" for best in best_rows(raw[key], better)]
    st.table(table.style.apply(lambda _: marks, axis=None), hide_index=True)
    notes = [f"**{title}**: {text}" for key, (title, text) in COLUMNS.items()
             if text and (key != "label_accuracy" or has_labels)]
    notes.insert(0, "**likelihood**: exact where a model's likelihood is tractable (then its bound, importance "
                    "sampled and completion figures are exact), else estimated")
    st.caption(" · ".join(notes))
    st.caption("**In bold**: the best value of each figure among these models (the lowest perplexity; the highest "
               f"coherence, diversity and label accuracy). {NPMI_NOTE}")


def _format(key: str, value) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "n/a"
    if key == "label_accuracy":
        return f"{100 * value:.1f} %"
    if key in ("npmi", "diversity"):
        return f"{value:.3f}"
    return f"{value:,.1f}"


def curves(entries) -> None:
    rows = []
    for e in entries:
        for i, h in enumerate(getattr(e.model, "history_", [])):
            if h.get("val_perplexity_bound") is not None:
                rows.append({"model": e.name, "epoch": h.get("epoch", i + 1), "seconds": h.get("seconds", 0.0),
                             "val_perplexity_bound": h["val_perplexity_bound"]})
    if not rows:
        st.caption("No training curves recorded (models loaded from files without history).")
        return
    x = st.radio("Horizontal axis", ("seconds", "epoch"), horizontal=True, key="curve_axis", persist_state=ui.KEEP)
    st.altair_chart(charts.training_curves(pd.DataFrame(rows), x=x), width="stretch")


def open_in_explore(split: str, position: int) -> None:
    st.session_state[state.EXPLORE_DOC_REQUEST] = {"split": split, "position": int(position)}
    st.session_state[SCATTER_COUNTER] = st.session_state.get(SCATTER_COUNTER, 0) + 1
    st.switch_page(ui.PAGES["explore"])


def picked_doc(event) -> int | None:
    """The ``doc`` field of the clicked point in an altair selection event, if any."""
    chosen = (event or {}).get("selection", {}).get(charts.SCATTER_SELECTION)
    if isinstance(chosen, dict):
        chosen = chosen.get("doc", chosen.get("vlPoint"))
    if isinstance(chosen, list) and chosen:
        first = chosen[0]
        value = first.get("doc") if isinstance(first, dict) else first
        try:
            return int(value)
        except (TypeError, ValueError):
            return None
    return None


def scatter(entries, docs) -> None:
    names = [e.name for e in entries]
    # The first model against the first of another kind (an SBN against LDA), else the next one.
    other = [i for i, e in enumerate(entries) if e.kind != entries[0].kind]
    c1, c2 = st.columns(2)
    x_name = c1.selectbox("Horizontal", names, index=0, key="scatter_x", persist_state=ui.KEEP)
    y_default = other[0] if other else min(1, len(names) - 1)
    y_name = c2.selectbox("Vertical", names, index=y_default, key="scatter_y", persist_state=ui.KEEP)
    per_x = measure.figures(state.models()[x_name])["per_document"]
    per_y = measure.figures(state.models()[y_name])["per_document"]
    a = pd.DataFrame({"doc": per_x["doc_index"], "x": per_x["doc_perplexity_bound"]})
    b = pd.DataFrame({"doc": per_y["doc_index"], "y": per_y["doc_perplexity_bound"]})
    points = a.merge(b, on="doc")
    corpus = docs.corpus
    points["doc_id"] = [corpus.doc_ids[i] for i in points["doc"]]
    points["tokens"] = corpus.doc_lengths[points["doc"].to_numpy()]
    points["snippet"] = [snippet(corpus.texts[i] if corpus.texts else "", 100) for i in points["doc"]]
    points["better"] = np.where(points["x"] < points["y"], x_name, y_name)
    share = float(np.mean(points["x"] < points["y"])) if len(points) else 0.0
    st.caption(f"{ui.md(x_name)} has the lower bound perplexity on {100 * share:.0f} % of the {len(points)} documents. "
               "Click a point to open that document in Explore (double-click clears).")
    key = f"doc_scatter_{st.session_state.get(SCATTER_COUNTER, 0)}"
    event = st.altair_chart(charts.perplexity_scatter(points, x_name, y_name), width="stretch", key=key,
                            on_select="rerun", selection_mode=charts.SCATTER_SELECTION)
    doc = picked_doc(event)
    if doc is not None:
        open_in_explore(docs.split, docs.positions[doc])
    gap = points.assign(log_ratio=np.log(points["x"] / points["y"]))
    gap = gap.reindex(gap["log_ratio"].abs().sort_values(ascending=False).index).head(20)
    c1, c2 = st.columns([3, 1])
    labels = {int(r.doc): f"{corpus.doc_ids[int(r.doc)]}: {x_name} {r.x:,.0f} vs {y_name} {r.y:,.0f}"
              for r in gap.itertuples()}
    chosen = c1.selectbox("Or open one of the documents where the two disagree most", list(labels),
                          key="scatter_pick", persist_state=ui.KEEP, format_func=labels.__getitem__)
    c2.write("")
    if c2.button("Open in Explore", key="scatter_open", disabled=chosen is None):
        open_in_explore(docs.split, docs.positions[chosen])


def npmi(entries) -> None:
    rows = []
    for e in entries:
        f = measure.figures(e)["figures"]
        for k, (value, words) in enumerate(zip(f["npmi_per_unit"], f["top_words"])):
            rows.append({"model": e.name, "unit": k, "npmi": value, "top_words": " ".join(words)})
    table = pd.DataFrame(rows)
    st.altair_chart(charts.npmi_strip(table.dropna(subset=["npmi"])), width="stretch")
    with st.expander("Every unit's NPMI and top words"):
        st.caption(rule_note())
        st.dataframe(table.sort_values(["model", "npmi"], ascending=[True, False]), hide_index=True,
                     width="stretch", height=ui.table_height(len(table)),
                     column_config={"npmi": st.column_config.NumberColumn(format="%.3f")})


def downloads(entries, ds, docs) -> None:
    report, per_document = measure.report(entries, ds, docs)
    c1, c2 = st.columns(2)
    c1.download_button("Download the report (Markdown)", measure.report_markdown(report, per_document),
                       file_name="comparison.md", mime="text/markdown", key="compare_report_md",
                       icon=":material/download:")
    c2.download_button("Download the figures (JSON)", measure.report_json(report), file_name="comparison.json",
                       mime="application/json", key="compare_report_json", icon=":material/download:")


ui.page_setup()
st.title("Compare")
ds = ui.require_corpus()
usable = ui.require_models()
docs = state.evaluation_docs(ds)
st.caption(
    f"Every model is measured on {docs.description}, with the same estimators (EVALUATION.md): per-document "
    "perplexity exp(-mean log p(x)/L), natural logarithms, lower is better; coherence and diversity higher is better."
)
with ui.page_errors("measuring the models"):
    ui.select_new_options("compare_models", [e.name for e in usable])
    names = st.multiselect("Models", [e.name for e in usable], key="compare_models", persist_state=ui.KEEP)
    chosen = [state.models()[n] for n in names]
    if not chosen:
        st.info("Choose at least one model.")
        st.stop()
    measure_missing(chosen, ds, docs)
    st.subheader("Figures")
    figures_table(chosen, docs.corpus.has_labels)
    downloads(chosen, ds, docs)
with ui.page_errors("drawing the training curves"):
    st.subheader("Training curves")
    curves(chosen)
with ui.page_errors("drawing the document scatter"):
    st.subheader("Document by document")
    if len(chosen) < 2:
        st.info("Choose two models to compare them document by document.")
    else:
        scatter(chosen, docs)
with ui.page_errors("drawing the coherence chart"):
    st.subheader("Coherence of each unit")
    npmi(chosen)
