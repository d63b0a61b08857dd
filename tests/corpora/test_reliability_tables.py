"""Bad tables, generated: CSV, TSV, JSON lines and Parquet files load as documents or give one
clear error.

Inputs are built structurally by hypothesis (random columns, quoting, missing and extra fields,
bad JSON, Parquet columns of every type); the checks and strategies are in ``bad_inputs.py``.
Every example runs under a hard time limit, so a hang fails the test instead of stalling it.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from corpora.errors import CorpusError
from corpora.loaders import load_documents
from tests.corpora.bad_inputs import (
    ANY_CHAR,
    NAMES,
    PROPERTY,
    SENTENCES,
    check_message,
    jsonl_lines,
    load_or_refuse,
    malformed_tables,
    well_formed_tables,
)


# --- CSV and TSV ------------------------------------------------------------------------------
@pytest.mark.parametrize("delimiter, suffix", [(",", ".csv"), ("\t", ".tsv")])
@PROPERTY
@given(data=st.data())
def test_malformed_delimited_tables_load_or_raise(delimiter, suffix, data):
    text = data.draw(malformed_tables(delimiter))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, f"t{suffix}")
        path.write_text(text, encoding="utf-8", newline="")
        load_or_refuse(path)


@pytest.mark.parametrize("delimiter, suffix", [(",", ".csv"), ("\t", ".tsv")])
@PROPERTY
@given(table=well_formed_tables())
def test_well_formed_tables_keep_every_row_and_cell(delimiter, suffix, table):
    columns, rows = table
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, delimiter=delimiter, lineterminator="\n",
                            quoting=csv.QUOTE_ALL)
    writer.writeheader()
    writer.writerows(rows)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, f"t{suffix}")
        path.write_text(buffer.getvalue(), encoding="utf-8", newline="")
        loaded = load_or_refuse(path)
    texts = [row["text"] for row in rows]
    if not any(t.strip() for t in texts) and loaded is None:
        return  # nothing to read: refusing is right too
    assert loaded is not None
    assert [d.text for d in loaded] == texts
    assert [d.id for d in loaded] == [f"row-{i}" for i in range(1, len(rows) + 1)]
    if "label" in columns:
        assert [d.label for d in loaded] == [row["label"] or None for row in rows]


# --- JSON lines -------------------------------------------------------------------------------
@PROPERTY
@given(generated=jsonl_lines())
def test_jsonl_with_bad_lines_names_the_first_one(generated):
    text, kinds = generated
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "t.jsonl")
        path.write_text(text, encoding="utf-8")
        if not text:
            with pytest.raises(CorpusError, match="is empty"):
                load_documents(path)
            return
        loaded = load_or_refuse(path)
        bad = [n for n, kind in enumerate(kinds, 1) if kind in ("value", "broken")]
        if bad:
            assert loaded is None
            with pytest.raises(CorpusError, match=f"^line {bad[0]} of t.jsonl "):
                load_documents(path)
        elif loaded is not None:
            assert len(loaded) == kinds.count("object")


@PROPERTY
@given(table=well_formed_tables(), ascii_only=st.booleans())
def test_jsonl_objects_keep_every_row_and_missing_keys_are_empty(table, ascii_only):
    columns, rows = table
    rows = [{k: v for k, v in row.items() if k != "x1"} for row in rows]  # x1 missing
    rows[0]["x1"] = "only in the first row"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "t.jsonl")
        lines = (json.dumps(row, ensure_ascii=ascii_only) for row in rows)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        loaded = load_or_refuse(path)
    assert loaded is not None
    assert [d.text for d in loaded] == [row["text"] for row in rows]


# --- Parquet ----------------------------------------------------------------------------------
def parquet_columns(n_rows: int):
    text = st.none() | st.text(ANY_CHAR, max_size=10) | SENTENCES
    kinds = {
        "string": st.lists(text, min_size=n_rows, max_size=n_rows).map(
            lambda v: pa.array(v, pa.string())
        ),
        "large_string": st.lists(text, min_size=n_rows, max_size=n_rows).map(
            lambda v: pa.array(v, pa.large_string())
        ),
        "dictionary": st.lists(text, min_size=n_rows, max_size=n_rows).map(
            lambda v: pa.array(v, pa.string()).dictionary_encode()
        ),
        "int": st.lists(st.none() | st.integers(-(2**63), 2**63 - 1), min_size=n_rows, max_size=n_rows)
        .map(lambda v: pa.array(v, pa.int64())),
        "float": st.lists(st.none() | st.floats(), min_size=n_rows, max_size=n_rows).map(
            lambda v: pa.array(v, pa.float64())
        ),
        "bool": st.lists(st.none() | st.booleans(), min_size=n_rows, max_size=n_rows).map(
            lambda v: pa.array(v, pa.bool_())
        ),
        "binary": st.lists(st.none() | st.binary(max_size=8), min_size=n_rows, max_size=n_rows)
        .map(lambda v: pa.array(v, pa.binary())),
        "list": st.lists(st.lists(st.integers(0, 9), max_size=3), min_size=n_rows, max_size=n_rows)
        .map(lambda v: pa.array(v, pa.list_(pa.int64()))),
        "struct": st.lists(st.fixed_dictionaries({"a": text}), min_size=n_rows, max_size=n_rows)
        .map(lambda v: pa.array(v, pa.struct([("a", pa.string())]))),
    }
    return st.sampled_from(sorted(kinds)).flatmap(lambda kind: kinds[kind])


@st.composite
def parquet_tables(draw) -> pa.Table:
    n_rows = draw(st.integers(0, 6))
    names = draw(st.lists(NAMES | st.text(max_size=5), min_size=1, max_size=4, unique=True))
    return pa.table({name: draw(parquet_columns(n_rows)) for name in names})


@PROPERTY
@given(table=parquet_tables())
def test_parquet_with_any_column_types_loads_or_raises(table):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "t.parquet")
        pq.write_table(table, path)
        loaded = load_or_refuse(path)
    if loaded is not None:
        assert len(loaded) == table.num_rows
        if "text" in table.column_names and pa.types.is_string(table.schema.field("text").type):
            assert [d.text for d in loaded] == [v or "" for v in table.column("text").to_pylist()]

@pytest.mark.parametrize(
    "text, shown",
    [('"a\nb",c\n1,2\n', "columns are 'a\\nb', c;"), ('"\r"\n3\n', "columns are '\\r';")],
)
def test_column_names_with_line_breaks_keep_the_message_on_one_line(tmp_path, text, shown):
    path = tmp_path / "t.csv"
    path.write_text(text, encoding="utf-8", newline="")
    with pytest.raises(CorpusError, match="no text column") as info:
        load_documents(path)
    check_message(info.value)
    assert shown in str(info.value)
