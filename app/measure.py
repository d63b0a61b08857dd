"""The Compare page's figures: :func:`docmodel.compare.model_figures` for each model of the session,
kept in session state per corpus, and the comparison report built from them with
:mod:`docmodel.report` (the same code and wording as ``docmodel compare``)."""

from __future__ import annotations

import json

import numpy as np
import streamlit as st

from app import state
from corpora import Dataset

N_SAMPLES = 100
SEED = 0


def evaluation_dataset(ds: Dataset, docs: state.EvaluationDocs) -> Dataset:
    """The corpus with the documents models are measured on as its test split (NPMI still counts
    co-occurrence on the whole training split)."""
    return Dataset(train=ds.train, test=docs.corpus, info=ds.info)


def figures(entry: state.ModelEntry) -> dict | None:
    """The stored figures of a model for the current corpus, or None when not measured yet."""
    return st.session_state[state.EVALUATIONS].get(entry.name)


def measure(entry: state.ModelEntry, ds: Dataset, docs: state.EvaluationDocs) -> dict:
    """Every figure of ``EVALUATION.md`` for one model, stored in the session and the workspace.

    Returns
    -------
    dict
        ``figures`` (JSON-ready, as in a ``docmodel compare`` report) and ``per_document``
        (``doc_index`` positions into the evaluation documents, ``doc_perplexity_bound``).
    """
    from docmodel.compare import CompareSettings, model_figures

    settings = CompareSettings(n_samples=N_SAMPLES, seed=SEED)
    values, per_document = model_figures(entry.model, evaluation_dataset(ds, docs), settings)
    values["label"] = entry.name
    # The time budget the model was trained with (the Train page's, or the uploaded file's; None:
    # none), so that the report's settings line and its "used up its time budget" agree.
    values["budget_seconds"] = getattr(entry.model, "max_seconds", None)
    result = {"figures": values, "per_document": per_document}
    state.set_evaluation(entry.name, result)  # kept in the workspace too
    return result


def report(entries: list[state.ModelEntry], ds: Dataset, docs: state.EvaluationDocs) -> tuple[dict, dict]:
    """A report in the form ``docmodel compare`` writes, for the measured ``entries``.

    Returns
    -------
    report : dict
        ``models``, ``corpus``, ``settings`` (JSON-ready).
    per_document : dict
        ``name -> {"doc_index", "doc_perplexity_bound"}``.
    """
    measured = [(e, figures(e)) for e in entries if figures(e) is not None]
    units = sorted({int(f["figures"]["n_units"]) for _, f in measured})
    n_units = units[0] if len(units) == 1 else f"{units[0]} to {units[-1]}" if units else 0
    n_val = len(state.validation_rows(ds.train.n_docs))
    out = {
        "models": {e.name: f["figures"] for e, f in measured},
        "corpus": {
            "path": state.dataset_name(),
            "n_words": len(ds.vocabulary),
            "n_docs_train": int(ds.train.n_docs - n_val),
            "n_docs_val": n_val,
            "n_docs_test": int(docs.corpus.n_docs),
            "n_tokens_test": int(docs.corpus.n_tokens),
            "evaluated_on": docs.description,
            "has_labels": bool(docs.corpus.has_labels),
        },
        "settings": {
            "n_units": n_units,
            "seed": SEED,
            "n_samples": N_SAMPLES,
            "max_minutes": None,
            "budget_rule": "each model trained in the app with its own settings and time budget",
            "models": [e.name for e, _ in measured],
            "model_settings": {e.name: e.settings for e, _ in measured},
        },
    }
    per_document = {e.name: f["per_document"] for e, f in measured}
    return out, per_document


def report_markdown(report_data: dict, per_document: dict) -> str:
    from docmodel.report import render_markdown

    return render_markdown(report_data, per_document)


def report_json(report_data: dict) -> str:
    return json.dumps(report_data, indent=2, default=_plain, allow_nan=True)


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)
