"""Upload errors as a newcomer meets them (issue 15, item 3), through Streamlit's AppTest: each is
one sentence that names the file, says what was expected and what to do on the page (no parser
text, no CLI flag, no traceback), and none loses the corpus or the models already there. Also the
column "(automatic)" uses and a preview of the table's first rows, shown before preparing, and the
"(none)" choice of the label and id pickers."""

from __future__ import annotations

from app import resources
from tests.app.pages.apptest import errors, new_app, planted_csv, run, shown, upload

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
PNG_AS_CSV = (
    "picture.csv is not a CSV table: its bytes are not text (an image or other binary file?), and a CSV, "
    "TSV, JSON-lines or Parquet table with one document per row and a column of text was expected; upload "
    "such a table in the box above"
)


def assert_page_message(message: str, name: str) -> None:
    assert name in message, message
    assert "--" not in message and "Traceback" not in message and "\n" not in message, message


def test_a_png_renamed_csv_is_told_before_any_parser_and_keeps_the_corpus():
    at = new_app()
    before = at.session_state["dataset"]
    upload(at, ("picture.csv", PNG, "text/csv"))
    (message,) = errors(at)
    assert message == PNG_AS_CSV, message
    assert_page_message(message, "picture.csv")
    assert at.session_state["dataset"] is before


def test_a_png_renamed_txt_is_told_as_the_tables_are_and_keeps_the_corpus():
    at = new_app()
    before = at.session_state["dataset"]
    upload(at, ("picture.txt", PNG, "text/plain"))
    (message,) = errors(at)
    assert message == (
        "picture.txt is not a text file: its bytes are not text (an image or other binary file?), and plain text "
        "(one document per line, or the whole file as one document) was expected; upload such a file in the box "
        "above"
    ), message
    assert_page_message(message, "picture.txt")
    assert at.session_state["dataset"] is before


def test_automatic_columns_and_the_first_rows_are_shown_before_preparing():
    at = new_app()
    upload(at, ("planted.csv", planted_csv(), "text/csv"))
    captions = [shown(c.value) for c in at.caption]
    assert "(automatic) uses: text from **body**, labels from **topic**, ids from **doc_id**." in captions, captions
    assert "The first 5 rows of planted.csv:" in captions
    preview = at.dataframe[0]  # the first on the page; the corpus statistics come below
    assert list(preview.value.columns) == ["doc_id", "topic", "body"] and len(preview.value) == 5
    assert list(preview.value["doc_id"]) == ["d0", "d1", "d2", "d3", "d4"]
    assert at.session_state["dataset_name"] == resources.DEMO_NAME  # nothing prepared yet


def test_a_table_without_text_is_told_on_upload_and_when_prepared():
    at = new_app()
    before = at.session_state["dataset"]
    upload(at, ("numbers.csv", b"a,b\n1,2\n3,4\n", "text/csv"))
    (warning,) = [shown(w.value) for w in at.warning]
    assert warning == ("(automatic) finds no column of text in numbers.csv (its columns: a, b); choose the "
                       "column that holds the documents' text in the Text column picker."), warning
    at.button(key="prepare_upload").click()
    run(at)
    (message,) = errors(at)
    assert message == ("numbers.csv has no column of text for (automatic) to use (its columns: a, b); choose "
                       "the column that holds the documents' text in the Text column picker"), message
    assert at.session_state["dataset"] is before


def test_a_chosen_column_without_words_is_named_and_keeps_the_corpus():
    at = new_app()
    before = at.session_state["dataset"]
    rows = "".join(f"{i},{i * 0.5},some words about topic {i % 3}\n" for i in range(20))
    upload(at, ("scores.csv", f"id,score,body\n{rows}".encode(), "text/csv"))
    at.selectbox(key="upload_text_column").set_value("score")
    run(at)
    at.button(key="prepare_upload").click()
    run(at)
    (message,) = errors(at)
    assert message == ("column 'score' of scores.csv gives no document with words: its values are not text or "
                       "are empty; choose the column that holds the documents' text in the Text column picker")
    assert_page_message(message, "scores.csv")
    assert at.session_state["dataset"] is before


def test_a_png_renamed_pt_is_not_a_model_file_and_keeps_the_models(trained):
    at = trained
    at.switch_page("pages/models.py")
    run(at)
    models = dict(at.session_state["models"])
    at.file_uploader(key="model_upload").set_value(("picture.pt", PNG, "application/octet-stream"))
    run(at)
    (message,) = errors(at)
    assert message == ("picture.pt is not a docmodel model file (expected a .pt checkpoint saved by docmodel "
                       "or the Models page)"), message
    assert at.session_state["models"] == models


def test_a_duplicate_id_names_the_column_and_the_picker():
    at = new_app()
    before = at.session_state["dataset"]
    rows = "".join(f"{i % 4},orbit rocket launch moon shuttle {i}\n" for i in range(12))
    upload(at, ("dupes.csv", f"id,body\n{rows}".encode(), "text/csv"))
    at.selectbox(key="upload_text_column").set_value("body")
    run(at)
    captions = [shown(c.value) for c in at.caption]
    assert "(automatic) uses: no labels, ids from **id**." in captions, captions
    at.button(key="prepare_upload").click()
    run(at)
    (message,) = errors(at)
    assert message == ("duplicate id '0' in column 'id' of dupes.csv (row 5); ids must be unique; choose another "
                       "column in the Id column picker"), message
    assert_page_message(message, "dupes.csv")
    assert at.session_state["dataset"] is before
    # The picker offers no id column at all: the documents are numbered.
    assert at.selectbox(key="upload_id_column").options == ["(automatic)", "(none)", "id", "body"]
    at.selectbox(key="upload_id_column").set_value("(none)")
    at.number_input(key="opt_min_df").set_value(1)
    at.slider(key="opt_test_fraction").set_value(0.0)
    at.slider(key="opt_max_df").set_value(1.0)  # every document has the same five words
    run(at)
    at.button(key="prepare_upload").click()
    run(at)
    assert not errors(at) and at.session_state["dataset_name"] == "upload: dupes.csv"
    assert at.session_state["dataset"].train.doc_ids == tuple(f"row-{i}" for i in range(1, 13))


def test_the_label_picker_offers_no_labels():
    at = new_app()
    upload(at, ("planted.csv", planted_csv(), "text/csv"))
    assert at.selectbox(key="upload_label_column").options == ["(automatic)", "(none)", "doc_id", "topic", "body"]
    at.selectbox(key="upload_label_column").set_value("(none)")
    at.number_input(key="opt_min_df").set_value(1)
    run(at)
    at.button(key="prepare_upload").click()
    run(at)
    ds = at.session_state["dataset"]
    assert at.session_state["dataset_name"] == "upload: planted.csv" and not ds.train.has_labels
    assert all(doc_id.startswith("d") for doc_id in ds.train.doc_ids)  # ids still from doc_id, automatically
