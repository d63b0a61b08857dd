"""Tables (CSV, TSV, JSON lines, Parquet): column choice, ids, labels and every error."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from corpora.documents import Document
from corpora.errors import CorpusError
from corpora.loaders import load_documents
from corpora.tables import NO_COLUMN, pick_columns, table_documents


def write(path, text):
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def rows(loaded):
    return [(d.id, d.text, d.label) for d in loaded]


# --- column choice ----------------------------------------------------------------------------
def test_text_column_by_name_any_case(tmp_path):
    path = write(tmp_path / "a.csv", "title,Body,n\nshort,the long body text,1\nx,second,2\n")
    assert rows(load_documents(path)) == [
        ("row-1", "the long body text", None),
        ("row-2", "second", None),
    ]


def test_first_named_text_column_wins_in_column_order(tmp_path):
    path = write(tmp_path / "a.csv", "review,text\nfirst column,second column\n")
    assert load_documents(path).documents[0].text == "first column"


def test_text_column_by_longest_mean_length_ignoring_numbers(tmp_path):
    path = write(
        tmp_path / "a.csv",
        "code,words,serial\nab,a few words here,123456789012345678901234567890\ncd,more,1\n",
    )
    assert [d.text for d in load_documents(path)] == ["a few words here", "more"]


def test_named_text_column(tmp_path):
    path = write(tmp_path / "a.csv", "text,summary\nlong text here,short\n")
    assert load_documents(path, text_column="summary").documents[0].text == "short"


def test_missing_named_columns_list_the_columns(tmp_path):
    path = write(tmp_path / "data.csv", "a,b\nx,y\n")
    for role in ("text", "label", "id"):
        with pytest.raises(
            CorpusError,
            match=f"no column 'nope' in data.csv: columns are a, b; choose one of them with --{role}-column",
        ):
            load_documents(path, **{f"{role}_column": "nope"})


def test_no_text_column(tmp_path):
    path = write(tmp_path / "data.csv", "a,b\n1,2.5\n3,\n")
    with pytest.raises(
        CorpusError,
        match="no text column in data.csv: columns are a, b; choose one with --text-column",
    ):
        load_documents(path)


def test_labels_and_ids_by_conventional_names(tmp_path):
    path = write(
        tmp_path / "a.csv",
        "Doc_ID,content,Category\nd1,first,sports\nd2,second,\nd3,,news\n",
    )
    assert rows(load_documents(path)) == [
        ("d1", "first", "sports"),
        ("d2", "second", None),
        ("d3", "", "news"),
    ]


def test_named_label_and_id_columns(tmp_path):
    path = write(tmp_path / "a.csv", "key,text,label,grp\nk1,one,l1,g1\nk2,two,l2,g2\n")
    loaded = load_documents(path, label_column="grp", id_column="key")
    assert rows(loaded) == [("k1", "one", "g1"), ("k2", "two", "g2")]
    assert rows(load_documents(path))[0] == ("row-1", "one", "l1")


def test_duplicate_and_missing_ids(tmp_path):
    path = write(tmp_path / "a.csv", "id,text\n7,a\n8,b\n7,c\n")
    with pytest.raises(
        CorpusError,
        match=r"duplicate id '7' in column 'id' of a.csv \(row 3\); ids must be unique: choose another column with --id-column",
    ):
        load_documents(path)
    path = write(tmp_path / "b.csv", "id,text\n7,a\n,b\n")
    with pytest.raises(CorpusError, match="row 2 of b.csv has no id in column 'id'"):
        load_documents(path)


def test_no_column_asks_for_no_labels_and_numbered_rows(tmp_path):
    """A table whose conventionally named id column has duplicates (or a label column the user
    does not want) can still be read: :data:`NO_COLUMN` uses none, whatever the names."""
    path = write(tmp_path / "a.csv", "id,text,label\n7,a,x\n8,b,y\n7,c,x\n")
    loaded = load_documents(path, id_column=NO_COLUMN, label_column=NO_COLUMN)
    assert rows(loaded) == [("row-1", "a", None), ("row-2", "b", None), ("row-3", "c", None)]
    assert rows(load_documents(path, id_column=NO_COLUMN))[2] == ("row-3", "c", "x")
    assert pick_columns({"id": [], "text": [], "label": []}, "t", id_column=NO_COLUMN) == ("text", "label", None)


def test_table_documents_from_python_columns():
    columns = {"n": [1, 2], "text": ["x", None], "label": [3, None]}
    assert table_documents(columns, "t") == [Document("row-1", "x", "3"), Document("row-2", "")]
    with pytest.raises(CorpusError, match="no documents in t: the table has no columns"):
        table_documents({}, "t")


# --- formats ----------------------------------------------------------------------------------
def test_csv_keeps_quoted_newlines_and_na_strings(tmp_path):
    path = write(tmp_path / "a.csv", 'text,label\n"line one\nline two",NA\nN/A,x\n')
    assert rows(load_documents(path)) == [
        ("row-1", "line one\nline two", "NA"),
        ("row-2", "N/A", "x"),
    ]


def test_tsv(tmp_path):
    for name in ("a.tsv", "a.tab"):
        path = write(tmp_path / name, "text\tlabel\nhello, world\tgreet\n")
        assert rows(load_documents(path)) == [("row-1", "hello, world", "greet")]


def test_csv_encoding(tmp_path):
    path = write(tmp_path / "a.csv", "text\ncaf\xe9\n".encode("latin-1"))
    assert load_documents(path).documents[0].text == "café"
    with pytest.raises(CorpusError, match="cannot decode .*a.csv as utf-8.*--encoding latin-1"):
        load_documents(path, encoding="utf-8")
    bom = write(tmp_path / "b.csv", "\ufefftext\nx\n".encode())
    assert load_documents(bom).documents[0].text == "x"


def test_jsonl(tmp_path):
    lines = [
        json.dumps({"id": 3, "text": "three", "topic": "a"}),
        "",
        json.dumps({"id": 1, "text": "one", "extra": [1, 2]}),
        json.dumps({"id": 2, "topic": "b"}) + "\r",
    ]
    for name in ("a.jsonl", "a.ndjson"):
        path = write(tmp_path / name, "\n".join(lines) + "\n")
        assert rows(load_documents(path)) == [
            ("3", "three", "a"),
            ("1", "one", None),
            ("2", "", "b"),
        ]


def test_jsonl_keeps_line_separators_inside_strings(tmp_path):
    path = write(tmp_path / "a.jsonl", '{"text": "a\u2028b\\nc"}\n')
    assert load_documents(path).documents[0].text == "a\u2028b\nc"


def test_jsonl_lone_surrogates_are_replaced(tmp_path):
    path = write(tmp_path / "a.jsonl", '{"text": "bad \\ud800 char"}\n')
    text = load_documents(path).documents[0].text
    assert text.startswith("bad ") and text.endswith(" char")
    text.encode("utf-8")  # the text can be saved


def test_parquet(tmp_path):
    frame = pd.DataFrame(
        {"doc_id": [10, 11, 12], "abstract": ["a", None, "c"], "class": ["x", "y", None]}
    )
    frame.to_parquet(tmp_path / "a.parquet")
    assert rows(load_documents(tmp_path / "a.parquet")) == [
        ("10", "a", "x"),
        ("11", "", "y"),
        ("12", "c", None),
    ]


def test_parquet_written_with_a_pandas_index(tmp_path):
    frame = pd.DataFrame({"words": ["alpha beta", "gamma"]}, index=["i", "j"])
    frame.to_parquet(tmp_path / "a.parquet")
    assert rows(load_documents(tmp_path / "a.parquet")) == [
        ("row-1", "alpha beta", None),
        ("row-2", "gamma", None),
    ]


# --- errors -----------------------------------------------------------------------------------
def test_malformed_csv_names_the_line(tmp_path):
    path = write(tmp_path / "bad.csv", "text,label\na,b\nc,d,e\n")
    with pytest.raises(
        CorpusError, match="malformed CSV in bad.csv: .*line 3.*check its delimiter and quoting"
    ):
        load_documents(path)
    path = write(tmp_path / "bad.tsv", 'text\tlabel\n"unclosed\tquote\n')
    with pytest.raises(CorpusError, match="malformed TSV in bad.tsv: .*EOF inside string"):
        load_documents(path)


def test_malformed_jsonl_names_the_line(tmp_path):
    path = write(tmp_path / "bad.jsonl", '{"text": "ok"}\n\n{"text": oops}\n')
    with pytest.raises(
        CorpusError, match="line 3 of bad.jsonl is not valid JSON .*write one JSON object per line"
    ):
        load_documents(path)
    path = write(tmp_path / "list.jsonl", '{"text": "ok"}\n["text"]\n')
    with pytest.raises(CorpusError, match="line 2 of list.jsonl is a JSON list, not an object"):
        load_documents(path)
    path = write(tmp_path / "deep.jsonl", "[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(
        CorpusError, match="line 1 of deep.jsonl (is nested too deeply|is a JSON list)"
    ):
        load_documents(path)


def test_empty_tables(tmp_path):
    for name in ("a.csv", "a.tsv", "a.jsonl", "a.parquet"):
        with pytest.raises(CorpusError, match=f"{name} is empty; there are no documents"):
            load_documents(write(tmp_path / name, b""))
    with pytest.raises(CorpusError, match="blank.csv has no header row or data"):
        load_documents(write(tmp_path / "blank.csv", "\n\n"))
    with pytest.raises(
        CorpusError, match="no documents in head.csv: the table has a header but no rows"
    ):
        load_documents(write(tmp_path / "head.csv", "text,label\n"))
    with pytest.raises(CorpusError, match="no documents in blank.jsonl: the table has no columns"):
        load_documents(write(tmp_path / "blank.jsonl", "\n \n"))
    pd.DataFrame({"text": pd.Series([], dtype=str)}).to_parquet(tmp_path / "none.parquet")
    with pytest.raises(CorpusError, match="none.parquet: the table has a header but no rows"):
        load_documents(tmp_path / "none.parquet")


def test_corrupt_parquet(tmp_path):
    with pytest.raises(CorpusError, match="cannot read bad.parquet as Parquet"):
        load_documents(write(tmp_path / "bad.parquet", "text\nnot parquet\n"))


def test_column_errors_keep_the_problem_apart_from_the_cli_advice():
    from corpora.errors import ColumnError

    with pytest.raises(ColumnError) as info:
        table_documents({"id": ["1", "1"], "text": ["a b", "c d"]}, "a.csv")
    assert info.value.role == "id" and "--" not in info.value.problem
    assert str(info.value) == info.value.problem + ": choose another column with --id-column"
    with pytest.raises(ColumnError) as info:
        table_documents({"a": ["1"], "b": ["2"]}, "n.csv")
    assert info.value.role == "text" and info.value.problem == "no text column in n.csv: columns are a, b"
