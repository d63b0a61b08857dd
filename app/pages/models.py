"""Models page: download a model as one plain-data checkpoint (the workspace's own file) and load
one back into the workspace; CSVs of document representations and top words; the comparison
report."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from app import exports, measure, settings, state, ui
from docmodel.models import model_kind

UPLOAD_KEY = "model_upload"
LOADED = "loaded_model_uploads"


def checkpoint_bytes(entry: state.ModelEntry) -> bytes:
    """The model's checkpoint: the workspace's file, or one written now for a model without it."""
    path = state.model_file(entry)
    if path is not None:
        return path.read_bytes()
    return state.cached(("checkpoint", entry.name), lambda: exports.checkpoint_bytes(entry.model),
                        spinner=f"Writing {entry.name} as a checkpoint...")


def model_table() -> None:
    ds = state.dataset()
    rows = [{
        "name": e.name,
        "kind": e.kind_label,
        "units": e.n_units,
        "origin": e.origin,
        "vocabulary": f"{e.model.n_words_:,} words",
        "fits this corpus": e.fits(ds),
    } for e in state.models().values()]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


def one_model(entry: state.ModelEntry) -> None:
    c1, c2, c3 = st.columns(3)
    c1.download_button("Download model (.pt)", checkpoint_bytes(entry), file_name=f"{entry.name}.pt",
                       mime="application/octet-stream", key="download_model", icon=":material/download:",
                       help="One plain-data file: configuration, weights, vocabulary, metrics. Load it back here "
                            "or with docmodel.checkpoint.load_model.")
    top = exports.top_words_table(entry.model, 20)
    c2.download_button("Top words (CSV)", top.to_csv(index=False), file_name=f"{entry.name}-top-words.csv",
                       mime="text/csv", key="download_top_words", icon=":material/download:",
                       help="Each unit's 20 top words, ranked by relevance with lambda = 0.6 as on the Explore "
                            "page (docs/readable-units.md).")
    if c3.button("Remove from workspace", key="remove_model", icon=":material/delete:",
                 help="Deletes the model and its figures from this workspace; download it first to keep a copy."):
        state.remove_model(entry.name)
        state.flash("info", f"Removed {ui.md(entry.name)} from the workspace.")
        st.rerun()


def document_csvs() -> None:
    ds = state.dataset()
    usable = state.usable_models()
    if ds is None or not usable:
        st.caption("Train a model on the current corpus to download document representations.")
        return
    c1, c2 = st.columns(2)
    name = c1.selectbox("Model", [e.name for e in usable], key="csv_model", persist_state=ui.KEEP)
    splits = ["train", "test"] if ds.test is not None else ["train"]
    split = c2.radio("Documents", splits, horizontal=True, key="csv_split", persist_state=ui.KEEP)
    entry = state.models()[name]
    corpus = state.split_corpus(ds, split)
    weights = state.cached(("doc_unit", entry.name, split), lambda: np.asarray(entry.model.transform(corpus.X)),
                           spinner=f"Inferring the {split} documents' units under {entry.name}...")
    table = exports.doc_unit_table(entry.model, corpus, weights)
    kind = model_kind(entry.kind)
    st.download_button(f"Download {kind.export_text} (CSV, {len(table):,} x {weights.shape[1]})", table.to_csv(index=False),
                       file_name=f"{entry.name}-{split}-{kind.export_tag}.csv",
                       mime="text/csv", key="download_doc_unit", icon=":material/download:")


def report() -> None:
    ds = state.dataset()
    entries = [e for e in state.usable_models() if measure.figures(e) is not None]
    if ds is None or not entries:
        st.caption("Measure the models on the Compare page first; the report is made from those figures.")
        st.page_link(ui.PAGES["compare"], label="Go to Compare", icon=":material/leaderboard:")
        return
    docs = state.evaluation_docs(ds)
    data, per_document = measure.report(entries, ds, docs)
    c1, c2 = st.columns(2)
    c1.download_button("Comparison report (Markdown)", measure.report_markdown(data, per_document),
                       file_name="comparison.md", mime="text/markdown", key="models_report_md",
                       icon=":material/download:")
    c2.download_button("Comparison figures (JSON)", measure.report_json(data), file_name="comparison.json",
                       mime="application/json", key="models_report_json", icon=":material/download:")
    st.caption(f"{len(entries)} measured model(s): {ui.md(', '.join(e.name for e in entries))}.")


def upload() -> None:
    file = st.file_uploader("Load a model file (.pt)", type=["pt"], key=UPLOAD_KEY,
                            help="A checkpoint downloaded from this page or written by 'docmodel train'.")
    if file is None:
        return
    done = st.session_state.setdefault(LOADED, {})
    if file.file_id in done:
        st.caption(f"{ui.md(file.name)} is loaded as **{ui.md(done[file.file_id])}**.")
        return
    with st.spinner(f"Checking and loading {file.name}..."):
        model = exports.model_from_bytes(file.name, file.getvalue())
    entry = state.ModelEntry(state.unique_name(settings.model_name_from_file(file.name)), model,
                             {"file": file.name}, "uploaded")
    state.add_model(entry)  # written into the workspace; refused over its quota
    done[file.file_id] = entry.name
    fits = entry.fits(state.dataset())
    state.flash("success", f"Loaded **{ui.md(entry.name)}** ({entry.kind_label}, {entry.n_units} units) into the "
                "workspace" + ("." if fits else "; its vocabulary differs from the current corpus, so it cannot score it."))
    st.rerun()  # the whole app: the sidebar, drawn before this page, lists the model too


ui.page_setup()
st.title("Models")
with ui.page_errors("loading the model"):
    st.subheader("Load a model")
    upload()
with ui.page_errors("listing the models"):
    st.subheader("Models in this workspace")
    if not state.models():
        st.info("No models yet: train one on the Train page, or load a file above.")
    else:
        model_table()
        name = st.selectbox("Model", list(state.models()), key="models_pick", persist_state=ui.KEEP)
        one_model(state.models()[name])
with ui.page_errors("preparing the document tables"):
    st.subheader("Document representations")
    document_csvs()
with ui.page_errors("preparing the report"):
    st.subheader("Comparison report")
    report()
