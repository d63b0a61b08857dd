"""Uploaded files -> a folder in the session's temporary space -> a corpus through ``corpora``.

The page hands the uploaded files to :func:`stage_uploads` as ``(name, bytes)`` pairs (so tests
can call it without a browser); it writes them under the session folder, decides what they
are (with :func:`corpora.loaders.detect_format`) and lists a table's columns for the column
picker. :func:`prepare_staged` then prepares the corpus with the chosen options. Every problem
is a :class:`corpora.CorpusError` with a message for the user.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from corpora import CorpusError, Dataset
from corpora.loaders import detect_format
from corpora.prepare import PrepareOptions, prepare
from corpora.rawtext import decode_bytes
from corpora.tables import read_delimited, read_jsonl, read_parquet

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
    """

    path: Path
    kind: str
    names: tuple[str, ...]
    columns: tuple[str, ...] = ()
    vocabulary: Path | None = None

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
        columns = table_columns(path, kind) if kind in TABLES else ()
        return StagedUpload(path, kind, names, columns)
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


def table_columns(path: Path, fmt: str) -> tuple[str, ...]:
    """The column names of a table file (reading it fully, so a malformed table fails here)."""
    if fmt == "parquet":
        columns = read_parquet(path)
    else:
        text = decode_bytes(path.read_bytes(), path.name)
        columns = read_jsonl(text, path.name) if fmt == "jsonl" else read_delimited(text, path.name, fmt)
    if not columns:
        raise CorpusError(f"{path.name} has no columns")
    return tuple(columns)


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
    if staged.is_table:
        kwargs = {"text_column": text_column, "label_column": label_column, "id_column": id_column}
    fmt = "lines" if staged.kind == "lines" else None
    return prepare(staged.path, options=options, fmt=fmt, **kwargs)


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


def _megabytes(n: int) -> str:
    if n < 1_000_000:
        return f"{n / 1e3:,.1f} kB" if n >= 1000 else f"{n} bytes"
    return f"{n / 1e6:,.1f} MB"
