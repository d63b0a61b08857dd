"""Raw files to documents: the is-it-text rule, decoding, the folder layout rule, folders.

The archive loader (:mod:`corpora.archives`) uses the same rules as :func:`load_folder`, so
that a folder and the same folder zipped give the same documents.

The is-it-text rule restates the check of McCallum's bow/rainbow toolkit (the one behind
Rennie's remark that "rainbow skips 22" of the 18,846 20 Newsgroups "bydate" posts), including
its uuencode avoidance; on that corpus it skips 19 train and 3 test posts.
"""

from __future__ import annotations

import codecs
import os
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from corpora.documents import Document
from corpora.errors import CorpusError, NoDocumentsLeft

SNIFF_BYTES = 4096
"""How much of a file the is-it-text rule looks at."""

_WHITESPACE = b" \t\n\x0b\x0c\r"
_WHITESPACE_CHARS = _WHITESPACE.decode("ascii")
_TEXT_BYTES = bytes(range(0x20, 0x7F)) + _WHITESPACE
_MIN_TEXT_PERCENT = 96  # a window is text only when at least this integer percent is printable
_UU_MIN_LINE, _UU_MAX_LINE = 50, 80


def non_text_reason(raw: bytes) -> str | None:
    """Why a file does not look like text, or None when it does.

    Looks at the first 4,096 bytes. The file is not text when the integer percentage of
    bytes that are printable ASCII (0x20..0x7E) or whitespace (``\\t \\n \\v \\f \\r``) is
    95 or less, or when it looks uuencoded: among the newline-terminated lines of the window,
    the most common length between 50 and 80 (newline excluded) covers more than half of the
    lines, and whitespace is under 10% of the window. An empty file is text.

    One extension to the bow/rainbow rule: when the window is valid UTF-8 with non-ASCII
    characters, the same rule is applied to its characters instead of its bytes (printable
    means ``str.isprintable``; only ASCII lines can look uuencoded), so that French, Greek or
    Chinese text is not skipped as binary. No 20 Newsgroups post has such a window, so its
    skip counts are unchanged.

    Parameters
    ----------
    raw : bytes
        The file's contents (only the first 4,096 bytes are used).

    Returns
    -------
    str or None
        A short reason for the skip list, or None for text.
    """
    head = raw[:SNIFF_BYTES]
    if not head:
        return None
    window = _utf8_window(head)
    if window == "":  # only a byte-order mark or one cut-off character: as empty as an empty file
        return None
    if window is None:
        n = len(head)
        n_text = n - len(head.translate(None, _TEXT_BYTES))
        n_space = n - len(head.translate(None, _WHITESPACE))
        lines = head.split(b"\n")[:-1]  # the last piece has no newline: cut off or unterminated
        lengths = Counter(len(line) for line in lines)
    else:
        n = len(window)
        n_text = sum(1 for char in window if char.isprintable() or char in _WHITESPACE_CHARS)
        n_space = sum(1 for char in window if char.isspace())
        lines = window.split("\n")[:-1]
        # uuencoded lines are ASCII: fixed-width lines of Chinese text are not uuencoded
        lengths = Counter(len(line) for line in lines if line.isascii())
    percent = 100 * n_text // n
    if percent < _MIN_TEXT_PERCENT:
        return f"not text: only {percent}% of its first {len(head)} bytes is printable text"
    in_range = [
        count for length, count in lengths.items() if _UU_MIN_LINE <= length <= _UU_MAX_LINE
    ]
    if in_range and 2 * max(in_range) > len(lines) and 10 * n_space < n:
        return "not text: looks uuencoded (many lines of one length, almost no whitespace)"
    return None


def _utf8_window(head: bytes) -> str | None:
    """The window as text when it is UTF-8 with some non-ASCII character (a character cut
    off by the window's end is dropped), else None."""
    if head.isascii():
        return None
    try:
        return head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if exc.end != len(head) or exc.reason != "unexpected end of data":
            return None
        try:
            return head[: exc.start].decode("utf-8-sig")
        except UnicodeDecodeError:  # pragma: no cover - the prefix decoded before the error
            return None


def read_bytes(path: Path) -> bytes:
    """A file's bytes; an unreadable file is a :class:`CorpusError` naming it."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CorpusError(f"cannot read {path}: {exc.strerror or exc}") from None


def check_encoding(encoding: str) -> str:
    """Validate an ``encoding`` option: "auto" or a Python codec name.

    Returns
    -------
    str
        "auto", or the codec's canonical name (e.g. "utf-8", "iso8859-1").
    """
    if encoding == "auto":
        return encoding
    try:
        return codecs.lookup(encoding).name
    except (LookupError, TypeError):
        raise CorpusError(
            f"unknown encoding {encoding!r}; use 'auto' or a Python codec name such as utf-8 or latin-1"
        ) from None


def decode_bytes(raw: bytes, name: str, encoding: str = "auto") -> str:
    """Decode a file's bytes.

    Parameters
    ----------
    raw : bytes
    name : str
        The file, for error messages.
    encoding : str
        "auto": UTF-8 (a byte-order mark is dropped), and Latin-1 when that fails (every byte
        string is valid Latin-1). Otherwise a codec name, applied strictly. Line ends are kept
        as they are.

    Returns
    -------
    str
    """
    if encoding == "auto":
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            return raw.decode("latin-1")
    codec = check_encoding(encoding)
    try:
        return raw.decode("utf-8-sig" if codec == "utf-8" else codec)
    except UnicodeDecodeError as exc:
        raise CorpusError(
            f"cannot decode {name} as {encoding}: byte {exc.object[exc.start]:#04x} at offset "
            f"{exc.start} is invalid; use --encoding latin-1 (accepts any bytes) or the file's real encoding"
        ) from None


def read_text_file(
    raw: bytes, name: str, *, encoding: str, skip_non_text: bool
) -> tuple[str | None, str | None]:
    """Decode one file of a folder or archive, unless the is-it-text rule skips it.

    Returns
    -------
    text : str or None
        The decoded text, None when skipped.
    reason : str or None
        Why it was skipped, None when it was not.
    """
    if skip_non_text:
        reason = non_text_reason(raw)
        if reason is not None:
            return None, reason
    return decode_bytes(raw, name, encoding), None


def is_hidden(parts: Iterable[str]) -> bool:
    """Whether a relative path has a hidden component (``.git``, ``.DS_Store``, ``__MACOSX``)."""
    return any(part.startswith(".") or part == "__MACOSX" for part in parts)


def layout_documents(
    entries: Iterable[tuple[tuple[str, ...], str | None, str | None]], source: str
) -> tuple[list[Document], list[tuple[str, str]]]:
    """Documents from decoded files, by the folder layout rule.

    The id is the relative path joined with ``/``; the label is the folder right above the file
    (``train/<group>/<file>`` gives ``<group>``), or None for a file at the top.

    Parameters
    ----------
    entries : iterable of (parts, text, reason)
        Relative path components, the decoded text (None when skipped) and the skip reason.
    source : str
        The folder or archive, for error messages.

    Returns
    -------
    documents : list of Document, sorted by path
    skipped : list of (id, reason)
    """
    documents: list[Document] = []
    skipped: list[tuple[str, str]] = []
    seen: set[str] = set()
    for parts, text, reason in sorted(entries, key=lambda entry: entry[0]):
        doc_id = "/".join(parts)
        if doc_id in seen:
            raise CorpusError(
                f"{source} holds {doc_id!r} more than once; file paths must be unique"
            )
        seen.add(doc_id)
        if text is None:
            skipped.append((doc_id, reason or "not text"))
        else:
            documents.append(Document(doc_id, text, parts[-2] if len(parts) > 1 else None))
    return documents, skipped


def split_of(doc_id: str) -> str | None:
    """The split a document belongs to, from the top folder of its id.

    The 20 Newsgroups "bydate" layout puts posts in ``20news-bydate-train/<group>/<n>`` and
    ``20news-bydate-test/<group>/<n>``; loading the folder (or archive) that holds both gives
    ids that start with the split folder.

    Parameters
    ----------
    doc_id : str
        A document id from a folder or archive, e.g. "20news-bydate-train/alt.atheism/49960".

    Returns
    -------
    "train", "test" or None
        "train" when the top folder is ``train`` or ends in ``-train``, likewise "test";
        None for anything else (including a file at the top).
    """
    top, sep, _ = doc_id.partition("/")
    if not sep:
        return None
    for split in ("train", "test"):
        if top == split or top.endswith("-" + split):
            return split
    return None


def line_documents(text: str, prefix: str = "line-", width: int = 0) -> list[Document]:
    """One document per line; ids are the prefix and the 1-based physical line number.

    Lines are split on ``\\n`` only (a trailing ``\\r`` is dropped with it); blank lines are
    skipped but still counted, so "line-7" is always line 7 of the file.

    Parameters
    ----------
    text : str
    prefix : str
    width : int
        Zero-pad line numbers to this many digits ("lee-0001").

    Returns
    -------
    list of Document
    """
    documents = []
    for number, line in enumerate(text.split("\n"), 1):
        if line.endswith("\r"):
            line = line[:-1]
        if line.strip():
            documents.append(Document(f"{prefix}{number:0{width}d}", line))
    return documents


def load_folder(
    root: Path, *, encoding: str, skip_non_text: bool, max_bytes: int
) -> tuple[list[Document], list[tuple[str, str]]]:
    """Documents from every regular, non-hidden file under ``root``, recursively.

    Parameters
    ----------
    root : Path
    encoding : str
        "auto" or a codec name (see :func:`decode_bytes`).
    skip_non_text : bool
        Skip files that fail :func:`non_text_reason`.
    max_bytes : int
        Most bytes the files may hold, all together.

    Returns
    -------
    documents : list of Document, sorted by path (see :func:`layout_documents`)
    skipped : list of (id, reason)
    """
    files = []
    total = 0
    for folder, subfolders, names in os.walk(root):
        subfolders[:] = [d for d in subfolders if not d.startswith(".")]
        rel = Path(folder).relative_to(root).parts
        for filename in names:
            parts = (*rel, filename)
            path = Path(folder, filename)
            if is_hidden(parts) or not path.is_file():
                continue
            total += path.stat().st_size
            if total > max_bytes:
                raise CorpusError(
                    f"{root} holds more than {max_bytes:,} bytes of files; raise max_bytes or load fewer"
                )
            files.append((parts, path))
    if not files:
        raise NoDocumentsLeft(
            f"no documents in {root}: the folder has no files (hidden ones are ignored)", "no_documents"
        )
    entries = []
    for parts, path in files:
        raw = read_bytes(path)
        text, reason = read_text_file(
            raw, str(path), encoding=encoding, skip_non_text=skip_non_text
        )
        entries.append((parts, text, reason))
    documents, skipped = layout_documents(entries, str(root))
    if not documents:
        raise CorpusError(
            f"no documents in {root}: all {len(skipped)} files were skipped as not text "
            "(pass skip_non_text=False to keep them)"
        )
    return documents, skipped
