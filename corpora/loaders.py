"""Load raw documents from wherever a user keeps them.

:func:`load_documents` takes a folder of text files, a zip or tar archive, a table (CSV,
TSV, JSON lines, Parquet), a plain text file with one document per line, or one of the
named sources "lee" (gensim's bundled Lee news corpus) and "20newsgroups[:train|test|all]"
(scikit-learn's download of Lang's 20 Newsgroups, Rennie's "bydate" split). It returns the
documents in a stable order with ids that are unique within the source, and lists the files
it skipped as not text. Every problem with the input is a :class:`CorpusError` whose message
says what to do. Bag-of-words files (``.feat``, ``.mtx``) are recognised here but read by
:mod:`corpora.bow`.
"""

from __future__ import annotations

import os
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from corpora.archives import load_archive
from corpora.documents import Document
from corpora.errors import CorpusError, NoDocumentsLeft
from corpora.rawtext import (
    check_encoding,
    decode_bytes,
    line_documents,
    load_folder,
    non_text_reason,
    read_bytes,
    split_of,
)
from corpora.reuters import is_reuters_folder, load_reuters
from corpora.tables import load_table

__all__ = [
    "DEFAULT_MAX_BYTES",
    "FORMATS",
    "LoadedDocuments",
    "detect_format",
    "fetch_20newsgroups_documents",
    "load_documents",
    "load_lee",
    "split_of",
]

DEFAULT_MAX_BYTES = 2 << 30
"""Most bytes a source may hold (for archives: once unpacked), 2 GiB."""

FORMATS = (
    "lee",
    "20newsgroups",
    "folder",
    "zip",
    "tar",
    "csv",
    "tsv",
    "jsonl",
    "parquet",
    "lines",
    "feat",
    "mtx",
    "reuters",
)

_SUFFIXES = {
    ".zip": "zip",
    ".tar": "tar",
    ".tgz": "tar",
    ".tbz": "tar",
    ".tbz2": "tar",
    ".txz": "tar",
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".sgm": "reuters",
    ".pq": "parquet",
    ".txt": "lines",
    ".text": "lines",
    ".feat": "feat",
    ".mtx": "mtx",
}
_TAR_DOUBLE = (".tar.gz", ".tar.bz2", ".tar.xz")
_TABLES = ("csv", "tsv", "jsonl", "parquet")
_SUPPORTED = (
    "a folder of text files, .zip, .tar(.gz/.bz2/.xz), .csv, .tsv, .jsonl, .parquet, "
    "a .txt file with one document per line, 'lee' or '20newsgroups[:test]'"
)
_NEWS_SUBSETS = ("train", "test", "all")


@dataclass(frozen=True)
class LoadedDocuments:
    """Documents read from one source.

    Attributes
    ----------
    documents : tuple of Document
        In a stable order: sorted paths for folders and archives, rows or lines otherwise.
    skipped : tuple of (str, str)
        ``(id, reason)`` for each file skipped as not text.
    source : str
        Where the documents came from (a path, "lee", "20newsgroups:train").
    """

    documents: tuple[Document, ...]
    skipped: tuple[tuple[str, str], ...] = ()
    source: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "documents", tuple(self.documents))
        object.__setattr__(self, "skipped", tuple(tuple(pair) for pair in self.skipped))

    def __len__(self) -> int:
        return len(self.documents)

    def __iter__(self) -> Iterator[Document]:
        return iter(self.documents)


def detect_format(source: str | os.PathLike) -> str:
    """The format :func:`load_documents` would read ``source`` as.

    Named sources ("lee", "20newsgroups", "20newsgroups:test") are recognised when no file of
    that name exists. Otherwise a folder is "folder", a file is recognised by its extension,
    and a file with an unknown extension by its first bytes (zip, Parquet, tar, else text).

    Parameters
    ----------
    source : str or os.PathLike

    Returns
    -------
    str
        One of :data:`FORMATS`.

    Raises
    ------
    CorpusError
        When the path does not exist or its format cannot be told.
    """
    name = _source_name(source)
    path = Path(source)
    if not path.exists():
        if name == "lee":
            return "lee"
        if name.partition(":")[0] == "20newsgroups":
            return "20newsgroups"
        raise CorpusError(f"file not found: {name}")
    if path.is_dir():
        return "reuters" if is_reuters_folder(path) else "folder"
    if not path.is_file():
        raise CorpusError(f"{name} is neither a regular file nor a folder")
    lower = path.name.lower()
    if lower.endswith(_TAR_DOUBLE):
        return "tar"
    fmt = _SUFFIXES.get(path.suffix.lower())
    if fmt is not None:
        return fmt
    return _sniff(path)


def load_documents(
    source: str | os.PathLike,
    *,
    fmt: str | None = None,
    text_column: str | None = None,
    label_column: str | None = None,
    id_column: str | None = None,
    encoding: str = "auto",
    skip_non_text: bool = True,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> LoadedDocuments:
    """Read raw documents from a folder, an archive, a table, a text file or a named source.

    Parameters
    ----------
    source : str or os.PathLike
        A path, "lee", or "20newsgroups" / "20newsgroups:test" / "20newsgroups:all".
    fmt : str or None
        One of :data:`FORMATS`; None detects it (:func:`detect_format`).
    text_column, label_column, id_column : str or None
        For tables only: the columns to use; None picks them by name (see :mod:`corpora.tables`).
    encoding : str
        "auto" (UTF-8, else Latin-1, per file) or a codec name applied strictly.
    skip_non_text : bool
        In folders and archives, skip files that do not look like text
        (:func:`corpora.rawtext.non_text_reason`) and list them in ``skipped``.
    max_bytes : int
        Most bytes to read (for archives: once unpacked).

    Returns
    -------
    LoadedDocuments
        At least one document. Folders and archives: id = relative path, label = the folder
        right above the file (None at the top). Tables: ids from the id column or "row-N".
        Text files: one document per non-blank line, ids "line-N".
    """
    check_encoding(encoding)
    name = _source_name(source)
    detected = detect_format(source) if fmt is None else _check_format(fmt)
    if detected not in _TABLES:
        given = [
            f"--{role}-column"
            for role, value in (("text", text_column), ("label", label_column), ("id", id_column))
            if value
        ]
        if given:
            raise CorpusError(
                f"{', '.join(given)} only applies to tables (csv, tsv, jsonl, parquet), "
                f"but {name} is read as {detected!r}"
            )
    if detected == "lee":
        return load_lee()
    if detected == "20newsgroups":
        _, _, subset = name.partition(":")
        return fetch_20newsgroups_documents(subset or "train")
    if detected in ("feat", "mtx"):
        raise CorpusError(
            f"{name} is a bag-of-words file ({detected}); load it with corpora.bow, not as raw documents"
        )
    path = Path(source)
    if not path.exists():
        raise CorpusError(f"file not found: {name}")
    if detected == "reuters":
        return LoadedDocuments(tuple(load_reuters(path)), (), name)
    if detected == "folder":
        if not path.is_dir():
            raise CorpusError(f"{name} is a file, not a folder; leave out the format to detect it")
        documents, skipped = load_folder(
            path, encoding=encoding, skip_non_text=skip_non_text, max_bytes=max_bytes
        )
        return LoadedDocuments(tuple(documents), tuple(skipped), name)
    if path.is_dir():
        raise CorpusError(
            f"{name} is a folder, not a {detected} file; leave out the format to read it as a folder"
        )
    size = path.stat().st_size
    if size == 0:
        raise CorpusError(f"{name} is empty; there are no documents to load")
    if size > max_bytes:
        raise CorpusError(
            f"{name} is {size:,} bytes, more than the limit of {max_bytes:,}; raise max_bytes"
        )
    if detected in ("zip", "tar"):
        documents, skipped = load_archive(
            path, detected, encoding=encoding, skip_non_text=skip_non_text, max_bytes=max_bytes
        )
    elif detected in _TABLES:
        documents = load_table(
            path,
            detected,
            encoding=encoding,
            text_column=text_column,
            label_column=label_column,
            id_column=id_column,
        )
        skipped = []
    else:
        documents = line_documents(decode_bytes(read_bytes(path), name, encoding))
        skipped = []
        if not documents:
            raise NoDocumentsLeft(f"no documents in {name}: every line is blank", "no_documents")
    if not documents:
        raise CorpusError(
            f"no documents in {name}: all {len(skipped)} files were skipped as not text "
            "(pass skip_non_text=False to keep them)"
        )
    return LoadedDocuments(tuple(documents), tuple(skipped), name)


def load_lee() -> LoadedDocuments:
    """gensim's bundled Lee background corpus: short Australian news stories, one per line.

    The file ``lee_background.cor`` has 300 lines (``wc -l`` says 299: the last line has no
    newline) and 300 documents, ids "lee-0001" to "lee-0300", without labels. Lee, Pincombe
    and Welsh (2005), "An empirical evaluation of models of text document similarity".

    Returns
    -------
    LoadedDocuments
    """
    path = _lee_path()
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CorpusError(
            f"cannot read gensim's Lee corpus at {path} ({exc}); reinstall gensim"
        ) from None
    return LoadedDocuments(
        tuple(line_documents(decode_bytes(raw, str(path)), "lee-", 4)), (), "lee"
    )


def fetch_20newsgroups_documents(subset: str = "train") -> LoadedDocuments:
    """The 20 Newsgroups "bydate" posts through scikit-learn, downloading them if needed.

    Parameters
    ----------
    subset : {"train", "test", "all"}

    Returns
    -------
    LoadedDocuments
        Posts with headers kept, ids like "20news-bydate-train/alt.atheism/49960" (so
        :func:`split_of` works) and the newsgroup as label, sorted by id.
    """
    if subset not in _NEWS_SUBSETS:
        raise CorpusError(
            f"unknown 20 Newsgroups subset {subset!r}; use one of {', '.join(_NEWS_SUBSETS)}"
        )
    from sklearn import datasets

    try:
        bunch = datasets.fetch_20newsgroups(subset=subset, shuffle=False, download_if_missing=True)
    except (OSError, EOFError, tarfile.TarError) as exc:  # URLError and socket errors are OSErrors
        raise CorpusError(
            f"20 Newsgroups needs the internet the first time (scikit-learn downloads it) and the "
            f"download failed ({exc}); download the archive yourself and run "
            "'docmodel prepare path/to/20news-bydate.tar.gz'"
        ) from None
    documents = []
    for text, target, filename in zip(bunch.data, bunch.target, bunch.filenames):
        doc_id = "/".join(Path(filename).parts[-3:])
        documents.append(Document(doc_id, text, bunch.target_names[int(target)]))
    documents.sort(key=lambda doc: Path(doc.id).parts)
    return LoadedDocuments(tuple(documents), (), f"20newsgroups:{subset}")


def _source_name(source: str | os.PathLike) -> str:
    name = os.fspath(source)
    if not str(name).strip():
        raise CorpusError(
            "no source given: name a folder, an archive, a table, a text file, 'lee' or '20newsgroups'"
        )
    return name


def _check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise CorpusError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return fmt


def _sniff(path: Path) -> str:
    """The format of a file whose extension says nothing, from its contents."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
    except OSError as exc:
        raise CorpusError(f"cannot read {path}: {exc.strerror or exc}") from None
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "zip" if _quietly(zipfile.is_zipfile, path) else "lines"
    if head.startswith(b"PAR1"):
        return "parquet"
    if non_text_reason(head) is None:
        return "lines"
    if _quietly(tarfile.is_tarfile, path):
        return "tar"
    raise CorpusError(f"cannot tell the format of {path}; supported: {_SUPPORTED}")


def _quietly(check, path: Path) -> bool:
    try:
        return bool(check(path))
    except Exception:  # a corrupt file simply is not of that kind
        return False


def _lee_path() -> Path:
    """Where gensim keeps ``lee_background.cor``, found without importing gensim (slow)."""
    import importlib.util

    spec = importlib.util.find_spec("gensim")
    if spec is None or not spec.submodule_search_locations:
        raise CorpusError(
            "the 'lee' demo corpus comes with gensim, which is not installed; pip install gensim"
        )
    path = Path(
        next(iter(spec.submodule_search_locations)), "test", "test_data", "lee_background.cor"
    )
    if not path.exists():
        from gensim.test.utils import datapath

        path = Path(datapath("lee_background.cor"))
    return path
