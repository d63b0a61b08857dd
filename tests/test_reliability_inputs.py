"""Bad input, generated: every loader and ``docmodel prepare`` give documents or one clear error.

Inputs are built structurally by hypothesis (random columns, quoting, missing fields, bad JSON,
``.feat`` lines with bad ids or counts, Matrix Market headers, folder trees, mixed encodings),
plus the edge corpora a user can hand over: empty, one document, one word, identical documents
and a single document of a million tokens. Arbitrary bytes per file type, damaged archives and
hostile archive members are covered by ``test_loaders_fuzz.py`` and ``test_archives.py``; here
they go through ``docmodel prepare`` end to end, which must answer 0 or 2 and never raise.
Every example runs under a hard time limit, so a hang fails the test instead of stalling it.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import signal
import tarfile
import tempfile
import tracemalloc
import zipfile
from datetime import timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from corpora.bow import read_feat, read_mtx
from corpora.corpus import Dataset
from corpora.errors import CorpusError
from corpora.loaders import LoadedDocuments, load_documents
from corpora.vocabulary import Vocabulary
from docmodel.cli import main

PROPERTY = settings(
    max_examples=40,
    deadline=timedelta(seconds=10),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)
EXAMPLE_SECONDS = 30  # hard limit per example: a hang fails instead of stalling the run


@contextlib.contextmanager
def time_limit(seconds: float = EXAMPLE_SECONDS):
    """Raise TimeoutError in the main thread if the block runs longer than ``seconds``."""

    def alarm(signum, frame):
        raise TimeoutError(f"still running after {seconds} s: a hang")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


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


# --- folders ----------------------------------------------------------------------------------
PATH_PARTS = st.sampled_from(["a", "b", "news", ".hidden", "__MACOSX", "é", "x y", "1"])
CONTENTS = (
    SENTENCES.map(str.encode)
    | st.binary(max_size=64)
    | st.sampled_from(["café naïve".encode("latin-1"), "über".encode(), b"", b"\x00" * 10])
)


@PROPERTY
@given(files=st.dictionaries(st.lists(PATH_PARTS, min_size=1, max_size=3).map(tuple), CONTENTS,
                             min_size=1, max_size=8))
def test_folder_trees_give_every_visible_file_or_raise(files):
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder, "corpus")
        root.mkdir()
        written = []
        for parts, data in files.items():
            path = root.joinpath(*parts)
            try:  # a file and a folder of one name cannot both exist: keep the first
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
            except (FileExistsError, NotADirectoryError, IsADirectoryError):
                continue
            written.append(parts)
        assume(written)
        loaded = load_or_refuse(root)
    visible = sorted(
        "/".join(p) for p in written if not any(s.startswith(".") or s == "__MACOSX" for s in p)
    )
    if loaded is None:
        return
    assert sorted([d.id for d in loaded] + [doc_id for doc_id, _ in loaded.skipped]) == visible


def test_files_holding_only_a_bom_or_a_cut_off_character_are_read_as_text(tmp_path):
    for name, data in {"bom": b"\xef\xbb\xbf", "cut2": b"\xc2", "cut3": b"\xe2\x82"}.items():
        (tmp_path / name).write_bytes(data)
    loaded = load_or_refuse(tmp_path)
    assert {d.id: d.text for d in loaded} == {"bom": "", "cut2": "\xc2", "cut3": "\xe2\x82"}
    assert loaded.skipped == ()


# --- .feat files ------------------------------------------------------------------------------
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


@PROPERTY
@given(generated=feat_lines())
def test_feat_lines_load_exactly_or_name_a_bad_line(generated):
    text, kinds, counts = generated
    vocabulary = Vocabulary(tuple(f"w{i}" for i in range(1, N_WORDS + 1)))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "t.feat")
        path.write_text(text, encoding="utf-8", newline="")
        with time_limit():
            try:
                bow = read_feat(path, vocabulary)
            except CorpusError as exc:
                check_message(exc)
                bad = {n for n, kind in enumerate(kinds, 1) if kind == "bad"}
                assert bad, f"good file refused: {exc}"
                number = int(str(exc).split(f"{path}:", 1)[1].split(":", 1)[0])
                assert number in bad, f"line {number} is fine: {exc}"
                return
    assert "bad" not in kinds
    assert bow.n_dropped_empty == kinds.count("empty")
    expected = sp.lil_matrix((len(counts), N_WORDS), dtype=np.int64)
    for row, number in enumerate(sorted(counts)):
        for word, count in counts[number].items():
            expected[row, word - 1] = count
    assert (bow.corpus.X != expected.tocsr()).nnz == 0
    assert bow.corpus.doc_ids == tuple(f"t-{n}" for n in sorted(counts))


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


@PROPERTY
@given(text=mtx_files())
def test_matrix_market_files_load_as_counts_or_raise(text):
    vocabulary = Vocabulary(tuple(f"w{i}" for i in range(N_WORDS)))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "t.mtx")
        path.write_text(text, encoding="utf-8")
        with time_limit():
            try:
                bow = read_mtx(path, vocabulary)
            except CorpusError as exc:
                check_message(exc)
                return
    assert "complex" not in text
    X = bow.corpus.X
    assert X.shape[1] == N_WORDS and X.dtype == np.int32
    assert X.nnz == 0 or X.data.min() > 0
    assert np.all(np.diff(X.indptr) > 0)  # empty documents are dropped and counted


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


# --- mixed encodings --------------------------------------------------------------------------
LATIN = st.sampled_from(["café au lait", "naïve façade", "über straße", "señor año"])
UTF8 = st.sampled_from(["crème brûlée", "日本語 テキスト", "ελληνικά γράμματα", "plain ascii"])


@st.composite
def mixed_lines(draw) -> tuple[bytes, list[str]]:
    """Lines encoded one by one as Latin-1 or UTF-8, at least one Latin-1 line with accents."""
    lines = draw(st.lists(st.tuples(st.booleans(), LATIN | UTF8), min_size=1, max_size=6))
    lines.append((True, draw(LATIN)))
    lines = draw(st.permutations(lines))
    raw = b"\n".join(encode(t, "latin-1" if latin else "utf-8") for latin, t in lines)
    return raw, [t for _, t in lines]


def encode(text: str, codec: str) -> bytes:
    try:
        return text.encode(codec)
    except UnicodeEncodeError:  # not every line can be Latin-1
        return text.encode("utf-8")


@PROPERTY
@given(generated=mixed_lines())
def test_mixed_latin1_and_utf8_lines_load_or_name_the_byte(generated):
    raw, texts = generated
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "mixed.txt")
        path.write_bytes(raw)
        loaded = load_or_refuse(path)
        assert loaded is not None and len(loaded) == len(texts)
        # auto falls back to Latin-1 for the whole file: each byte is kept, none is lost
        assert [d.text.encode("latin-1") for d in loaded] == raw.split(b"\n")
        with pytest.raises(CorpusError, match=r"cannot decode .*mixed.txt as utf-8: byte 0x"):
            load_documents(path, encoding="utf-8")
        assert [d.text for d in load_documents(path, encoding="latin-1")] == [
            d.text for d in loaded
        ]


@PROPERTY
@given(generated=mixed_lines())
def test_mixed_encodings_in_tables_vocabularies_and_feat_labels(generated):
    raw, texts = generated
    with tempfile.TemporaryDirectory() as folder:
        table = Path(folder, "mixed.csv")
        table.write_bytes(b"text\n" + raw + b"\n")
        loaded = load_or_refuse(table)
        assert loaded is not None and len(loaded) == len(texts)
        words = [f"w{i}".encode() + line.split(b" ")[0] for i, line in enumerate(raw.split(b"\n"))]
        vocab = Path(folder, "vocab.new")
        vocab.write_bytes(b"\n".join(w + b" 7" for w in words) + b"\n")
        feat = Path(folder, "mixed.feat")
        feat.write_bytes(b"\n".join(w + b" 1:2" for w in words) + b"\n")
        data = check_prepare(feat, "--test-fraction", "0", output=Path(folder, "out"))
    assert data is not None and len(data.vocabulary) == len(words)
    assert data.train.n_docs == len(words) and data.train.n_tokens == 2 * len(words)


# --- empty, tiny and degenerate corpora ---------------------------------------------------------
EMPTY_SOURCES = [
    ("empty.txt", b"", "empty.txt is empty; there are no documents to load"),
    ("empty.csv", b"", "empty.csv is empty; there are no documents to load"),
    ("empty.jsonl", b"", "empty.jsonl is empty; there are no documents to load"),
    ("empty.parquet", b"", "empty.parquet is empty; there are no documents to load"),
    ("empty.zip", b"", "empty.zip is empty; there are no documents to load"),
    ("blank.txt", b" \n\n\t\r\n", "blank.txt: every line is blank"),
    ("header.csv", b"text,label\n", "the table has a header but no rows"),
    ("nulls.jsonl", b"{}\n{}\n", "the table has no columns"),
    ("empty.feat", b"", "empty.feat holds no documents"),
    ("blank.feat", b"\n3\n \n", "of 3 training documents, 0 had fewer than 1 tokens and 3 had no word"),
    ("empty.mtx", b"", "empty.mtx is not a readable Matrix Market file"),
]


@pytest.mark.parametrize("name, data, message", EMPTY_SOURCES, ids=[s[0] for s in EMPTY_SOURCES])
def test_empty_sources_are_refused_with_a_message(tmp_path, name, data, message):
    (tmp_path / name).write_bytes(data)
    (tmp_path / "vocab.new").write_text("apple\nbanana\n")
    code, _, err = run_prepare(tmp_path / name, "-o", tmp_path / "out")
    assert code == 2 and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists()


def test_an_empty_folder_is_refused(tmp_path):
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / ".hidden").write_text("apple")
    code, _, err = run_prepare(tmp_path / "corpus", "-o", tmp_path / "out")
    assert code == 2 and "the folder has no files (hidden ones are ignored)" in err


def test_one_document_needs_both_document_frequency_limits_opened(tmp_path):
    (tmp_path / "one.txt").write_text("apple banana kiwi apple\n")
    code, _, err = run_prepare(tmp_path / "one.txt", "-o", tmp_path / "out")
    assert code == 2 and "1 had no word in the vocabulary (0 words)" in err
    assert "lower --min-df (now 2) or raise --max-df" in err
    code, _, err = run_prepare(tmp_path / "one.txt", "--min-df", "1", "-o", tmp_path / "out")
    assert code == 2 and "raise --max-df (now 0.95)" in err and "lower --min-df" not in err
    data = check_prepare(tmp_path / "one.txt", "--min-df", "1", "--max-df", "1",
                         output=tmp_path / "out")
    assert data.train.n_docs == 1 and data.test is None
    assert data.vocabulary.words == ("apple", "banana", "kiwi")
    assert data.train.X.toarray().tolist() == [[2, 1, 1]]


def test_one_document_trains_lda_but_not_an_sbn_which_needs_validation_documents(tmp_path):
    (tmp_path / "one.txt").write_text("apple banana kiwi apple\n")
    check_prepare(tmp_path / "one.txt", "--min-df", "1", "--max-df", "1", output=tmp_path / "c")
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["train", str(tmp_path / "c"), "--units", "2", "--epochs", "2",
                     "-o", str(tmp_path / "sbn")])
    assert code == 2 and "non-empty training documents (got 1 sample)" in err.getvalue()
    assert err.getvalue().count("\n") == 1
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(["train", str(tmp_path / "c"), "--model", "lda", "--units", "2", "--epochs",
                     "2", "-o", str(tmp_path / "lda")]) == 0
        assert main(["evaluate", str(tmp_path / "lda"), str(tmp_path / "c"), "--split", "train",
                     "--samples", "5", "--json", str(tmp_path / "e.json")]) == 0
    figures = json.loads((tmp_path / "e.json").read_text())
    assert np.isfinite(figures["perplexity_bound"]) and figures["perplexity_bound"] >= 1


@pytest.mark.parametrize("model", ["sbn", "lda"])
@pytest.mark.parametrize(
    "lines, words",
    [(["apple apple"] * 10 + ["apple"] * 20, ("apple",)),
     (["apple banana kiwi"] * 30, ("apple", "banana", "kiwi"))],
    ids=["one-word-vocabulary", "identical-documents"],
)
def test_degenerate_corpora_prepare_and_train_to_finite_figures(tmp_path, model, lines, words):
    (tmp_path / "d.txt").write_text("\n".join(lines) + "\n")
    code, _, err = run_prepare(tmp_path / "d.txt", "-o", tmp_path / "c")
    assert code == 2 and "the vocabulary is empty" in err and "raise --max-df" in err
    data = check_prepare(tmp_path / "d.txt", "--max-df", "1", output=tmp_path / "c")
    assert data.vocabulary.words == words and data.train.n_docs == 24 and data.test.n_docs == 6
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        assert main(["train", str(tmp_path / "c"), "--model", model, "--units", "2", "--epochs",
                     "2", "--val-docs", "5", "-o", str(tmp_path / "m")]) == 0, out.getvalue()
        assert main(["evaluate", str(tmp_path / "m"), str(tmp_path / "c"), "--samples", "5",
                     "--json", str(tmp_path / "e.json")]) == 0, out.getvalue()
    figures = json.loads((tmp_path / "e.json").read_text())
    for key in ("perplexity_bound", "perplexity_is", "perplexity_completion"):
        # Perplexity is at least 1 for the exact log p(x) <= 0; these are estimates from 5 to 10
        # samples, whose log p(x) can exceed 0 by sampling noise on documents of one or two tokens
        # (with one word in the vocabulary the exact perplexity is 1).
        assert np.isfinite(figures[key]) and figures[key] >= 0.9, (key, figures[key])


def test_a_million_token_document_is_prepared_with_bounded_memory(tmp_path):
    """One line of 1,000,000 tokens (5 MB): prepared within the hard time limit, and the
    Python allocations at their peak stay under 60 bytes per input byte."""
    rng = np.random.default_rng(0)
    words = np.array([f"w{a}{b}x" for a in "abcdefghijklmnopqrstuvwxyz" for b in "abcdefghij"])
    text = " ".join(words[rng.integers(0, len(words), 1_000_000)])
    (tmp_path / "long.txt").write_text(text + "\n")
    tracemalloc.start()
    try:
        data = check_prepare(tmp_path / "long.txt", "--min-df", "1", "--max-df", "1",
                             output=tmp_path / "c")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert data.train.n_docs == 1 and data.train.n_tokens == 1_000_000
    assert len(data.vocabulary) == len(words)
    assert peak < 60 * len(text), f"peak {peak / 1e6:.0f} MB for {len(text) / 1e6:.0f} MB of text"


# --- docmodel prepare, end to end ---------------------------------------------------------------
OPTION_VALUES = {
    "--min-df": ["1", "2", "0", "x"],
    "--max-df": ["1", "0.5", "0", "2"],
    "--max-words": ["1", "3", "0"],
    "--test-fraction": ["0", "0.5", "1", "-1"],
    "--min-doc-tokens": ["1", "3", "0"],
    "--stopwords": ["none", "english", "klingon"],
    "--token-pattern": [r"\S+", "[a-z]+", "(", "x*"],
    "--encoding": ["auto", "latin-1", "utf-8", "nope"],
    "--text-column": ["text", "missing"],
    "--seed": ["0", "-1"],
}
SWITCHES = ["--stem", "--bigrams", "--strip-quotes", "--strip-urls", "--strip-numbers"]
LENIENT = ["--min-df", "1", "--max-df", "1"]  # later flags win: generated values still apply
OPTIONS = st.tuples(st.sampled_from([[], LENIENT]), st.lists(
    st.sampled_from(sorted(OPTION_VALUES)).flatmap(
        lambda flag: st.sampled_from(OPTION_VALUES[flag]).map(lambda v: (flag, v))
    ),
    max_size=4,
    unique_by=lambda pair: pair[0],
).map(lambda pairs: [x for pair in pairs for x in pair]) | st.sampled_from(SWITCHES).map(
    lambda s: [s]
)).map(lambda parts: parts[0] + parts[1])


@st.composite
def sources(draw) -> tuple[str, bytes]:
    """A file name and bytes: a generated table or text, or arbitrary bytes."""
    kind = draw(st.sampled_from(["csv", "tsv", "jsonl", "txt", "feat", "mtx", "bytes"]))
    if kind in ("csv", "tsv"):
        return f"s.{kind}", draw(malformed_tables("," if kind == "csv" else "\t")).encode()
    if kind == "jsonl":
        return "s.jsonl", draw(jsonl_lines())[0].encode()
    if kind == "txt":
        lines = draw(st.lists(SENTENCES | CELLS, max_size=12))
        return "s.txt", "\n".join(lines).encode(draw(st.sampled_from(["utf-8", "utf-16"])))
    if kind == "feat":
        return "s.feat", draw(feat_lines())[0].encode()
    if kind == "mtx":
        return "s.mtx", draw(mtx_files()).encode()
    suffix = draw(st.sampled_from([".txt", ".csv", ".jsonl", ".feat", ".mtx", ".zip", ".parquet"]))
    return f"s{suffix}", draw(st.binary(max_size=300))


@PROPERTY
@given(source=sources(), options=OPTIONS, vocab=st.none() | st.binary(max_size=60))
def test_prepare_answers_0_with_a_corpus_or_2_with_one_line(source, options, vocab):
    name, data = source
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, name)
        path.write_bytes(data)
        words = "".join(f"w{i}\n" for i in range(1, N_WORDS + 1)).encode()
        Path(folder, "vocab.new").write_bytes(words if vocab is None else vocab)
        data = check_prepare(path, *options, output=Path(folder, "out"))
    event("prepared" if data is not None else "refused")


@st.composite
def hostile_archives(draw) -> tuple[str, list[tuple[str, str]]]:
    """Archive members: (name, kind) with kind file, dir, symlink or hardlink; names that are
    fine, traverse with '..', are absolute, or nest very deep."""
    kinds = st.sampled_from(["file", "file", "file", "dir", "symlink", "hardlink"])
    names = st.sampled_from(
        ["a/1.txt", "b/2.txt", "3.txt", "../MARK", "a/../../MARK", "/tmp/MARK", "C:\\MARK",
         "..\\MARK", "./a/4.txt", "a//5.txt", "/".join(["d"] * 40) + "/MARK"]
    )
    return draw(st.sampled_from(["zip", "tar"])), draw(
        st.lists(st.tuples(names, kinds), min_size=1, max_size=5, unique_by=lambda m: m[0])
    )


def write_archive(path: Path, kind: str, members, marker: str) -> None:
    data = f"apple banana {marker}".encode()
    if kind == "zip":
        with zipfile.ZipFile(path, "w") as archive:
            for name, member_kind in members:
                info = zipfile.ZipInfo(name.replace("MARK", marker))
                if member_kind == "symlink":
                    info.external_attr = 0o120777 << 16
                elif member_kind == "dir":
                    info.filename += "/"
                archive.writestr(info, b"../../" + marker.encode() if member_kind == "symlink" else data)
        return
    with tarfile.open(path, "w:gz") as archive:
        for name, member_kind in members:
            info = tarfile.TarInfo(name.replace("MARK", marker))
            info.type = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE,
                         "symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE}[member_kind]
            if member_kind in ("symlink", "hardlink"):
                info.linkname = f"../../{marker}"
            info.size = len(data) if member_kind == "file" else 0
            archive.addfile(info, io.BytesIO(data) if member_kind == "file" else None)


@PROPERTY
@given(archive=hostile_archives())
def test_hostile_archives_write_nothing_outside_the_output(archive):
    kind, members = archive
    marker = f"mark-{os.getpid()}-{abs(hash(tuple(members)))}"
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder, "inner", "deeper")
        root.mkdir(parents=True)
        path = root / f"a.{'zip' if kind == 'zip' else 'tar.gz'}"
        write_archive(path, kind, members, marker)
        data = check_prepare(path, "--min-df", "1", "--max-df", "1", "--test-fraction", "0",
                             output=root / "out")
        found = [p for p in Path(folder).rglob("*") if marker in p.name]
        written = {p.relative_to(folder).as_posix() for p in Path(folder).rglob("*")}
        outside = {p for p in written if not p.startswith("inner/deeper/out")}
        assert found == [] and outside == {"inner", "inner/deeper", f"inner/deeper/{path.name}"}
    for place in (Path("/tmp", marker), Path(tempfile.gettempdir(), marker), Path.cwd() / marker):
        assert not place.exists()
    links = ("symlink", "hardlink") if kind == "tar" else ("symlink",)
    if any("MARK" in name or member_kind in links for name, member_kind in members):
        assert data is None, "a hostile member was accepted"
