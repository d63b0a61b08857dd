"""Documents from tables: CSV, TSV, JSON lines and Parquet, one document per row.

The text column is the one the caller names, else the first column called text, content,
body, ... (any case), else the string column with the longest mean length. A label column
and an id column are used when named, or when a column has a conventional name (label,
category, ...; id, doc_id, ...), unless :data:`NO_COLUMN` asks for none. Without an id column,
rows are numbered "row-1", "row-2", ...
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

from corpora.documents import Document
from corpora.errors import ColumnError, CorpusError
from corpora.rawtext import decode_bytes, read_bytes

TEXT_NAMES = (
    "text",
    "content",
    "body",
    "document",
    "doc",
    "abstract",
    "message",
    "review",
    "sentence",
)
LABEL_NAMES = ("label", "labels", "category", "class", "target", "topic", "group")
ID_NAMES = ("id", "doc_id", "document_id", "docid", "uuid")
NO_COLUMN = ""
"""As ``label_column`` or ``id_column``: use no column, whatever the columns are called (no labels;
rows numbered "row-1", "row-2", ...)."""

_PANDAS_INDEX = re.compile(r"^__index_level_\d+__$")


def load_table(
    path: Path,
    fmt: str,
    *,
    encoding: str = "auto",
    text_column: str | None = None,
    label_column: str | None = None,
    id_column: str | None = None,
) -> list[Document]:
    """Read a table and turn its rows into documents.

    Parameters
    ----------
    path : Path
    fmt : {"csv", "tsv", "jsonl", "parquet"}
    encoding : str
        "auto" or a codec name, for the text formats (Parquet stores UTF-8).
    text_column, label_column, id_column : str or None
        Columns to use; None picks them as the module docstring says.

    Returns
    -------
    list of Document, in row order
    """
    if fmt == "parquet":
        columns = read_parquet(path)
    else:
        text = decode_bytes(read_bytes(path), str(path), encoding)
        columns = (
            read_jsonl(text, path.name) if fmt == "jsonl" else read_delimited(text, path.name, fmt)
        )
    return table_documents(
        columns, path.name, text_column=text_column, label_column=label_column, id_column=id_column
    )


def read_delimited(text: str, name: str, fmt: str) -> dict[str, list]:
    """Columns of a CSV (``fmt="csv"``) or tab-separated (``fmt="tsv"``) text, all as strings.

    The first row is the header. Missing cells are empty strings.
    """
    import pandas as pd

    kind = "CSV" if fmt == "csv" else "TSV"
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep="," if fmt == "csv" else "\t",
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            engine="c",
        )
    except pd.errors.EmptyDataError:
        raise CorpusError(f"{name} has no header row or data; is it empty?") from None
    except (ValueError, OverflowError, IndexError) as exc:  # pandas' ParserError is a ValueError
        message = " ".join(str(exc).split())
        raise CorpusError(
            f"malformed {kind} in {name}: {message}; check its delimiter and quoting"
        ) from None
    return {str(column): frame.iloc[:, i].tolist() for i, column in enumerate(frame.columns)}


def read_jsonl(text: str, name: str) -> dict[str, list]:
    """Columns of JSON lines text: one JSON object per line, blank lines allowed.

    A key missing from a row gives None in that row.
    """
    rows = []
    for number, line in enumerate(text.split("\n"), 1):
        line = line.strip()
        if not line:
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CorpusError(
                f"line {number} of {name} is not valid JSON ({exc.msg} at column {exc.colno}); "
                "write one JSON object per line"
            ) from None
        except RecursionError:
            raise CorpusError(f"line {number} of {name} is nested too deeply to read") from None
        if not isinstance(row, dict):
            raise CorpusError(
                f"line {number} of {name} is a JSON {type(row).__name__}, not an object; "
                'write one object per line, like {"text": "..."}'
            )
        rows.append(row)
    keys = list(dict.fromkeys(key for row in rows for key in row))
    return {key: [_clean_json(row.get(key)) for row in rows] for key in keys}


def read_parquet(path: Path) -> dict[str, list]:
    """Columns of a Parquet file as Python values (nulls are None)."""
    import pyarrow
    import pyarrow.parquet as pq

    try:
        columns = pq.read_table(path).to_pydict()
    except (pyarrow.ArrowException, OSError, ValueError, TypeError, IndexError) as exc:
        message = " ".join(str(exc).split())
        raise CorpusError(f"cannot read {path.name} as Parquet: {message}") from None
    return {
        str(key): values for key, values in columns.items() if not _PANDAS_INDEX.match(str(key))
    }


def table_documents(
    columns: dict[str, list],
    name: str,
    *,
    text_column: str | None = None,
    label_column: str | None = None,
    id_column: str | None = None,
) -> list[Document]:
    """Documents from table columns.

    Parameters
    ----------
    columns : dict of str to list
        Column name to its values, all of one length, in column order.
    name : str
        The table's file name, for messages.
    text_column, label_column, id_column : str or None
        Columns to use; None picks them by name (and, for the text, by content);
        :data:`NO_COLUMN` (label and id) uses none.

    Returns
    -------
    list of Document
        Missing text becomes ""; a missing or empty label becomes None.
    """
    if not columns:
        raise CorpusError(f"no documents in {name}: the table has no columns")
    n_rows = len(next(iter(columns.values())))
    if n_rows == 0:
        raise CorpusError(f"no documents in {name}: the table has a header but no rows")
    text_col, label_col, id_col = pick_columns(
        columns, name, text_column=text_column, label_column=label_column, id_column=id_column
    )
    ids = _row_ids(columns, name, id_col, n_rows)
    labels = [_label(v) for v in columns[label_col]] if label_col else [None] * n_rows
    texts = [_cell_text(v) for v in columns[text_col]]
    return [Document(i, t, lab) for i, t, lab in zip(ids, texts, labels)]


def pick_columns(
    columns: dict[str, list],
    name: str,
    *,
    text_column: str | None = None,
    label_column: str | None = None,
    id_column: str | None = None,
) -> tuple[str, str | None, str | None]:
    """The text, label and id columns :func:`table_documents` uses (as the module docstring says).

    Parameters
    ----------
    columns : dict of str to list
    name : str
        The table's file name, for messages.
    text_column, label_column, id_column : str or None
        Columns asked for; None picks one; :data:`NO_COLUMN` (label and id) asks for none.

    Returns
    -------
    (text, label, id) : str, str or None, str or None
    """
    text_col = _pick_text_column(columns, name, text_column)
    id_col = None if id_column == NO_COLUMN else (
        _named_column(columns, name, id_column, "id") or _first_named(columns, ID_NAMES, {text_col})
    )
    label_col = None if label_column == NO_COLUMN else (
        _named_column(columns, name, label_column, "label")
        or _first_named(columns, LABEL_NAMES, {text_col, id_col})
    )
    return text_col, label_col, id_col


def _pick_text_column(columns: dict[str, list], name: str, wanted: str | None) -> str:
    chosen = _named_column(columns, name, wanted, "text")
    if chosen:
        return chosen
    chosen = _first_named(columns, TEXT_NAMES, set())
    if chosen:
        return chosen
    candidates = [
        (col, _mean_length(values)) for col, values in columns.items() if _is_text(values)
    ]
    if not candidates:
        raise ColumnError(
            f"no text column in {name}: columns are {_listing(columns)}",
            "text",
            "; choose one with --text-column",
        )
    return max(candidates, key=lambda pair: pair[1])[0]  # max keeps the first of equals


def _named_column(columns: dict[str, list], name: str, wanted: str | None, role: str) -> str | None:
    if wanted is None:
        return None
    if wanted not in columns:
        raise ColumnError(
            f"no column {wanted!r} in {name}: columns are {_listing(columns)}",
            role,
            f"; choose one of them with --{role}-column",
        )
    return wanted


def _first_named(columns: dict[str, list], names: tuple[str, ...], exclude: set) -> str | None:
    return next((col for col in columns if col.lower() in names and col not in exclude), None)


def _is_text(values: list) -> bool:
    """A column of strings (nulls allowed) that are not all numbers, with some non-empty."""
    present = [v for v in values if v is not None and v != ""]
    return (
        bool(present)
        and all(isinstance(v, str) for v in present)
        and not all(map(_is_number, present))
    )


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _mean_length(values: list) -> float:
    return sum(len(v) for v in values if isinstance(v, str)) / len(values)


def _row_ids(columns: dict[str, list], name: str, id_col: str | None, n_rows: int) -> list[str]:
    if id_col is None:
        return [f"row-{i}" for i in range(1, n_rows + 1)]
    ids = []
    seen: set[str] = set()
    for row, value in enumerate(columns[id_col], 1):
        doc_id = _label(value)
        if doc_id is None:
            raise ColumnError(
                f"row {row} of {name} has no id in column {id_col!r}",
                "id",
                "; fill it in or choose another column with --id-column",
            )
        if doc_id in seen:
            raise ColumnError(
                f"duplicate id {doc_id!r} in column {id_col!r} of {name} (row {row}); ids must be unique",
                "id",
                ": choose another column with --id-column",
            )
        seen.add(doc_id)
        ids.append(doc_id)
    return ids


def _cell_text(value) -> str:
    if value is None or (isinstance(value, float) and value != value):  # NaN
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value if isinstance(value, str) else str(value)


def _label(value) -> str | None:
    text = _cell_text(value)
    return text if text != "" else None


def _clean_json(value):
    """JSON may spell lone surrogates (``"\\ud800"``); replace them so the text can be saved."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return value


def _listing(columns: dict[str, list]) -> str:
    # a quoted header may hold line breaks: spell those names out so the message stays one line
    names = [c if c.isprintable() else repr(c) for c in columns]
    return ", ".join(names) if names else "(none)"
