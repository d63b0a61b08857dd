"""Heavy things shared by every session through ``st.cache_resource`` (never mutated), and tables
derived from a session's corpus through ``st.cache_data``."""

from __future__ import annotations

import json
import threading

import numpy as np
import pandas as pd
import streamlit as st

from corpora import Dataset
from corpora.prepare import PrepareOptions, prepare

DEMO_SOURCE = "lee"
DEMO_NAME = "demo: Lee news stories"


@st.cache_resource(show_spinner=False)
def warm_up() -> threading.Thread:
    """Import the model libraries once per server, in the background, so that the first training
    run does not spend its time budget on imports (torch's optimisers load their compiler stack
    on first use, several seconds)."""

    def work() -> None:
        import torch

        import docmodel.models.lda.estimator  # noqa: F401
        import docmodel.models.sbn.estimator  # noqa: F401

        torch.optim.Adam([torch.zeros(1, requires_grad=True)])

    thread = threading.Thread(target=work, name="docmodel-warm-up", daemon=True)
    thread.start()
    return thread


@st.cache_resource(show_spinner="Preparing the demo corpus...", max_entries=8)
def demo_dataset(options_json: str) -> Dataset:
    """The bundled demo corpus prepared with the given options (a JSON object of
    :class:`~corpora.prepare.PrepareOptions` fields). A frozen value shared by all sessions."""
    return prepare(DEMO_SOURCE, options=PrepareOptions(**json.loads(options_json)))


def options_key(options: PrepareOptions) -> str:
    return json.dumps(options.to_dict(), sort_keys=True)


@st.cache_data(max_entries=32, show_spinner=False)
def corpus_tables(dataset_id: str, _dataset: Dataset, n_top_words: int = 30) -> dict:
    """Summary tables of a corpus, cached per corpus id (the corpus itself is not hashed).

    Returns
    -------
    dict with "splits" (documents and tokens per split), "lengths" (tokens per document and
    split; the longest 1 % clipped, at "lengths_clipped_at" or None), "top_words" (the most
    frequent training words), "labels" (documents per label and split; empty without labels).
    """
    ds = _dataset
    info = ds.info.get("splits", {})
    rows, lengths, labels = [], [], []
    for name, corpus in (("train", ds.train), ("test", ds.test)):
        if corpus is None:
            continue
        split_info = info.get(name, {})
        rows.append(
            {
                "split": name,
                "documents": corpus.n_docs,
                "tokens": corpus.n_tokens,
                "mean tokens per document": round(corpus.summary()["mean_length"], 1),
                "dropped: too short": split_info.get("n_dropped_short", 0),
                "dropped: no vocabulary word": split_info.get("n_dropped_empty", 0),
            }
        )
        lengths.append(pd.DataFrame({"split": name, "tokens": corpus.doc_lengths}))
        if corpus.has_labels:
            labels.append(
                pd.Series([lab if lab is not None else "(none)" for lab in corpus.labels])
                .value_counts()
                .rename_axis("label")
                .reset_index(name="documents")
                .assign(split=name)
            )
    counts = np.asarray(ds.train.X.sum(axis=0)).ravel()
    doc_freq = np.bincount(ds.train.X.indices, minlength=ds.train.n_words)
    order = np.argsort(-counts, kind="stable")[:n_top_words]
    words = ds.vocabulary.words
    top = pd.DataFrame(
        {
            "word": [words[i] for i in order],
            "count": counts[order].astype(int),
            "documents": doc_freq[order].astype(int),
        }
    )
    lengths = pd.concat(lengths, ignore_index=True)
    # A few very long documents would squash the histogram: fold the longest 1 % into its last bin.
    cap = int(np.ceil(lengths["tokens"].quantile(0.99))) if len(lengths) else 0
    clipped = cap if len(lengths) and lengths["tokens"].max() > cap else None
    if clipped is not None:
        lengths["tokens"] = lengths["tokens"].clip(upper=cap)
    return {
        "splits": pd.DataFrame(rows),
        "lengths": lengths,
        "lengths_clipped_at": clipped,
        "top_words": top,
        "labels": pd.concat(labels, ignore_index=True) if labels else pd.DataFrame(),
    }
