"""Explore page: the SBN's units beside LDA's topics, the documents that switch a unit on, one
document with its words coloured by the unit that explains them, text search and a map of units."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from app import charts, state, text_view, ui
from docmodel.explain import (
    attributed_segments,
    label_purity,
    token_spans,
    top_documents,
    unit_label,
    unit_map,
    unit_on,
    unit_word_distributions,
    word_attribution,
)
from docmodel.models import REGISTRY, model_kind
from docmodel.quality import npmi_coherence
from docmodel.topwords import DEFAULT_RELEVANCE, rule_note

UNIT = "explore_unit"
DOC = "explore_doc"
SPLIT = "explore_split"
RELEVANCE = "explore_relevance"
MODEL = state.EXPLORE_MODEL
BESIDE = "explore_beside"
LEGEND_UNITS = 8
WIDE = {"top words": st.column_config.TextColumn(width="large"), "snippet": st.column_config.TextColumn(width="large"),
        "match": st.column_config.TextColumn(width="large")}


def doc_unit(entry, split: str, corpus) -> np.ndarray:
    return state.cached(("doc_unit", entry.name, split), lambda: np.asarray(entry.model.transform(corpus.X)),
                        spinner=f"Inferring the {split} documents' units under {entry.name}...")


def relevance() -> float:
    return float(st.session_state.get(RELEVANCE, DEFAULT_RELEVANCE))


def top_words(entry, n: int = 10) -> list[list[str]]:
    """The unit's top words by the one ranking rule, at the page's relevance lambda."""
    lam = relevance()
    return state.cached(("top_words", entry.name, n, lam), lambda: entry.model.top_words(n, relevance=lam))


def labels_of(entry) -> list[str]:
    """Short names of the units ("7 · space nasa orbit"), as shown everywhere on the page."""
    return [unit_label(words, k) for k, words in enumerate(top_words(entry))]


def npmi_of_shown(entry, ds) -> np.ndarray:
    """NPMI of the top 10 words shown, from co-occurrence in the training documents."""
    lam = relevance()
    return state.cached(("npmi_shown", entry.name, lam),
                        lambda: npmi_coherence(entry.model.top_word_ids(10, relevance=lam), ds.train.X, n_top=10))


def pick_row(table_key: str, positions_key: str, target: str) -> None:
    """Callback of a selectable table: put the chosen row's value into the widget ``target``."""
    rows = st.session_state[table_key]["selection"]["rows"]
    values = st.session_state.get(positions_key, [])
    if rows and rows[0] < len(values):
        st.session_state[target] = int(values[rows[0]])


def apply_doc_request(ds) -> None:
    """A document sent here from another page (the Compare scatter)."""
    request = st.session_state.pop(state.EXPLORE_DOC_REQUEST, None)
    if request:
        split = request["split"] if request["split"] == "train" or ds.test is not None else "train"
        st.session_state[SPLIT] = split
        st.session_state[DOC] = int(request["position"])


NONE = "(none)"


def pick_models(usable, left, right):
    """The model to explore and, optionally, one to show beside it. By default the first model of
    the kind the registry lists first (an SBN, when there is one) and beside it the first model of
    another kind."""
    names = [e.name for e in usable]
    kinds = list(REGISTRY)
    first = min(usable, key=lambda e: kinds.index(e.kind) if e.kind in kinds else len(kinds)).name
    if st.session_state.get(MODEL) not in names:
        st.session_state[MODEL] = first
    name = left.selectbox("Model", names, key=MODEL, persist_state=ui.KEEP)
    entry = state.models()[name]
    others = [NONE] + [n for n in names if n != name]
    default = next((e.name for e in usable if e.kind != entry.kind), NONE)
    if st.session_state.get(BESIDE) not in others:
        st.session_state[BESIDE] = default
    other = right.selectbox("Beside it", others, key=BESIDE, persist_state=ui.KEEP)
    return entry, None if other == NONE else state.models()[other]


def units_grid(main, beside, split, corpus, ds) -> None:
    st.session_state.setdefault(RELEVANCE, DEFAULT_RELEVANCE)
    st.slider("Relevance of the words shown (lambda)", 0.0, 1.0, step=0.1, key=RELEVANCE, persist_state=ui.KEEP,
              help="1: each unit's most probable words; 0: the words most specific to it. "
              f"{DEFAULT_RELEVANCE:g} (the default) is what docmodel topics prints and the Compare page scores.")
    cols = st.columns(2 if beside else 1)
    for col, entry in zip(cols, [e for e in (main, beside) if e is not None]):
        with col:
            weights = doc_unit(entry, split, corpus)
            on = unit_on(entry.model, weights)
            words = top_words(entry)
            table = pd.DataFrame({
                "unit": labels_of(entry),
                "on in (% of docs)": (100 * on.mean(axis=0)).round(1),
                "top words": [" ".join(w) for w in words],
                "NPMI": np.round(npmi_of_shown(entry, ds), 3),
            })
            if corpus.labels is not None:
                purity, majority = label_purity(on, corpus.labels)
                table.insert(2, "label purity", [
                    "-" if m is None else f"{100 * p:.0f}% {m}" for p, m in zip(purity, majority)
                ])
            title = model_kind(entry.kind).units_title
            st.markdown(f"**{title}: {ui.md(entry.name)}**")
            key = f"units_table_{'main' if entry is main else 'beside'}"
            st.session_state[f"{key}_values"] = list(range(weights.shape[1]))
            if entry is main:
                st.dataframe(table, hide_index=True, width="stretch", height=ui.table_height(len(table)), key=key,
                             column_config=WIDE,
                             on_select=lambda k=key: pick_row(k, f"{k}_values", UNIT), selection_mode="single-row")
            else:
                st.dataframe(table, hide_index=True, width="stretch", height=ui.table_height(len(table)),
                             column_config=WIDE)
    on_rules = [f"{kind.on_rule} for an {kind.label} {kind.unit_name}"
                for kind in map(model_kind, dict.fromkeys(e.kind for e in (main, beside) if e is not None))]
    st.caption(
        rule_note(relevance()) + f" *On*: {', '.join(on_rules)}, in the {split} documents. NPMI of the 10 "
        "words shown, from co-occurrence in the training documents. Label purity: the most common label among the documents that switch the unit on, and its "
        "share. Select a row of the first table to see its documents below."
    )


def unit_documents(entry, split, corpus) -> None:
    weights = doc_unit(entry, split, corpus)
    n_units = weights.shape[1]
    if st.session_state.get(UNIT, 0) >= n_units:
        st.session_state[UNIT] = 0
    names = labels_of(entry)
    kind = model_kind(entry.kind)
    unit = st.selectbox(kind.unit_name.capitalize(), list(range(n_units)), key=UNIT, persist_state=ui.KEEP,
                        format_func=lambda k: names[k])
    best = top_documents(weights, unit, n=10)
    what = kind.representation
    table = pd.DataFrame({
        "document": [corpus.doc_ids[i] for i in best],
        what: np.round(weights[best, unit], 3),
        "snippet": [text_view.snippet(corpus.texts[i] if corpus.texts else "", 140) for i in best],
    })
    if corpus.labels is not None:
        table.insert(1, "label", [corpus.labels[i] for i in best])
    st.session_state["unit_docs_values"] = [int(i) for i in best]
    st.dataframe(table, hide_index=True, width="stretch", key="unit_docs", column_config=WIDE,
                 on_select=lambda: pick_row("unit_docs", "unit_docs_values", DOC), selection_mode="single-row")
    st.caption(f"The {len(best)} documents of the {split} split that switch this unit on most strongly. "
               "Select one to read it below.")


def search_box(corpus) -> None:
    query = st.text_input("Find documents by text",
                          key="explore_search", persist_state=ui.KEEP, placeholder="words that must all occur")
    if not query.strip():
        return
    hits = text_view.search(corpus.texts, corpus.doc_ids, query, limit=30)
    if not hits:
        st.caption("No document contains all of these words.")
        return
    st.session_state["search_values"] = [i for i, _ in hits]
    table = pd.DataFrame({"document": [corpus.doc_ids[i] for i, _ in hits], "match": [s for _, s in hits]})
    st.dataframe(table, hide_index=True, width="stretch", height=min(300, 38 + 35 * len(hits)), key="search_hits",
                 column_config=WIDE,
                 on_select=lambda: pick_row("search_hits", "search_values", DOC), selection_mode="single-row")
    st.caption(f"{len(hits)} document(s) found{' (first 30)' if len(hits) == 30 else ''}; select one to read it.")


def document_view(main, beside, split, corpus, ds) -> None:
    n_docs = corpus.n_docs
    if st.session_state.get(DOC, 0) >= n_docs:
        st.session_state[DOC] = 0
    doc = st.selectbox("Document", list(range(n_docs)),
                       key=DOC, persist_state=ui.KEEP, format_func=lambda i: corpus.doc_ids[i])
    x = corpus.X[doc]
    label = f" · label **{ui.md(corpus.labels[doc])}**" if corpus.labels is not None and corpus.labels[doc] else ""
    st.markdown(f"**{ui.md(corpus.doc_ids[doc])}**{label} · {int(x.sum())} tokens in the vocabulary")
    explainer = main
    weights = doc_unit(explainer, split, corpus)[doc]
    word_unit = word_attribution(explainer.model, x)
    order = [int(k) for k in np.argsort(-weights) if weights[k] > explainer.model.active_threshold]
    colours = text_view.unit_colours(order[:LEGEND_UNITS])
    if corpus.texts is not None:
        spans = token_spans(corpus.texts[doc], ds.info.get("options"), ds.vocabulary)
        pieces = attributed_segments(corpus.texts[doc], spans, word_unit)
    else:
        pieces = text_view.bag_of_words_pieces(x.indices, x.data, ds.vocabulary.words, word_unit)
    words = top_words(explainer)
    st.html(text_view.legend_html(colours, dict(enumerate(words)), {k: float(weights[k]) for k in colours}))
    note = text_view.colouring_note(len(order), len(colours), model_kind(explainer.kind).unit_name)
    if note:
        st.caption(note)
    st.html(text_view.coloured_html(pieces, colours))
    st.caption(model_kind(explainer.kind).attribution_text)
    cols = st.columns(2 if beside else 1)
    for col, entry in zip(cols, [e for e in (main, beside) if e is not None]):
        with col:
            w = doc_unit(entry, split, corpus)[doc]
            values = pd.DataFrame({"unit": np.arange(len(w)), "value": w, "top_words": labels_of(entry)})
            title = model_kind(entry.kind).representation
            st.markdown(f"**{ui.md(entry.name)}**: {title}")
            st.altair_chart(charts.unit_bars(values, title, colours if entry is explainer else None), width="stretch")


def units_map(main, beside, split, corpus) -> None:
    entries = [e for e in (main, beside) if e is not None]

    def compute():
        dists = [unit_word_distributions(e.model) for e in entries]
        return unit_map(np.vstack(dists), random_state=0)

    xy = state.cached(("unit_map", *(e.name for e in entries)), compute,
                      spinner="Placing the units by their Jensen-Shannon distances...")
    rows, at = [], 0
    for e in entries:
        weights = unit_on(e.model, doc_unit(e, split, corpus)).mean(axis=0)
        for k, words in enumerate(top_words(e)):
            rows.append({"x": xy[at + k, 0], "y": xy[at + k, 1], "model": f"{e.name} ({e.kind.upper()})",
                         "unit": k, "weight": float(weights[k]), "top_words": unit_label(words, k, 8)})
        at += len(top_words(e))
    st.altair_chart(charts.unit_map(pd.DataFrame(rows)), width="stretch")
    st.caption("Units placed by multidimensional scaling of the Jensen-Shannon distances between the words each "
               "adds to a document (an SBN unit: the probability it adds to each word in the training documents "
               "that switch it on; an LDA topic: its word distribution). Units that add the same words land "
               "together.")


ui.page_setup()
st.title("Explore")
ds = ui.require_corpus()
ui.require_models()
usable = state.usable_models()
with ui.page_errors("exploring the models"):
    apply_doc_request(ds)
    c1, c2, c3 = st.columns(3)
    main, beside = pick_models(usable, c1, c2)
    splits = ["train", "test"] if ds.test is not None else ["train"]
    if st.session_state.get(SPLIT) not in splits:
        st.session_state[SPLIT] = splits[-1]
    split = c3.radio("Documents from", splits, key=SPLIT, persist_state=ui.KEEP, horizontal=True)
    corpus = state.split_corpus(ds, split)

with ui.page_errors("showing the units"):
    st.subheader("Units and topics")
    units_grid(main, beside, split, corpus, ds)
with ui.page_errors("listing a unit's documents"):
    st.subheader("Documents that switch a unit on")
    unit_documents(main, split, corpus)
with ui.page_errors("showing the document"):
    st.subheader("A document")
    search_box(corpus)
    document_view(main, beside, split, corpus, ds)
with ui.page_errors("drawing the map of units"):
    st.subheader("Map of units and topics")
    units_map(main, beside, split, corpus)
