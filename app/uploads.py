"""Uploaded files -> a folder in the session's temporary space -> a corpus through ``corpora``.

The page hands the uploaded files to :func:`stage_uploads` as ``(name, bytes)`` pairs (so tests
can call it without a browser); it writes them under the session folder, decides what they
are (with :func:`corpora.loaders.detect_format`) and lists a table's columns for the column
picker, with a preview of its first rows and the columns "(automatic)" would use.
:func:`prepare_staged` then prepares the corpus with the chosen options. Every problem is a
:class:`corpora.CorpusError` whose message names the file and what to do on the page (never a
CLI flag).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from corpora import CorpusError, Dataset
from corpora.errors import ColumnError, NoDocumentsLeft
from corpora.loaders import detect_format
from corpora.prepare import PrepareOptions, prepare
from corpora.rawtext import decode_bytes, non_text_reason
from corpora.tables import pick_columns, read_delimited, read_jsonl, read_parquet

TABLES = ("csv", "tsv", "jsonl", "parquet")
ARCHIVES = ("zip", "tar")
BAG_OF_WORDS = ("feat", "mtx")
UPLOAD_TYPES = (
    "txt", "text", "csv", "tsv", "tab", "jsonl", "ndjson", "parquet", "pq", "zip", "tar", "gz",
    "tgz", "bz2", "xz", "feat", "mtx", "new", "vocab", "md", "json",
)
"""Extensions the upload widget offers; anything else that is text is also read when dropped."""

SUPPORTED = (
    "plain text files (several at once: one document each), a .txt file with one document per "
    "line, a .zip or .tar.gz of text files, a CSV/TSV/JSON-lines/Parquet table, or a .feat "
    "bag-of-words file with its vocabulary (vocab.new)"
)

EXPECTED_TABLE = "a CSV, TSV, JSON-lines or Parquet table with one document per row and a column of text"
EXPECTED_TEXT = "plain text (one document per line, or the whole file as one document)"
PICK_TEXT = "choose the column that holds the documents' text in the Text column picker"
PREVIEW_ROWS = 5
_PREVIEW_CHARS = 200


@dataclass(frozen=True)
class StagedUpload:
    """Uploaded files written to disk and recognised.

    Attributes
    ----------
    path : Path
        What to prepare: a file, or a folder of text files.
    kind : str
        "folder", "lines", one of :data:`TABLES`, :data:`ARCHIVES` or :data:`BAG_OF_WORDS`.
    names : tuple of str
        The uploaded file names.
    columns : tuple of str
        A table's columns (tables only).
    vocabulary : Path or None
        The vocabulary file of a bag-of-words upload.
    preview : dict of str to list
        A table's first :data:`PREVIEW_ROWS` rows, column by column (tables only).
    automatic : (str or None, str or None, str or None)
        The text, label and id columns "(automatic)" uses when all three are left to it (tables
        only); text None: no column holds text.
    """

    path: Path
    kind: str
    names: tuple[str, ...]
    columns: tuple[str, ...] = ()
    vocabulary: Path | None = None
    preview: dict | None = None
    automatic: tuple[str | None, str | None, str | None] = (None, None, None)

    @property
    def is_table(self) -> bool:
        return self.kind in TABLES

    def describe(self) -> str:
        what = {
            "folder": f"{len(self.names)} text files, one document each",
            "lines": "a text file, one document per line",
            "zip": "a zip archive of text files",
            "tar": "a tar archive of text files",
            "feat": "a .feat bag-of-words file with its vocabulary",
            "mtx": "a Matrix Market bag-of-words file with its vocabulary",
        }.get(self.kind, f"a {self.kind.upper()} table with columns {', '.join(self.columns)}")
        return what


def stage_uploads(files: Sequence[tuple[str, bytes]], folder: Path, *, max_bytes: int) -> StagedUpload:
    """Write uploaded files into ``folder`` and recognise what they hold.

    Parameters
    ----------
    files : sequence of (name, bytes)
    folder : Path
        An empty folder of the session's temporary space.
    max_bytes : int
        Most bytes all files together may have.

    Returns
    -------
    StagedUpload

    Raises
    ------
    CorpusError
        No file, an empty or too large upload, an unrecognised file, or a combination of files
        that is not one corpus.
    """
    if not files:
        raise CorpusError(f"no file uploaded; upload {SUPPORTED}")
    total = sum(len(data) for _, data in files)
    if total > max_bytes:
        raise CorpusError(
            f"the upload is {_megabytes(total)}, more than the limit of {_megabytes(max_bytes)}; "
            "prepare a large corpus with 'docmodel prepare' and load the folder instead"
        )
    for name, data in files:
        if len(data) == 0:
            raise CorpusError(f"{name} is empty; there are no documents in it")
    paths = _write(files, folder / "files")
    names = tuple(name for name, _ in files)
    kinds = [_format(p) for p in paths]
    bow = [p for p, k in zip(paths, kinds) if k in BAG_OF_WORDS]
    if bow:
        return _stage_bag_of_words(bow, paths, kinds, names)
    if len(paths) == 1:
        path, kind = paths[0], kinds[0]
        if kind == "lines":
            check_text(files[0][1], names[0])
        if kind not in TABLES:
            return StagedUpload(path, kind, names)
        table = read_table(path, kind, names[0])
        preview = {col: values[:PREVIEW_ROWS] for col, values in table.items()}
        return StagedUpload(path, kind, names, tuple(table), preview=preview,
                            automatic=automatic_columns(table, names[0]))
    bundled = [p.name for p, k in zip(paths, kinds) if k in TABLES + ARCHIVES]
    if bundled:
        raise CorpusError(
            f"{bundled[0]} is a table or archive: upload it on its own, or upload several plain "
            "text files (one document each)"
        )
    docs = folder / "documents"
    docs.mkdir()
    for p in paths:
        p.rename(docs / p.name)
    return StagedUpload(docs, "folder", names)


def as_single_document(staged: StagedUpload) -> StagedUpload:
    """A one-file "lines" upload read as one document instead of one document per line."""
    if staged.kind != "lines":
        return staged
    docs = staged.path.parent.parent / "single-document"
    docs.mkdir(exist_ok=True)
    target = docs / staged.path.name
    if not target.exists():
        shutil.copyfile(staged.path, target)
    return StagedUpload(docs, "folder", staged.names)


def check_text(raw: bytes, name: str) -> None:
    """Refuse a text file whose bytes are not text (an image renamed ``.txt``), before it is read
    as lines of garbage.

    Raises
    ------
    CorpusError
        One sentence naming the file (``name``, as uploaded), what was expected and what to do.
    """
    if non_text_reason(raw) is not None:
        raise CorpusError(
            f"{name} is not a text file: its bytes are not text (an image or other binary file?), and "
            f"{EXPECTED_TEXT} was expected; upload such a file in the box above"
        )


def read_table(path: Path, fmt: str, name: str) -> dict[str, list]:
    """A table file's columns (read fully, so a malformed table fails here, not when prepared).

    Raises
    ------
    CorpusError
        One sentence naming the file (``name``, as uploaded), what was expected and what to do:
        binary content (an image renamed ``.csv``) is told before any parser sees it.
    """
    if fmt == "parquet":
        columns = _expecting(name, lambda: read_parquet(path))
    else:
        raw = path.read_bytes()
        if non_text_reason(raw) is not None:
            raise CorpusError(
                f"{name} is not a {fmt.upper()} table: its bytes are not text (an image or other binary "
                f"file?), and {EXPECTED_TABLE} was expected; upload such a table in the box above"
            )
        text = decode_bytes(raw, name)
        columns = _expecting(
            name, lambda: read_jsonl(text, name) if fmt == "jsonl" else read_delimited(text, name, fmt)
        )
    if not columns:
        raise CorpusError(f"{name} has no columns, and {EXPECTED_TABLE} was expected; upload such a table in the box above")
    return columns


def table_columns(path: Path, fmt: str) -> tuple[str, ...]:
    """The column names of a table file (reading it fully, so a malformed table fails here)."""
    return tuple(read_table(path, fmt, path.name))


def automatic_columns(table: dict[str, list], name: str) -> tuple[str | None, str | None, str | None]:
    """The (text, label, id) columns "(automatic)" picks in ``table``; text None when no column
    holds text (then neither label nor id is guessed)."""
    try:
        return pick_columns(table, name)
    except CorpusError:
        return None, None, None


def column_choice(
    staged: StagedUpload,
    text_column: str | None = None,
    label_column: str | None = None,
    id_column: str | None = None,
) -> tuple[str | None, str | None, str | None]:
    """The (text, label, id) columns preparing will use with these choices (None: automatic;
    :data:`corpora.tables.NO_COLUMN`: none, for label and id); text None when no column holds
    text. Only the text's automatic choice reads the values (made once, when staged); label and
    id go by the column names."""
    text = text_column or staged.automatic[0]
    if text is None:
        return None, None, None
    _, label, doc_id = pick_columns(
        staged.preview or {}, staged.names[0], text_column=text, label_column=label_column, id_column=id_column
    )
    return text, label, doc_id


def preview_table(staged: StagedUpload) -> pd.DataFrame:
    """The first rows of a staged table, long cells cut short, for the page to show."""
    def brief(value):
        text = "" if value is None else str(value)
        return text if len(text) <= _PREVIEW_CHARS else text[: _PREVIEW_CHARS - 3] + "..."

    return pd.DataFrame({col: [brief(v) for v in values] for col, values in (staged.preview or {}).items()})


def prepare_staged(
    staged: StagedUpload,
    options: PrepareOptions,
    *,
    text_column: str | None = None,
    label_column: str | None = None,
    id_column: str | None = None,
) -> Dataset:
    """Prepare the corpus of a staged upload."""
    if staged.kind in BAG_OF_WORDS:
        return prepare(staged.path, vocabulary=staged.vocabulary, options=options)
    kwargs = {}
    names = ", ".join(staged.names[:3]) + (" ..." if len(staged.names) > 3 else "")
    text = text_column
    if staged.is_table:
        text = text_column or staged.automatic[0]
        if text is None:
            raise CorpusError(
                f"{names} has no column of text for (automatic) to use (its columns: "
                f"{', '.join(staged.columns)}); {PICK_TEXT}"
            )
        kwargs = {"text_column": text_column, "label_column": label_column, "id_column": id_column}
    fmt = "lines" if staged.kind == "lines" else None
    try:
        return prepare(staged.path, options=options, fmt=fmt, **kwargs)
    except ColumnError as exc:  # its message ends with CLI advice (--id-column, ...)
        raise CorpusError(
            f"{exc.problem}; choose another column in the {exc.role.capitalize()} column picker"
        ) from None
    except NoDocumentsLeft as exc:
        raise CorpusError(_nothing_left(exc.reason, names, text if staged.is_table else None, options)) from None


def _nothing_left(reason: str, names: str, text_column: str | None, options: PrepareOptions) -> str:
    """The page's words for :class:`corpora.errors.NoDocumentsLeft` (whose message advises CLI flags)."""
    if reason == "no_documents":
        return f"{names} holds no documents; upload another file"
    if reason == "too_short" and text_column is not None:
        return (
            f"column {text_column!r} of {names} gives no document with words: its values are not "
            f"text or are empty; {PICK_TEXT}"
        )
    if reason == "too_short":
        return (
            f"no document in {names} has enough words once stop words are removed; upload longer "
            "documents or turn off 'Remove English stop words' in the preprocessing options"
        )
    if reason == "empty_vocabulary":
        return (
            f"no word of {names} is kept in the vocabulary: each is in fewer training documents than "
            f"'Min. documents per word' ({options.min_df}) or in more than 'Max. fraction of documents "
            f"per word' ({options.max_df:g}); lower the first or raise the second in the preprocessing options"
        )
    where = f" (text column {text_column!r})" if text_column is not None else ""
    return (
        f"no document of {names}{where} keeps a word of the vocabulary; loosen the preprocessing "
        "options (stop words, 'Min. documents per word', 'Max. fraction of documents per word')"
    )


def _stage_bag_of_words(bow, paths, kinds, names) -> StagedUpload:
    if len(bow) > 1:
        raise CorpusError("upload one bag-of-words file at a time (with its vocabulary)")
    others = [p for p in paths if p not in bow]
    if len(others) != 1:
        raise CorpusError(
            f"{bow[0].name} is a bag-of-words file and needs its vocabulary: upload it together with "
            "exactly one vocabulary file (vocab.new: one word per line, line k = word id k)"
        )
    kind = "feat" if bow[0].suffix.lower() == ".feat" else "mtx"
    return StagedUpload(bow[0], kind, names, vocabulary=others[0])


def _write(files: Sequence[tuple[str, bytes]], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths, used = [], set()
    for name, data in files:
        safe = _safe_name(name)
        stem, dot, ext = safe.partition(".")
        i = 2
        while safe in used:
            safe = f"{stem}-{i}{dot}{ext}"
            i += 1
        used.add(safe)
        path = folder / safe
        path.write_bytes(data)
        paths.append(path)
    return paths


def _safe_name(name: str) -> str:
    """The file name without any folder part, reduced to harmless characters."""
    base = Path(str(name).replace("\\", "/")).name
    base = re.sub(r"[^\w.\-]+", "_", base).lstrip(".")
    return base or "upload"


def _format(path: Path) -> str:
    try:
        return detect_format(path)
    except CorpusError:
        raise CorpusError(f"cannot read {path.name}: it is not a format docmodel knows; upload {SUPPORTED}") from None


def _expecting(name: str, read):
    """``read()``, a parser's complaint turned into one sentence that says what was expected."""
    try:
        return read()
    except CorpusError as exc:
        raise CorpusError(
            f"{str(exc).rstrip('.')}; {EXPECTED_TABLE} was expected: fix the file or upload another in the box above"
        ) from None


def _megabytes(n: int) -> str:
    if n < 1_000_000:
        return f"{n / 1e3:,.1f} kB" if n >= 1000 else f"{n} bytes"
    return f"{n / 1e6:,.1f} MB"
