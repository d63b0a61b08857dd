"""The Compare page through Streamlit's AppTest: every model measured on a tiny planted corpus,
opening a document in Explore, a corpus without a test split, pages without models, the report's
unit numbers and time budgets, and settings (the choice of models too) kept across pages."""

from __future__ import annotations

from tests.app.pages.apptest import assert_settings_kept, new_app, planted_csv, run, train


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


def test_the_best_value_of_each_figure_is_marked_and_npmi_explained(trained):
    """Bold: the lowest perplexities, the highest coherence and diversity (not the units, the
    likelihood or the train time); a caption says what NPMI measures and misses."""
    import re

    at = trained
    at.switch_page("pages/compare.py")
    run(at)
    table = at.table[0]
    columns = list(table.value.columns)
    styles = table.proto.arrow_data.styler.styles
    marked = {(int(r), columns[int(c)]) for r, c in re.findall(r"_row(\d+)_col(\d+)", styles)}
    assert "font-weight: bold" in styles
    figures = [at.session_state["evaluations"][name]["figures"] for name in table.value["model"]]
    for key, title, better in [("perplexity_bound", "perplexity (bound)", min),
                               ("perplexity_completion", "perplexity (document completion)", min),
                               ("npmi", "NPMI coherence", max), ("diversity", "topic diversity", max)]:
        values = [f[key] for f in figures]
        assert {r for r, c in marked if c == title} == {values.index(better(values))}, (title, values)
    assert not {c for _, c in marked} & {"model", "kind", "units", "likelihood", "train time (s)"}
    note = " ".join(c.value for c in at.caption)
    assert "**In bold**: the best value of each figure" in note
    assert "words that always travel together (boilerplate" in note and "beside topic diversity" in note


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


def test_the_report_numbers_units_as_the_app_and_states_the_budgets(trained, monkeypatch):
    """The Markdown report the page offers: units numbered from 0 as Explore labels them, and
    "no time budget" only when no model had one (the fixture trains with a budget of 0 = none)."""
    import types

    from app import measure, state
    from docmodel.explain import unit_label

    at = trained
    at.switch_page("pages/compare.py")
    run(at)
    session = types.SimpleNamespace(session_state={k: at.session_state[k] for k in (
        "evaluations", "dataset_name", "dataset")})
    monkeypatch.setattr(measure, "st", session)
    monkeypatch.setattr(state, "st", session)
    ds = at.session_state["dataset"]
    entries = list(at.session_state["models"].values())
    text = measure.report_markdown(*measure.report(entries, ds, state.evaluation_docs(ds)))
    assert "no time budget (each model stopped by its own rule)" in text
    assert "used up its time budget" not in text
    sbn = at.session_state["models"]["sbn-nvil-4"].model
    for k, words in enumerate(sbn.top_words(10)):
        assert unit_label(words, k).startswith(f"{k} · ")  # Explore's label of unit k
        assert f"- unit {k} (NPMI " in text and f"): {' '.join(words)}" in text
    assert "- unit 4 " not in text and "- topic 0 (NPMI " in text and "- topic 3 " not in text


def test_compare_settings_are_kept_after_visiting_another_page(trained):
    kept = assert_settings_kept(trained, "pages/compare.py", "pages/models.py", skip={"compare_models"})
    assert set(kept) == {"curve_axis", "scatter_x", "scatter_y", "scatter_pick"}


def test_the_choice_of_models_is_kept_and_new_models_join_it(trained):
    at = trained
    at.switch_page("pages/compare.py")
    run(at)
    at.multiselect(key="compare_models").set_value(["sbn-nvil-4"])
    run(at)
    at.switch_page("pages/models.py")
    run(at)
    at.switch_page("pages/compare.py")
    run(at)
    assert at.multiselect(key="compare_models").value == ["sbn-nvil-4"]
    train(at, "LDA", lda_units=2, lda_iter=2, lda_seconds=0)
    at.switch_page("pages/compare.py")
    run(at)
    assert at.multiselect(key="compare_models").value == ["sbn-nvil-4", "lda-batch-2"]
