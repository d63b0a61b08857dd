"""Corpus page: choose the demo, upload documents or load a prepared corpus; preprocessing
options; statistics of the corpus in use."""

from __future__ import annotations

import shutil
from dataclasses import replace

import streamlit as st

from app import charts, resources, settings, state, ui, uploads
from corpora import CorpusError, Dataset
from corpora.tables import NO_COLUMN

SOURCES = ("Demo corpus", "Upload files", "Prepared corpus folder")
AUTO = "(automatic)"
NONE = "(none)"
UPLOAD_KEY = "corpus_upload"
STAGED = "staged_upload"
KEPT = "staged_upload_kept"


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
        "gensim. Small enough to train both models in seconds."
    )


def staged_upload(files, came_back: bool) -> uploads.StagedUpload | None:
    """The session's staged copy of the files in the upload widget (written once per upload).

    The browser forgets the files of an upload widget its page stopped drawing; ``came_back``
    (the widget is drawn afresh: the user visited another page or source and came back) keeps
    the staged copy in use until the user uploads other files or forgets it."""
    cached = st.session_state.get(STAGED)
    if not files:
        if cached is not None and not isinstance(cached[1], str) and (came_back or st.session_state.get(KEPT)):
            st.session_state[KEPT] = True
            return cached[1]
        forget_upload()
        return None
    st.session_state.pop(KEPT, None)
    signature = tuple((f.file_id, f.name, f.size) for f in files)
    if cached is not None and cached[0] == signature:
        if isinstance(cached[1], str):
            raise CorpusError(cached[1])
        return cached[1]
    if cached is not None:  # a new upload replaces the previous one's files
        shutil.rmtree(cached[2], ignore_errors=True)
    limit = int(st.get_option("server.maxUploadSize")) * 1024 * 1024
    root = state.folder().new_subfolder("upload")
    try:
        staged = uploads.stage_uploads([(f.name, f.getvalue()) for f in files], root, max_bytes=limit)
    except CorpusError as exc:
        st.session_state[STAGED] = (signature, str(exc), root)
        raise
    st.session_state[STAGED] = (signature, staged, root)
    return staged


def forget_upload() -> None:
    """Drop the staged copy of the last upload and its files."""
    st.session_state.pop(KEPT, None)
    cached = st.session_state.pop(STAGED, None)
    if cached is not None:
        shutil.rmtree(cached[2], ignore_errors=True)


def upload_input() -> tuple[uploads.StagedUpload | None, dict]:
    """The upload widget and, for tables, the column pickers."""
    came_back = UPLOAD_KEY not in st.session_state
    files = st.file_uploader(
        "Documents", accept_multiple_files=True, key=UPLOAD_KEY,
        help=f"Upload {uploads.SUPPORTED}.",
    )
    st.caption(f"Accepted: {uploads.SUPPORTED}. Up to {st.get_option('server.maxUploadSize')} MB in all.")
    staged = staged_upload(files, came_back)
    if staged is None:
        return None, {}
    if st.session_state.get(KEPT):
        c1, c2 = st.columns([4, 1])
        c1.write(f"Still uploaded from before: {staged.describe()}. Upload files above to replace it.")
        if c2.button("Forget this upload", key="forget_upload", icon=":material/delete:"):
            forget_upload()
            st.rerun()
    else:
        st.write(f"Uploaded: {staged.describe()}.")
    columns = {}
    if staged.kind == "lines":
        whole = st.radio("This text file holds", ("one document per line", "one document"),
                         horizontal=True, key="upload_lines_mode", persist_state=ui.KEEP)
        if whole == "one document":
            staged = uploads.as_single_document(staged)
    if staged.is_table:
        c1, c2, c3 = st.columns(3)
        choices = (AUTO, *staged.columns)
        text = c1.selectbox("Text column", choices, key="upload_text_column", persist_state=ui.KEEP)
        label = c2.selectbox("Label column", (AUTO, NONE, *staged.columns), key="upload_label_column",
                             persist_state=ui.KEEP,
                             help="Optional: a class per document (used for label accuracy). (none): no labels.")
        doc_id = c3.selectbox("Id column", (AUTO, NONE, *staged.columns), key="upload_id_column",
                              persist_state=ui.KEEP, help="(none): the documents are numbered row-1, row-2, ...")
        picked = {AUTO: None, NONE: NO_COLUMN}
        columns = {
            "text_column": None if text == AUTO else text,
            "label_column": picked.get(label, label),
            "id_column": picked.get(doc_id, doc_id),
        }
        table_preview(staged, columns)
    if staged.kind in uploads.BAG_OF_WORDS:
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
