"""Format detection and the options and sources every loader refuses: unknown formats, missing
and special files, empty and oversized ones (``corpora.loaders``)."""

from __future__ import annotations

import io
import os
import tarfile
import zipfile

import pandas as pd
import pytest

from corpora.documents import Document
from corpora.errors import CorpusError
from corpora.loaders import FORMATS, LoadedDocuments, detect_format, load_documents
from tests.corpora.loader_files import write


# --- LoadedDocuments ------------------------------------------------------------------------
def test_loaded_documents_is_a_sized_iterable_of_documents():
    docs = (Document("a", "x"), Document("b", "y", "g"))
    loaded = LoadedDocuments(list(docs), [["c", "not text"]], "src")
    assert len(loaded) == 2
    assert list(loaded) == list(docs)
    assert loaded.documents == docs and loaded.skipped == (("c", "not text"),)


# --- format detection -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, fmt",
    [
        ("a.zip", "zip"),
        ("a.tar", "tar"),
        ("a.tar.gz", "tar"),
        ("a.TGZ", "tar"),
        ("a.tar.bz2", "tar"),
        ("a.tar.xz", "tar"),
        ("a.csv", "csv"),
        ("a.tsv", "tsv"),
        ("a.tab", "tsv"),
        ("a.jsonl", "jsonl"),
        ("a.ndjson", "jsonl"),
        ("a.parquet", "parquet"),
        ("a.txt", "lines"),
        ("a.feat", "feat"),
        ("a.mtx", "mtx"),
    ],
)
def test_detect_format_by_extension(tmp_path, name, fmt):
    assert detect_format(write(tmp_path / name, "x")) == fmt
    assert fmt in FORMATS


def test_detect_format_of_named_sources_folders_and_missing_files(tmp_path):
    assert detect_format("lee") == "lee"
    assert detect_format("20newsgroups") == "20newsgroups"
    assert detect_format("20newsgroups:test") == "20newsgroups"
    assert detect_format(tmp_path) == "folder"
    with pytest.raises(CorpusError, match="file not found: .*nope.csv"):
        detect_format(tmp_path / "nope.csv")


def test_detect_format_sniffs_unknown_extensions(tmp_path):
    assert detect_format(write(tmp_path / "notes.md", "hello\nworld\n")) == "lines"
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("a.txt", "hi")
    assert detect_format(write(tmp_path / "data.bin", zipped.getvalue())) == "zip"
    pd.DataFrame({"text": ["a"]}).to_parquet(tmp_path / "table.dat")
    assert detect_format(tmp_path / "table.dat") == "parquet"
    with tarfile.open(tmp_path / "files.pack", "w") as archive:
        archive.add(write(tmp_path / "x.txt", "hi"), arcname="x.txt")
    assert detect_format(tmp_path / "files.pack") == "tar"


def test_binary_file_of_unknown_format_is_refused(tmp_path):
    path = write(tmp_path / "image.png", bytes(range(256)) * 8)
    with pytest.raises(
        CorpusError, match=r"cannot tell the format of .*image.png; supported: .*\.csv"
    ):
        load_documents(path)


def test_bag_of_words_files_are_sent_to_corpora_bow(tmp_path):
    for name in ("train.feat", "counts.mtx"):
        with pytest.raises(CorpusError, match="bag-of-words file .*corpora.bow"):
            load_documents(write(tmp_path / name, "1 1:2\n"))


def test_unknown_format_option_and_missing_source(tmp_path):
    with pytest.raises(CorpusError, match="unknown format 'docx'; choose one of lee, 20newsgroups"):
        load_documents(tmp_path, fmt="docx")
    with pytest.raises(CorpusError, match="file not found: .*missing.txt"):
        load_documents(tmp_path / "missing.txt")
    with pytest.raises(CorpusError, match="file not found"):
        load_documents(tmp_path / "missing", fmt="folder")


def test_empty_source_name_is_refused():
    for source in ("", "  "):
        with pytest.raises(CorpusError, match="no source given: name a folder, an archive"):
            load_documents(source)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_special_files_are_refused(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(CorpusError, match="pipe is neither a regular file nor a folder"):
        load_documents(tmp_path / "pipe")
    write(tmp_path / "a.txt", "real")
    assert [d.id for d in load_documents(tmp_path)] == ["a.txt"]  # a pipe in a folder is ignored


def test_format_option_must_fit_the_path(tmp_path):
    path = write(tmp_path / "a.txt", "one\n")
    with pytest.raises(CorpusError, match="is a file, not a folder"):
        load_documents(path, fmt="folder")
    with pytest.raises(CorpusError, match="is a folder, not a csv file"):
        load_documents(tmp_path, fmt="csv")
    with pytest.raises(CorpusError, match="a.txt: the table has a header but no rows"):
        load_documents(path, fmt="csv")


def test_column_options_only_apply_to_tables(tmp_path):
    path = write(tmp_path / "a.txt", "one\n")
    with pytest.raises(CorpusError, match="--text-column, --id-column only applies to tables"):
        load_documents(path, text_column="body", id_column="id")


def test_empty_and_oversized_files_are_refused(tmp_path):
    with pytest.raises(CorpusError, match="empty.txt is empty"):
        load_documents(write(tmp_path / "empty.txt", b""))
    with pytest.raises(CorpusError, match="more than the limit of 10; raise max_bytes"):
        load_documents(write(tmp_path / "big.txt", "x" * 11), max_bytes=10)
