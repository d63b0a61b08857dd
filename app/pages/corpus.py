"""Corpus page: choose the demo, upload documents or load a prepared corpus; preprocessing
options; statistics of the corpus in use."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from app import charts, resources, settings, state, ui, uploads
from app.upload_widget import UploadBox
from corpora import Dataset

SOURCES = ("Demo corpus", "Upload files", "Prepared corpus folder")
UPLOAD = UploadBox(
    label="Documents", key="corpus_upload", staged_key="staged_upload", forget_key="forget_upload",
    picker_prefix="upload_", subfolder="upload",
    label_help="Optional: a class per document (used for label accuracy). (none): no labels.",
)


def preprocessing_options():
    """The preprocessing widgets -> PrepareOptions (raises CorpusError on a bad value)."""
    c1, c2, c3 = st.columns(3)
    with c1:
        stop = st.checkbox("Remove English stop words", value=True, key="opt_stopwords", persist_state=ui.KEEP)
        extra = st.text_input("More stop words",
                              key="opt_extra", persist_state=ui.KEEP, placeholder="e.g. said, would, also",
                              help="Words separated by commas or spaces.")
        stem = st.checkbox("Stem words (Snowball)", value=False, key="opt_stem", persist_state=ui.KEEP)
        bigrams = st.checkbox("Join frequent word pairs (bigrams)", value=False,
                              key="opt_bigrams", persist_state=ui.KEEP)
        headers = st.checkbox("Strip e-mail/news headers", value=False, key="opt_headers", persist_state=ui.KEEP,
                              help="Removes a leading block of 'Name: value' lines.")
    with c2:
        min_df = st.number_input("Min. documents per word", 1, 1000, 2, key="opt_min_df", persist_state=ui.KEEP,
                                 help="Words in fewer training documents are dropped.")
        max_df = st.slider("Max. fraction of documents per word", 0.05, 1.0, 0.95, 0.05,
                           key="opt_max_df", persist_state=ui.KEEP,
                           help="Words in a larger share of training documents are dropped.")
        max_words = st.number_input("Vocabulary size", 0, 100_000, 2000, 500,
                                    key="opt_max_words", persist_state=ui.KEEP,
                                    help="The most frequent words are kept; 0 keeps all.")
    with c3:
        own_split = st.checkbox("Use the source's own train/test folders when it has them", value=False,
                                key="opt_own_split", persist_state=ui.KEEP,
                                help="E.g. 20news-bydate-train / -test in the 20 Newsgroups tarball; a source without them is split at random, 20 % for testing.")
        test_fraction = st.slider("Test fraction", 0.0, 0.5, 0.2, 0.05,
                                  key="opt_test_fraction", persist_state=ui.KEEP,
                                  help="Share of the documents held out (at random) for evaluation.")
        seed = st.number_input("Seed", 0, 2**31 - 1, 0, key="opt_seed", persist_state=ui.KEEP)
    options = settings.prepare_options(
        stopwords=stop, extra_stopwords=extra, stem=stem, bigrams=bigrams, strip_headers=headers,
        min_df=min_df, max_df=max_df, max_words=max_words, test_fraction=test_fraction, seed=seed,
    )
    if own_split:
        options = replace(options, test_fraction=None)
    return options


def use_dataset(new: Dataset, name: str) -> None:
    state.set_dataset(new, name)
    state.flash("success", f"Corpus ready: **{ui.md(name)}**.")
    st.rerun()


def demo_input() -> None:
    st.write(
        "The Lee corpus: 300 short Australian news stories (Lee, Pincombe & Welsh 2005), bundled with "
        "gensim. Small enough to train each model within the Train page's one-minute budget."
    )


def upload_input() -> tuple[uploads.StagedUpload | None, dict]:
    """The upload box and, for a table, what "(automatic)" picks and its first rows."""
    staged, columns = UPLOAD.draw()
    if staged is not None and staged.is_table:
        table_preview(staged, columns)
    if staged is not None and staged.kind in uploads.BAG_OF_WORDS:
        st.caption("Bag-of-words input: the tokenizer and vocabulary options do not apply; the test fraction does.")
    return staged, columns


def table_preview(staged: uploads.StagedUpload, columns: dict) -> None:
    """What "(automatic)" picks, before preparing, and the table's first rows."""
    name = ui.md(staged.names[0])
    text, label, doc_id = uploads.column_choice(staged, **columns)
    if text is None:
        st.warning(f"(automatic) finds no column of text in {name} (its columns: "
                   f"{ui.md(', '.join(staged.columns))}); {uploads.PICK_TEXT}.", icon=":material/warning:")
    else:
        picks = {
            "text_column": f"text from **{ui.md(text)}**",
            "label_column": f"labels from **{ui.md(label)}**" if label else "no labels",
            "id_column": f"ids from **{ui.md(doc_id)}**" if doc_id else "rows numbered row-1, row-2, ...",
        }
        automatic = [pick for role, pick in picks.items() if columns[role] is None]
        if automatic:
            st.caption(f"(automatic) uses: {', '.join(automatic)}.")
    preview = uploads.preview_table(staged)
    st.caption(f"The first {len(preview)} rows of {name}:")
    st.dataframe(preview, hide_index=True, width="stretch")


def folder_input() -> str:
    path = st.text_input("Folder written by 'docmodel prepare' (on the machine running the app)",
                         key="prepared_path", persist_state=ui.KEEP, placeholder="runs/corpus")
    st.caption("A prepared corpus keeps its own preprocessing; the options do not apply.")
    return path.strip()


def source_panel() -> None:
    source = st.radio("Source", SOURCES, horizontal=True, key="corpus_source", persist_state=ui.KEEP)
    staged, columns, path = None, {}, ""
    if source == SOURCES[0]:
        demo_input()
    elif source == SOURCES[1]:
        staged, columns = upload_input()
    else:
        path = folder_input()
    options = None
    if source != SOURCES[2]:
        with st.expander("Preprocessing options", expanded=True):
            options = preprocessing_options()
    if source == SOURCES[0]:
        if st.button("Prepare the demo corpus", type="primary", key="prepare_demo"):
            with st.spinner("Preparing the demo corpus..."):
                ds = resources.demo_dataset(resources.options_key(options))
            use_dataset(ds, resources.DEMO_NAME)
    elif source == SOURCES[1]:
        if st.button("Prepare corpus", type="primary", key="prepare_upload", disabled=staged is None):
            with st.status("Preparing the uploaded corpus...", expanded=False) as status:
                ds = uploads.prepare_staged(staged, options, **columns)
                status.update(label="Corpus prepared", state="complete")
            use_dataset(ds, "upload: " + ", ".join(staged.names[:3]) + (" ..." if len(staged.names) > 3 else ""))
    elif st.button("Load corpus", type="primary", key="load_prepared", disabled=not path):
        with st.spinner("Loading the corpus..."):
            ds = Dataset.load(path)
        use_dataset(ds, f"folder: {path}")


def statistics(ds: Dataset) -> None:
    s = ds.summary()
    info = ds.info
    st.subheader(ui.md(state.dataset_name()))
    m = st.columns(5)
    m[0].metric("Training documents", f"{s['n_docs_train']:,}")
    m[1].metric("Test documents", f"{s['n_docs_test']:,}")
    m[2].metric("Vocabulary (words)", f"{s['n_words']:,}")
    m[3].metric("Dropped documents", f"{int(info.get('n_dropped_short', 0)) + s['n_dropped_empty']:,}",
                help="Too short, or left without any vocabulary word.")
    m[4].metric("Mean length", f"{s['mean_length_train']:.0f} tokens")
    notes = [f"split: {info.get('split', 'n/a')}"]
    if info.get("n_skipped_files"):
        notes.append(f"{info['n_skipped_files']} files skipped as not text")
    if info.get("note"):
        notes.append(info["note"])
    st.caption("; ".join(notes))
    tables = resources.corpus_tables(state.dataset_id(), ds)
    c1, c2 = st.columns(2)
    with c1:
        st.markdown("##### Document lengths")
        st.altair_chart(charts.length_histogram(tables["lengths"]), width="stretch")
        if tables["lengths_clipped_at"] is not None:
            st.caption(f"The longest 1 % of documents are counted in the last bin ({tables['lengths_clipped_at']:,} tokens).")
    with c2:
        st.markdown("##### Most frequent words (training split)")
        st.altair_chart(charts.top_words_bars(tables["top_words"]), width="stretch")
    st.dataframe(tables["splits"], hide_index=True, width="stretch")
    if not tables["labels"].empty:
        st.markdown("##### Documents per label")
        st.altair_chart(charts.label_bars(tables["labels"]), width="stretch")
    with st.expander("Sample documents"):
        corpus = ds.train
        n = min(5, corpus.n_docs)
        for i in range(n):
            label = f" [{corpus.labels[i]}]" if corpus.labels is not None and corpus.labels[i] else ""
            text = corpus.texts[i] if corpus.texts is not None else "(no raw text kept)"
            st.markdown(f"**{ui.md(corpus.doc_ids[i])}**{ui.md(label)}")
            st.text(text[:500] + (" ..." if len(text) > 500 else ""))


ui.page_setup()
st.title("Corpus")
st.caption("The documents models learn from. Choose a source, set the preprocessing, prepare; "
           "a failed attempt leaves the current corpus in place.")
with ui.page_errors("preparing the corpus"):
    with st.container(border=True):
        source_panel()

with ui.page_errors("showing the corpus statistics"):
    ds = state.dataset()
    if ds is None:
        st.info("No corpus in this session yet.")
    else:
        statistics(ds)
