"""Documents straight from zip and tar archives, read in memory and never extracted.

Archives come from users, so every member is checked before it is read: no absolute paths,
no ``..``, no links or devices, at most :data:`MAX_MEMBERS` members nested at most
:data:`MAX_DEPTH` folders deep, and at most ``max_bytes`` once unpacked. The size limit is
checked on the sizes the headers declare and again on the bytes actually read, so a header
that lies cannot get past it; a member over 1 MiB that unpacks more than 200 times larger
than it is stored (a "zip bomb") is refused. Nothing is written to disk.

Files become documents by the same layout rule as a folder (:mod:`corpora.rawtext`). One
folder wrapping everything (``zip -r corpus.zip corpus/``) is looked through, as if the
archive had been unpacked and the loader pointed at that folder.
"""

from __future__ import annotations

import lzma
import re
import stat
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from corpora.documents import Document
from corpora.errors import CorpusError, NoDocumentsLeft
from corpora.rawtext import is_hidden, layout_documents, read_text_file

MAX_MEMBERS = 100_000
MAX_DEPTH = 32
MAX_RATIO = 200
RATIO_MIN_BYTES = 1 << 20  # small members may compress very well without being bombs
# gzip, bzip2 and xz readers fetch the compressed file in chunks of 8 KiB or so; counting this
# much more as stored keeps read-ahead from making an ordinary member look like a bomb
_READ_AHEAD = 64 << 10
_CHUNK = 1 << 20
_DRIVE = re.compile(r"^[A-Za-z]:")

# What the standard library raises on a corrupt or truncated archive (CorpusError is a
# ValueError, so it is always re-raised before these are caught).
_ARCHIVE_ERRORS = (
    zipfile.BadZipFile,
    tarfile.TarError,
    zlib.error,
    lzma.LZMAError,
    EOFError,
    OSError,
    ValueError,
    NotImplementedError,
    struct.error,
    OverflowError,
    IndexError,
    KeyError,
)


def load_archive(
    path: Path, fmt: str, *, encoding: str, skip_non_text: bool, max_bytes: int
) -> tuple[list[Document], list[tuple[str, str]]]:
    """Documents from a zip or tar archive.

    Parameters
    ----------
    path : Path
    fmt : {"zip", "tar"}
        "tar" covers plain, gzip, bzip2 and xz tar files.
    encoding : str
        "auto" or a codec name (see :func:`corpora.rawtext.decode_bytes`).
    skip_non_text : bool
        Skip members that do not look like text (see :func:`corpora.rawtext.non_text_reason`).
    max_bytes : int
        Most bytes the members may hold once unpacked, all together.

    Returns
    -------
    documents : list of Document, sorted by path
        As for a folder; one top folder holding everything is dropped from the ids first,
        so ``corpus/news/1.txt`` becomes id "news/1.txt", label "news".
    skipped : list of (id, reason)
    """
    members = (
        iter_zip_members(path, max_bytes) if fmt == "zip" else iter_tar_members(path, max_bytes)
    )
    entries = []
    for parts, raw in members:
        name = f"{'/'.join(parts)} in {path.name}"
        text, reason = read_text_file(raw, name, encoding=encoding, skip_non_text=skip_non_text)
        entries.append((parts, text, reason))
    if not entries:
        raise NoDocumentsLeft(f"no documents in {path}: the archive holds no files", "no_documents")
    tops = {parts[0] for parts, _, _ in entries}
    if len(tops) == 1 and all(len(parts) > 1 for parts, _, _ in entries):
        entries = [(parts[1:], text, reason) for parts, text, reason in entries]
    return layout_documents(entries, str(path))


def member_parts(name: str, archive: Path) -> tuple[str, ...]:
    """The path components of an archive member, refusing names that could escape a folder.

    Backslashes count as separators (zip files made on Windows) and ``.`` components are
    dropped.

    Raises
    ------
    CorpusError
        For an absolute path, a drive letter, a ``..`` component or nesting deeper than
        :data:`MAX_DEPTH`.
    """
    unsafe = f"refusing {archive}: member {name!r}"
    slashed = name.replace("\\", "/")
    if slashed.startswith("/") or _DRIVE.match(slashed):
        raise CorpusError(f"{unsafe} has an absolute path; unpack it yourself if you trust it")
    parts = tuple(part for part in slashed.split("/") if part not in ("", "."))
    if ".." in parts:
        raise CorpusError(
            f"{unsafe} points outside the archive ('..'); unpack it yourself if you trust it"
        )
    if len(parts) > MAX_DEPTH:
        raise CorpusError(f"{unsafe} is nested {len(parts)} levels deep (at most {MAX_DEPTH})")
    return parts


def iter_zip_members(path: Path, max_bytes: int) -> Iterator[tuple[tuple[str, ...], bytes]]:
    """Check a zip file's directory, then yield ``(parts, contents)`` for each non-hidden file."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            if len(infos) > MAX_MEMBERS:
                raise CorpusError(f"refusing {path}: {len(infos)} members (at most {MAX_MEMBERS})")
            planned = []
            declared = 0
            for info in infos:
                parts = member_parts(info.filename, path)
                kind = stat.S_IFMT(info.external_attr >> 16)
                if kind == stat.S_IFLNK:
                    raise CorpusError(
                        f"refusing {path}: member {info.filename!r} is a symbolic link"
                    )
                if info.is_dir() or kind == stat.S_IFDIR:
                    continue
                if kind not in (0, stat.S_IFREG):
                    raise CorpusError(
                        f"refusing {path}: member {info.filename!r} is not a regular file"
                    )
                declared += info.file_size
                _check_total(path, declared, max_bytes, "declares")
                if (
                    info.file_size > RATIO_MIN_BYTES
                    and info.file_size > MAX_RATIO * info.compress_size
                ):
                    raise _bomb(path, info.filename, info.file_size, info.compress_size)
                if not parts or is_hidden(parts):
                    continue
                if info.flag_bits & 0x1:
                    raise CorpusError(f"cannot read {path}: member {info.filename!r} is encrypted")
                planned.append((parts, info))
            total = 0
            for parts, info in planned:
                with archive.open(info) as member:
                    raw = _read_member(
                        member, path, info.filename, info.file_size, total, max_bytes
                    )
                total += len(raw)
                yield parts, raw
    except CorpusError:
        raise
    except (*_ARCHIVE_ERRORS, RuntimeError) as exc:  # zipfile raises RuntimeError for passwords
        raise CorpusError(f"cannot read {path} as a zip archive: {_describe(exc)}") from None


def iter_tar_members(path: Path, max_bytes: int) -> Iterator[tuple[tuple[str, ...], bytes]]:
    """Yield ``(parts, contents)`` for each non-hidden file of a (compressed) tar, streaming."""
    try:
        with open(path, "rb") as raw_file, tarfile.open(fileobj=raw_file, mode="r:*") as archive:
            declared = total = 0
            for count, info in enumerate(archive, 1):
                if count > MAX_MEMBERS:
                    raise CorpusError(f"refusing {path}: more than {MAX_MEMBERS} members")
                parts = member_parts(info.name, path)
                if info.issym() or info.islnk():
                    raise CorpusError(
                        f"refusing {path}: member {info.name!r} is a link (to {info.linkname!r})"
                    )
                if info.isdir():
                    continue
                if not info.isreg():
                    raise CorpusError(
                        f"refusing {path}: member {info.name!r} is a device or special file"
                    )
                declared += info.size
                _check_total(path, declared, max_bytes, "declares")
                if not parts or is_hidden(parts):
                    continue
                member = archive.extractfile(info)
                if member is None:  # pragma: no cover - isreg() members always have data
                    continue
                start = raw_file.tell()
                raw = _read_member(
                    member,
                    path,
                    info.name,
                    info.size,
                    total,
                    max_bytes,
                    raw_file=raw_file,
                    start=start,
                )
                total += len(raw)
                yield parts, raw
    except CorpusError:
        raise
    except _ARCHIVE_ERRORS as exc:
        raise CorpusError(
            f"cannot read {path} as a tar archive ({_describe(exc)}); check that it is a complete "
            ".tar, .tar.gz, .tgz, .tar.bz2 or .tar.xz file"
        ) from None


def _read_member(
    member: IO[bytes],
    path: Path,
    name: str,
    declared: int,
    total: int,
    max_bytes: int,
    *,
    raw_file: IO[bytes] | None = None,
    start: int = 0,
) -> bytes:
    """Read one member in chunks, counting the real bytes against its header and the limit.

    With ``raw_file`` (the compressed tar stream) the compression ratio is measured as the
    member is read, from how far the compressed file has moved since ``start``.
    """
    chunks = []
    size = 0
    while True:
        chunk = member.read(_CHUNK)
        if not chunk:
            break
        size += len(chunk)
        chunks.append(chunk)
        if size > declared:
            raise CorpusError(
                f"refusing {path}: member {name!r} holds more than the {declared} bytes its header declares"
            )
        _check_total(path, total + size, max_bytes, "unpacks to")
        if raw_file is not None and size > RATIO_MIN_BYTES:
            stored = raw_file.tell() - start
            if size > MAX_RATIO * (stored + _READ_AHEAD):
                raise _bomb(path, name, size, stored)
    return b"".join(chunks)


def _check_total(path: Path, size: int, max_bytes: int, verb: str) -> None:
    if size > max_bytes:
        raise CorpusError(
            f"refusing {path}: it {verb} more than {max_bytes:,} bytes; "
            "unpack it yourself, or raise max_bytes if you trust it"
        )


def _bomb(path: Path, name: str, size: int, stored: int) -> CorpusError:
    return CorpusError(
        f"refusing {path}: member {name!r} unpacks to {size:,} bytes from {stored:,} "
        f"(more than {MAX_RATIO}:1, a likely zip bomb); unpack it yourself if you trust it"
    )


def _describe(exc: BaseException) -> str:
    # tarfile lists one failure per compression method on separate lines: keep the first line.
    text = str(exc).strip().splitlines()[0].rstrip(":") if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
