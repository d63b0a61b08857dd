"""The Explore page through Streamlit's AppTest: units, documents and their colouring, the
relevance slider, document text escaped before it is shown, and settings kept across pages."""

from __future__ import annotations

import numpy as np

from tests.app.pages.apptest import (
    assert_settings_kept,
    new_app,
    planted_csv,
    run,
    train,
    upload_planted,
)


def test_explore_units_documents_and_colouring(trained):
    at = trained
    at.switch_page("pages/explore.py")
    run(at)
    assert at.selectbox(key="explore_model").value == "sbn-nvil-4"  # an SBN first, LDA beside it
    assert at.selectbox(key="explore_beside").value == "lda-batch-3"
    units = at.dataframe[0].value
    assert len(units) == 4 and "top words" in units.columns
    assert len(at.dataframe[1].value) == 3  # LDA's topics beside
    at.selectbox(key="explore_unit").set_value(2)
    run(at)
    top_docs = at.dataframe[2].value
    assert len(top_docs) == 10 and top_docs["q(h_k = 1 | document)"].is_monotonic_decreasing
    # A test document that switches a unit on, so that its words are coloured.
    ds = at.session_state["dataset"]
    model = at.session_state["models"]["sbn-nvil-4"].model
    doc = int(np.flatnonzero((model.transform(ds.test.X) > model.active_threshold).any(axis=1))[0])
    at.selectbox(key="explore_doc").set_value(doc)
    run(at)
    html = " ".join(h.proto.body for h in at.get("html"))
    assert ds.test.doc_ids[doc] in " ".join(m.value for m in at.markdown)
    assert "<div" in html and "unit " in html
    assert any("q(h_k = 1 | document)" in m.value for m in at.markdown)


def test_the_units_tables_are_as_tall_as_their_rows(trained, monkeypatch):
    """Side by side, each model's table shows all its units without scrolling (issue 15: the
    tables showed about five rows); AppTest does not expose an element's height, so the call is
    watched."""
    import streamlit as st

    from app import ui

    heights = {}
    real = st.dataframe

    def dataframe(data, *args, **kwargs):
        heights.setdefault(kwargs.get("key") or f"beside-{len(data)}", (len(data), kwargs.get("height")))
        return real(data, *args, **kwargs)

    monkeypatch.setattr(st, "dataframe", dataframe)
    at = trained
    at.switch_page("pages/explore.py")
    run(at)
    assert heights["units_table_main"] == (4, ui.table_height(4))
    assert heights["beside-3"] == (3, ui.table_height(3))


def test_explore_relevance_slider_and_unit_columns(trained):
    """The words shown follow the one rule at the slider's lambda (0.6 to start), each unit is
    named by its first three words and carries its on-share, NPMI and label purity."""
    at = trained
    at.switch_page("pages/explore.py")
    run(at)
    assert at.slider(key="explore_relevance").value == 0.6
    sbn = at.session_state["models"]["sbn-nvil-4"].model
    units = at.dataframe[0].value
    assert list(units["top words"]) == [" ".join(w) for w in sbn.top_words(10, relevance=0.6)]
    assert list(units["unit"]) == [f"{k} · {' '.join(w[:3])}" for k, w in enumerate(sbn.top_words(10))]
    for column in ("on in (% of docs)", "NPMI", "label purity"):
        assert column in units.columns
    at.slider(key="explore_relevance").set_value(1.0)
    run(at)
    units = at.dataframe[0].value
    assert list(units["top words"]) == [" ".join(w) for w in sbn.top_words(10, relevance=1.0)]
    at.slider(key="explore_relevance").set_value(0.6)  # the shared session goes on at the default
    run(at)


def test_explore_escapes_document_text():
    at = upload_planted(new_app(), planted_csv(extra={i: "<script>alert(1)</script> <b>bold</b>" for i in range(60)}))
    train(at, "SBN", sbn_layers="3", sbn_epochs=2)
    at.switch_page("pages/explore.py")
    run(at)
    html = " ".join(h.proto.body for h in at.get("html"))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>" not in html and "<b>bold</b>" not in html
    at.text_input(key="explore_search").input("rocket orbit")
    run(at)
    hits = at.dataframe[-1].value
    assert len(hits) > 0 and all("rocket" in m or "orbit" in m for m in hits["match"])
    assert "No SBN" not in " ".join(i.value for i in at.info)


def test_explore_settings_are_kept_after_visiting_another_page(trained):
    kept = assert_settings_kept(trained, "pages/explore.py", "pages/train.py")
    assert {"explore_unit", "explore_doc", "explore_split", "explore_relevance", "explore_search"} <= set(kept)


def test_explore_any_model_with_any_other_beside_it(trained):
    """The pickers are not tied to kinds: LDA explored with the SBN beside it, then alone."""
    at = trained
    at.switch_page("pages/explore.py")
    run(at)
    at.selectbox(key="explore_model").set_value("lda-batch-3")
    run(at)
    assert at.selectbox(key="explore_beside").options == ["(none)", "sbn-nvil-4"]
    at.selectbox(key="explore_beside").set_value("sbn-nvil-4")
    run(at)
    assert len(at.dataframe[0].value) == 3 and len(at.dataframe[1].value) == 4
    assert any("topic proportion" in m.value for m in at.markdown)
    at.selectbox(key="explore_beside").set_value("(none)")
    run(at)
    assert len(at.dataframe[0].value) == 3 and "top words" not in at.dataframe[1].value.columns
    at.selectbox(key="explore_model").set_value("sbn-nvil-4")  # the shared session goes on as before
    run(at)
    at.selectbox(key="explore_beside").set_value("lda-batch-3")
    run(at)
