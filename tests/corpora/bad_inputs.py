"""Helpers for the generated bad-input tests: the checks every loader and ``docmodel prepare``
answer must pass, and the hypothesis strategies that build tables, JSON lines, ``.feat`` lines and
Matrix Market files.

A loader gives well-formed documents or a one-line ``CorpusError``; ``docmodel prepare`` answers 0
with a corpus that loads, or 2 with one line and no output. Every check runs under a hard time
limit (``tests/time_limit.py``), so a hang fails the test instead of stalling it.
"""

from __future__ import annotations

import contextlib
import io
import json
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from corpora.corpus import Dataset
from corpora.errors import CorpusError
from corpora.loaders import LoadedDocuments, load_documents
from docmodel.cli import main
from tests.time_limit import time_limit

PROPERTY = settings(
    max_examples=40,
    deadline=timedelta(seconds=10),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)


def load_or_refuse(path: Path, **kwargs) -> LoadedDocuments | None:
    """Load ``path``; documents must be well-formed, a refusal a one-line CorpusError."""
    with time_limit():
        try:
            loaded = load_documents(path, **kwargs)
        except CorpusError as exc:
            check_message(exc)
            return None
    assert isinstance(loaded, LoadedDocuments) and len(loaded) > 0
    assert len({d.id for d in loaded}) == len(loaded)
    for doc in loaded:
        assert isinstance(doc.id, str) and isinstance(doc.text, str)
        assert doc.label is None or isinstance(doc.label, str)
        doc.text.encode("utf-8")  # savable: no lone surrogates
    return loaded


def check_message(exc: BaseException) -> None:
    message = str(exc)
    assert message.strip(), f"{type(exc).__name__} without a message"
    assert "\n" not in message, f"message spans lines: {message!r}"


def run_prepare(*args) -> tuple[int, str, str]:
    """``docmodel prepare ARGS`` in-process: the exit code, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with time_limit(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["prepare", *map(str, args)])
    return code, out.getvalue(), err.getvalue()


def check_prepare(*args, output: Path) -> Dataset | None:
    """Run ``docmodel prepare``: 0 and a loadable corpus, or 2, one line, and no output at all."""
    code, _, err = run_prepare(*args, "-o", output)
    leftovers = [p.name for p in output.parent.iterdir() if p.name.startswith(f".{output.name}.")]
    assert leftovers == [], f"temporary folders left behind: {leftovers}"
    if code == 2:
        assert err.startswith("docmodel prepare: error: ") and err.count("\n") == 1, err
        assert "Traceback" not in err
        assert not output.exists()
        return None
    assert code == 0 and err == "", (code, err)
    data = Dataset.load(output)
    assert data.train.n_docs > 0 and len(data.vocabulary) > 0
    return data
# --- strategies -------------------------------------------------------------------------------
ANY_CHAR = st.characters(codec="utf-8", exclude_categories=("Cs",))
TRICKY = ['"', '""', ",", "\t", "\n", "\r\n", "\r", " ", '"a,b"', "1", "2.5", "", "\\", "\x00", "é"]
CELLS = st.text(ANY_CHAR, max_size=12) | st.sampled_from(TRICKY) | st.text("ab \n,\"'", max_size=8)
NAMES = st.sampled_from(["text", "label", "id", "body", "Text", "doc_id", "x", "", "a,b", 'q"'])
WORDS = st.sampled_from(["apple", "banana", "kiwi", "mango", "plum", "pear", "fig", "lime"])
SENTENCES = st.lists(WORDS, min_size=1, max_size=8).map(" ".join)


def csv_cell(value: str, delimiter: str, quote: bool) -> str:
    if quote:
        return '"' + value.replace('"', '""') + '"'
    return value  # unescaped: may break the row, on purpose


@st.composite
def malformed_tables(draw, delimiter: str) -> str:
    """CSV/TSV text with random columns, quoting, missing and extra fields, line ends."""
    header = draw(st.lists(NAMES | CELLS, min_size=1, max_size=5))
    rows = draw(st.lists(st.lists(CELLS, max_size=len(header) + 2), max_size=8))
    end = draw(st.sampled_from(["\n", "\r\n"]))
    lines = []
    for row in [header, *rows]:
        quoting = draw(st.lists(st.booleans(), min_size=len(row), max_size=len(row)))
        lines.append(delimiter.join(csv_cell(v, delimiter, q) for v, q in zip(row, quoting)))
    return end.join(lines) + draw(st.sampled_from(["", end]))


@st.composite
def well_formed_tables(draw) -> tuple[list[str], list[dict]]:
    """Columns (text first, unique, no conventional id name) and full rows of any text."""
    extra = draw(st.lists(st.sampled_from(["x1", "x2", "x3", "label"]), unique=True, max_size=3))
    columns = ["text", *extra]
    rows = draw(
        st.lists(
            st.fixed_dictionaries(
                {c: (SENTENCES | CELLS) if c == "text" else CELLS for c in columns}
            ),
            min_size=1,
            max_size=8,
        )
    )
    return columns, rows


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(ANY_CHAR, max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)


@st.composite
def jsonl_lines(draw) -> tuple[str, list[str]]:
    """JSON lines, each an object, another JSON value, broken JSON or blank; and the kinds."""
    kinds = draw(st.lists(st.sampled_from(["object", "value", "broken", "blank"]), max_size=8))
    lines = []
    for kind in kinds:
        if kind == "object":
            row = draw(st.dictionaries(NAMES | st.text(max_size=5), JSON_VALUES, max_size=4))
            lines.append(json.dumps(row, ensure_ascii=draw(st.booleans())))
        elif kind == "value":
            lines.append(json.dumps(draw(JSON_VALUES.filter(lambda v: not isinstance(v, dict)))))
        elif kind == "broken":
            good = json.dumps({"text": draw(SENTENCES)})
            cut = draw(st.integers(1, len(good) - 1))
            lines.append(draw(st.sampled_from([good[:cut], good[cut:], "{'text': 'x'}", "{text}"])))
        else:
            lines.append(draw(st.sampled_from(["", " ", "\t"])))
    return "\n".join(lines), kinds

# --- .feat lines ----------------------------------------------------------------------------
N_WORDS = 5
GOOD_ID = st.integers(1, N_WORDS).map(str)
BAD_ID = st.sampled_from(["0", str(N_WORDS + 1), "999999999999", "-1", "a", "1.5", "", "０"])
GOOD_COUNT = st.integers(1, 1000).map(str)
BAD_COUNT = st.sampled_from(["0", "-3", "2.5", "x", "", "99999999999", "1e3"])


@st.composite
def feat_lines(draw) -> tuple[str, list[tuple[int, str]], dict[int, dict[int, int]]]:
    """Lines of a .feat file; per line its kind ("ok", "empty", "bad"); and the good counts."""
    lines, kinds, counts = [], [], {}
    for number in range(1, draw(st.integers(0, 8)) + 1):
        kind = draw(st.sampled_from(["ok", "ok", "ok", "empty", "bad"]))
        label = draw(st.sampled_from(["0", "3", "sci.space", "ü"]))
        if kind == "empty":
            lines.append(draw(st.sampled_from(["", "  ", label, label + " "])))
        elif kind == "ok":
            pairs = draw(st.lists(st.tuples(GOOD_ID, GOOD_COUNT), min_size=1, max_size=6))
            row = counts.setdefault(number, {})
            for i, c in pairs:
                row[int(i)] = row.get(int(i), 0) + int(c)
            lines.append(label + " " + " ".join(f"{i}:{c}" for i, c in pairs))
        else:
            pairs = draw(st.lists(st.tuples(GOOD_ID, GOOD_COUNT), max_size=3))
            bad = draw(
                st.tuples(BAD_ID, GOOD_COUNT).map(":".join)
                | st.tuples(GOOD_ID, BAD_COUNT).map(":".join)
                | st.sampled_from(["7", "1:2:3", ":", "1:"])
            )
            pairs.insert(draw(st.integers(0, len(pairs))), bad)
            pairs = [p if isinstance(p, str) else ":".join(p) for p in pairs]
            start = draw(st.sampled_from([label + " ", "1:2 "]))  # a pair where the label goes
            lines.append(start + " ".join(pairs))
        kinds.append(kind)
    end = draw(st.sampled_from(["\n", "\r\n"]))
    trailing = draw(st.sampled_from(["", end])) if lines else ""
    if lines and lines[-1] == "":
        trailing = end  # without it the blank last line would not be a line at all
    return end.join(lines) + trailing, kinds, counts

# --- Matrix Market files ----------------------------------------------------------------------
@st.composite
def mtx_files(draw) -> str:
    header = draw(
        st.sampled_from(
            [
                "%%MatrixMarket matrix coordinate integer general",
                "%%MatrixMarket matrix coordinate real general",
                "%%MatrixMarket matrix coordinate pattern general",
                "%%MatrixMarket matrix coordinate integer symmetric",
                "%%MatrixMarket matrix array integer general",
                "%%MatrixMarket matrix coordinate complex general",
                "%%MatrixMarket vector coordinate integer general",
                "%%MatrixMarket",
                "not a header",
                "",
            ]
        )
    )
    n_rows, n_cols = draw(st.integers(-1, 6)), draw(st.sampled_from([N_WORDS, 3, 0, -2]))
    entries = draw(
        st.lists(
            st.tuples(
                st.integers(-1, 8), st.integers(-1, 8),
                st.sampled_from(["1", "3", "0", "-2", "2.5", "nan", "inf", "1e30", "x", ""]),
            ),
            max_size=8,
        )
    )
    declared = draw(st.sampled_from([len(entries), len(entries) + 1, max(len(entries) - 1, 0)]))
    body = [f"{r} {c} {v}".strip() for r, c, v in entries]
    return "\n".join([header, f"{n_rows} {n_cols} {declared}", *body]) + "\n"
