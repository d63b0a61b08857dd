"""Score new documents page: pick a trained model of the workspace, upload documents, see each
document's units or topics and bound perplexity, read one with its words coloured by unit, and
download the table. The scoring is :func:`docmodel.new_documents.score_new_documents` (what
``docmodel transform`` runs); the workspace's corpus and models are left as they are."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import streamlit as st

from app import charts, state, text_view, ui, uploads
from app.upload_widget import UploadBox
from corpora import CorpusError
from corpora.errors import ColumnError, NoDocumentsLeft
from docmodel.explain import attributed_segments, token_spans, unit_label, word_attribution
from docmodel.models import model_kind
from docmodel.new_documents import score_new_documents

MODEL = "score_model"
TOP = "score_top"
RESULT = "score_result"
DOC = "score_doc"
TABLE = "score_table"
LEGEND_UNITS = 8
WIDE = {"top_units": st.column_config.TextColumn("top units", width="large"),
        "perplexity_bound": st.column_config.NumberColumn("perplexity (bound)", format="%.1f")}
UPLOAD = UploadBox(
    label="Documents to score", key="score_upload", staged_key="score_staged_upload",
    forget_key="score_forget_upload", picker_prefix="score_", subfolder="score-upload",
    label_help="Optional: a class per document, shown in the table. (none): no labels.",
)


def pick_model(entries: dict[str, state.ModelEntry]) -> state.ModelEntry:
    """The model to score with; by default the first one trained on the workspace's corpus."""
    names = list(entries)
    if st.session_state.get(MODEL) not in names:
        usable = [e.name for e in state.usable_models()]
        st.session_state[MODEL] = usable[0] if usable else names[0]
    name = st.selectbox("Model", names, key=MODEL, persist_state=ui.KEEP, format_func=lambda n: entries[n].label())
    return entries[name]


def corpus_options(entry: state.ModelEntry) -> dict | None:
    """Tokenizer settings for new documents: the workspace corpus's when the model was trained on
    it (same vocabulary), else None (prepare's defaults)."""
    ds = state.dataset()
    return ds.info.get("options") if entry.fits(ds) else None


def tokenizer_note(entry: state.ModelEntry) -> str:
    if corpus_options(entry) is not None:
        return f"Documents are tokenized as the workspace's corpus ({ui.md(state.dataset_name())}) was."
    return ("This model was not trained on the workspace's corpus: documents are tokenized with the default "
            "settings (English stop words, words of letters).")


def upload_input() -> tuple[uploads.StagedUpload | None, dict]:
    """The upload box (as on the Corpus page) and, for a table, its first rows."""
    staged, columns = UPLOAD.draw()
    if staged is not None and staged.is_table:
        with st.expander(f"The first rows of {ui.md(staged.names[0])}"):
            st.dataframe(uploads.preview_table(staged), hide_index=True, width="stretch")
    return staged, columns


def score(entry: state.ModelEntry, staged: uploads.StagedUpload, columns: dict, top: int) -> dict:
    """Score the staged documents; every problem a CorpusError in the page's words."""
    names = ", ".join(staged.names[:3]) + (" ..." if len(staged.names) > 3 else "")
    if staged.kind in uploads.BAG_OF_WORDS:
        raise CorpusError(
            f"{names} is a bag-of-words file, and scoring needs the documents' text to encode it with the "
            "model's vocabulary; upload text files, an archive of them or a table with a column of text"
        )
    text = columns.get("text_column") or (staged.automatic[0] if staged.is_table else None)
    if staged.is_table and text is None:
        raise CorpusError(f"{names} has no column of text for (automatic) to use (its columns: "
                          f"{', '.join(staged.columns)}); {uploads.PICK_TEXT}")
    try:
        scored = score_new_documents(
            entry.model, staged.path, options=corpus_options(entry), top=top, name=f"model {entry.name}",
            fmt="lines" if staged.kind == "lines" else None, **columns,
        )
    except ColumnError as exc:  # its message ends with CLI advice (--id-column, ...)
        raise CorpusError(f"{exc.problem}; choose another column in the {exc.role.capitalize()} column picker") from None
    except NoDocumentsLeft as exc:
        raise CorpusError(nothing_left(exc.reason, names, text, entry)) from None
    return {"workspace": state.workspace().id, "entry": entry, "names": names, "scored": scored,
            "tokenized": tokenizer_note(entry)}


def nothing_left(reason: str, names: str, text_column: str | None, entry: state.ModelEntry) -> str:
    """The page's words for :class:`corpora.errors.NoDocumentsLeft` (whose message advises CLI flags)."""
    if reason == "no_documents":
        return f"{names} holds no documents; upload another file"
    if reason == "too_short" and text_column is not None:
        return (f"column {text_column!r} of {names} gives no document with words: its values are not text or "
                f"are empty; {uploads.PICK_TEXT}")
    if reason == "too_short":
        return f"no document in {names} has a word once stop words are removed; upload documents with more text"
    where = f" (text column {text_column!r})" if text_column is not None else ""
    return (f"no document of {names}{where} has a word of the vocabulary of model {entry.name} "
            f"({len(entry.model.vocabulary_):,} words); upload documents in the language and on the "
            "subjects of the corpus it was trained on")


def summary(result: dict) -> None:
    scored = result["scored"]
    st.markdown(f"**{ui.md(result['names'])}** scored with **{ui.md(result['entry'].label())}**. "
                f"{result['tokenized']}")
    m = st.columns(4)
    m[0].metric("Documents scored", f"{len(scored.table):,}")
    m[1].metric("Tokens in the vocabulary", f"{scored.n_tokens:,}")
    m[2].metric("Tokens outside it", f"{scored.n_tokens_outside_vocabulary:,}",
                help="Words the model does not know: they play no part in the scores.")
    m[3].metric("Documents left out", f"{scored.n_left_out:,}", help="They have no perplexity.")
    reasons = []
    if scored.n_no_vocabulary_word:
        reasons.append(f"{scored.n_no_vocabulary_word:,} with no word of the model's vocabulary")
    if scored.n_no_tokens:
        reasons.append(f"{scored.n_no_tokens:,} with no word at all once stop words are removed")
    if reasons:
        st.caption(f"Left out: {'; '.join(reasons)}.")


def pick_row() -> None:
    """Callback of the table: open the selected document below."""
    rows = st.session_state[TABLE]["selection"]["rows"]
    if rows:
        st.session_state[DOC] = int(rows[0])


def scores_table(result: dict) -> None:
    entry, table = result["entry"], result["scored"].table
    kind = model_kind(entry.kind)
    st.dataframe(table, hide_index=True, width="stretch", height=ui.table_height(len(table), 12), key=TABLE,
                 column_config=WIDE, on_select=pick_row, selection_mode="single-row")
    st.caption(f"One row per document: tokens in the vocabulary, the perplexity bound exp(-bound / tokens), the "
               f"strongest {kind.unit_name}s and, in the columns {kind.export_prefix}k, each {kind.unit_name}'s "
               f"{kind.representation}. Select a row to read the document below.")
    parquet = io.BytesIO()
    table.to_parquet(parquet, index=False)
    stem = f"scored-{entry.name}"
    c1, c2 = st.columns(2)
    c1.download_button("Download the table (CSV)", table.to_csv(index=False), file_name=f"{stem}.csv",
                       mime="text/csv", key="score_download_csv", icon=":material/download:")
    c2.download_button("Download the table (Parquet)", parquet.getvalue(), file_name=f"{stem}.parquet",
                       mime="application/vnd.apache.parquet", key="score_download_parquet",
                       icon=":material/download:")


def document_view(result: dict) -> None:
    """One scored document, its words coloured by the unit that explains them (as on Explore)."""
    entry, scored = result["entry"], result["scored"]
    model, corpus = entry.model, scored.corpus
    if st.session_state.get(DOC, 0) >= corpus.n_docs:
        st.session_state[DOC] = 0
    doc = st.selectbox("Document", list(range(corpus.n_docs)), key=DOC, persist_state=ui.KEEP,
                       format_func=lambda i: corpus.doc_ids[i])
    x = corpus.X[doc]
    label = f" · label **{ui.md(corpus.labels[doc])}**" if corpus.labels is not None and corpus.labels[doc] else ""
    st.markdown(f"**{ui.md(corpus.doc_ids[doc])}**{label} · {int(x.sum())} tokens in the vocabulary · "
                f"perplexity (bound) {scored.table['perplexity_bound'].iloc[doc]:.1f}")
    weights = np.asarray(model.transform(x), dtype=np.float64)[0]
    word_unit = word_attribution(model, x)
    order = [int(k) for k in np.argsort(-weights) if weights[k] > model.active_threshold]
    colours = text_view.unit_colours(order[:LEGEND_UNITS])
    if corpus.texts is not None:
        spans = token_spans(corpus.texts[doc], scored.options, model.vocabulary_)
        pieces = attributed_segments(corpus.texts[doc], spans, word_unit)
    else:
        pieces = text_view.bag_of_words_pieces(x.indices, x.data, model.vocabulary_.words, word_unit)
    words = model.top_words(10)
    st.html(text_view.legend_html(colours, dict(enumerate(words)), {k: float(weights[k]) for k in colours}))
    note = text_view.colouring_note(len(order), len(colours), model_kind(entry.kind).unit_name)
    if note:
        st.caption(note)
    st.html(text_view.coloured_html(pieces, colours))
    kind = model_kind(entry.kind)
    st.caption(kind.attribution_text)
    values = pd.DataFrame({"unit": np.arange(len(weights)), "value": weights,
                           "top_words": [unit_label(w, k) for k, w in enumerate(words)]})
    st.altair_chart(charts.unit_bars(values, kind.representation, colours), width="stretch")


ui.page_setup()
st.title("Score new documents")
st.caption("Documents the models have not seen, encoded with a model's own vocabulary: each one's units or topics "
           "and its perplexity bound. The workspace's corpus and models stay as they are.")
entries = state.models()
if not entries:
    st.info("There is no model in this workspace yet: train one (or load one on the Models page) first.")
    st.page_link(ui.PAGES["train"], label="Go to Train", icon=":material/model_training:")
    st.stop()

with ui.page_errors("scoring the documents"):
    with st.container(border=True):
        c1, c2 = st.columns([3, 1])
        with c1:
            entry = pick_model(entries)
        top = c2.number_input("Top units per document", 1, 20, 3, key=TOP, persist_state=ui.KEEP,
                              help="Units listed per document in the table, strongest first.")
        st.caption(tokenizer_note(entry))
        staged, columns = upload_input()
        if st.button("Score", type="primary", key="score_documents", disabled=staged is None):
            with st.spinner(f"Scoring the documents with {entry.name}..."):
                st.session_state[RESULT] = score(entry, staged, columns, int(top))
            st.session_state[DOC] = 0

result = st.session_state.get(RESULT)
if result is not None and result["workspace"] == state.workspace().id:
    with ui.page_errors("showing the scores"):
        st.subheader("Scores")
        summary(result)
        scores_table(result)
    with ui.page_errors("showing the document"):
        st.subheader("A document")
        document_view(result)
