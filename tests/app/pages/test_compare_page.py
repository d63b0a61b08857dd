"""The Compare page through Streamlit's AppTest: every model measured on a tiny planted corpus,
opening a document in Explore, a corpus without a test split, and pages without models."""

from __future__ import annotations

from tests.app.pages.apptest import new_app, planted_csv, run, train


def test_compare_measures_every_model(trained):
    at = trained
    at.switch_page("pages/compare.py")
    run(at)
    table = at.table[0].value
    assert list(table["model"]) == ["sbn-nvil-4", "lda-batch-3"]
    for column in ("perplexity (bound)", "perplexity (importance sampled)", "perplexity (document completion)"):
        values = [float(v.replace(",", "")) for v in table[column]]
        assert all(1 < v < 1000 for v in values), (column, values)  # 24 planted words
    assert "label accuracy" in table.columns
    assert "test split (12 documents)" in at.caption[0].value
    figures = at.session_state["evaluations"]["sbn-nvil-4"]["figures"]
    assert len(figures["npmi_per_unit"]) == 4
    assert {b.label for b in at.download_button} >= {"Download the report (Markdown)", "Download the figures (JSON)"}


def test_compare_opens_a_document_in_explore(trained):
    at = trained
    at.switch_page("pages/compare.py")
    run(at)
    chosen = at.selectbox(key="scatter_pick").value  # a test document where the models disagree most
    at.button(key="scatter_open").click()
    run(at)
    assert at.title[0].value == "Explore"
    assert at.radio(key="explore_split").value == "test"
    assert at.selectbox(key="explore_doc").value == chosen


def test_compare_without_a_test_split_says_so():
    at = new_app()
    at.radio(key="corpus_source").set_value("Upload files")
    run(at)
    at.file_uploader(key="corpus_upload").set_value(("planted.csv", planted_csv(), "text/csv"))
    run(at)
    at.slider(key="opt_test_fraction").set_value(0.0)
    at.number_input(key="opt_min_df").set_value(1)
    run(at)
    at.button(key="prepare_upload").click()
    run(at)
    assert at.session_state["dataset"].test is None
    train(at, "LDA", lda_units=3, lda_iter=3)
    at.switch_page("pages/compare.py")
    run(at)
    assert "held out from training (this corpus has no test split)" in at.caption[0].value
    assert len(at.table[0].value) == 1


def test_pages_without_models_point_to_train():
    at = new_app()
    for page in ("pages/compare.py", "pages/explore.py"):
        at.switch_page(page)
        run(at)
        assert "No models for this corpus yet" in at.info[0].value
