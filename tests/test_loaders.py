"""Format detection, folders of text files, line files, decoding, the is-it-text rule and the
named sources (gensim's Lee corpus, scikit-learn's 20 Newsgroups download, never fetched here)."""

from __future__ import annotations

import binascii
import io
import os
import random
import tarfile
import urllib.error
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from corpora.documents import Document
from corpora.errors import CorpusError
from corpora.loaders import (
    FORMATS,
    LoadedDocuments,
    detect_format,
    fetch_20newsgroups_documents,
    load_documents,
    load_lee,
    split_of,
)
from corpora.rawtext import line_documents, non_text_reason


def write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def uuencoded(n_lines: int = 40, seed: int = 0) -> bytes:
    rng = random.Random(seed)
    body = b"".join(binascii.b2a_uu(rng.randbytes(45)) for _ in range(n_lines))
    return b"begin 644 picture.gif\n" + body + b"`\nend\n"


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


# --- one document per line ------------------------------------------------------------------
def test_lines_keep_physical_line_numbers_and_skip_blank_lines(tmp_path):
    path = write(tmp_path / "docs.txt", "first doc\n\n   \nsecond doc\r\nthird\n")
    loaded = load_documents(path)
    assert [(d.id, d.text, d.label) for d in loaded] == [
        ("line-1", "first doc", None),
        ("line-4", "second doc", None),
        ("line-5", "third", None),
    ]
    assert loaded.source == str(path) and loaded.skipped == ()


def test_lines_split_on_newline_only():
    docs = line_documents("a\x0cb\u2028c\nd")
    assert [d.text for d in docs] == ["a\x0cb\u2028c", "d"]


def test_all_blank_text_file_has_no_documents(tmp_path):
    with pytest.raises(CorpusError, match="no documents in .*blank.txt: every line is blank"):
        load_documents(write(tmp_path / "blank.txt", "\n \n\t\n"))


# --- decoding -------------------------------------------------------------------------------
LATIN = "café crème, " + "and then plain words " * 5  # 2 of 117 bytes are 8-bit: 98% text


def test_auto_encoding_strips_bom_and_falls_back_to_latin1(tmp_path):
    write(tmp_path / "bom.txt", b"\xef\xbb\xbfcaf\xc3\xa9\r\nnext")
    write(tmp_path / "latin.txt", LATIN.encode("latin-1"))
    loaded = {d.id: d.text for d in load_documents(tmp_path)}
    assert loaded == {"bom.txt": "café\r\nnext", "latin.txt": LATIN}


def test_named_encoding_is_strict_and_names_the_file(tmp_path):
    write(tmp_path / "latin.txt", LATIN.encode("latin-1"))
    with pytest.raises(
        CorpusError, match=r"cannot decode .*latin.txt as utf-8.*--encoding latin-1"
    ):
        load_documents(tmp_path, encoding="utf-8")
    assert load_documents(tmp_path, encoding="latin-1").documents[0].text == LATIN
    assert load_documents(tmp_path, encoding="cp1252").documents[0].text == LATIN
    with pytest.raises(
        CorpusError, match=r"cannot decode .*lines.txt as ascii: byte 0xe9 at offset 3"
    ):
        load_documents(write(tmp_path / "lines.txt", LATIN.encode("latin-1")), encoding="ascii")


def test_unknown_encoding_is_refused(tmp_path):
    with pytest.raises(
        CorpusError, match="unknown encoding 'klingon'; use 'auto' or a Python codec"
    ):
        load_documents(write(tmp_path / "a.txt", "x"), encoding="klingon")


# --- the is-it-text rule --------------------------------------------------------------------
@pytest.mark.parametrize("n_binary, skipped", [(4, False), (5, True)])
def test_text_rule_threshold_is_integer_percent_above_95(n_binary, skipped):
    raw = b"a" * (100 - n_binary) + b"\x00" * n_binary  # 96% printable is text, 95% is not
    assert (non_text_reason(raw) is not None) is skipped


def test_text_rule_counts_whitespace_and_only_looks_at_4096_bytes():
    assert non_text_reason(b"\t\n\x0b\x0c\r " * 100) is None
    assert non_text_reason(b"") is None
    assert non_text_reason(b"a" * 4096 + b"\x00" * 10_000) is None
    assert "printable text" in non_text_reason(b"\x00" * 10 + b"a" * 90)


def test_text_rule_reads_utf8_windows_by_character():
    greek = "Ελληνικά κείμενα για δοκιμή\n".encode()  # mostly 2-byte characters
    chinese = ("中文文本测试" * 10 + "\n").encode()  # lines of 60 characters, no spaces
    assert non_text_reason(greek * 200) is None
    assert non_text_reason(chinese * 100) is None  # not uuencoded: lines of 60 *characters*
    cut = ("é" * 3000).encode()  # the window ends inside a character
    assert non_text_reason(cut) is None
    assert "printable text" in non_text_reason("\x00\x01é".encode() * 100)
    assert "printable text" in non_text_reason("é".encode("latin-1") * 100)


def test_text_rule_spots_uuencoded_files_but_not_regular_text():
    assert "uuencoded" in non_text_reason(uuencoded())
    # lines of one length but with ordinary spaces are text
    prose = b"the quick brown fox jumps over the lazy dog, again and again\n" * 40
    assert non_text_reason(prose) is None
    # no spaces, but lengths vary: text too
    ragged = b"".join(b"x" * (50 + i % 31) + b"\n" for i in range(60))
    assert non_text_reason(ragged) is None


def test_uuencode_rule_needs_more_than_half_the_lines():
    line = b"M" + b"A" * 60 + b"\n"
    half = line * 10 + b"".join(b"y" * n + b"\n" for n in range(1, 11))
    assert non_text_reason(half) is None
    assert "uuencoded" in non_text_reason(
        line * 11 + b"".join(b"y" * n + b"\n" for n in range(1, 11))
    )


# --- folders --------------------------------------------------------------------------------
def test_folder_labels_are_the_parent_folder_and_ids_relative_paths(tmp_path):
    write(tmp_path / "sports" / "1.txt", "goal")
    write(tmp_path / "sports" / "deep" / "2.txt", "deeper")
    write(tmp_path / "news" / "b.txt", "election")
    write(tmp_path / "top.txt", "at the top")
    loaded = load_documents(tmp_path)
    assert [(d.id, d.label) for d in loaded] == [
        ("news/b.txt", "news"),
        ("sports/1.txt", "sports"),
        ("sports/deep/2.txt", "deep"),
        ("top.txt", None),
    ]
    assert loaded.documents[0].text == "election"


def test_folder_skips_hidden_files_and_records_non_text(tmp_path):
    write(tmp_path / "g" / "ok", "plain text\r\nwith CRLF kept\n")
    write(tmp_path / "g" / "empty", b"")
    write(tmp_path / "g" / "photo.jpg", bytes(range(256)) * 4)
    write(tmp_path / "g" / "attachment", uuencoded())
    write(tmp_path / ".git" / "config", "[core]")
    write(tmp_path / "g" / ".DS_Store", b"\x00\x00\x00\x01Bud1")
    loaded = load_documents(tmp_path)
    assert [(d.id, d.text) for d in loaded] == [
        ("g/empty", ""),
        ("g/ok", "plain text\r\nwith CRLF kept\n"),
    ]
    assert [doc_id for doc_id, _ in loaded.skipped] == ["g/attachment", "g/photo.jpg"]
    assert "uuencoded" in loaded.skipped[0][1] and "printable" in loaded.skipped[1][1]
    kept = load_documents(tmp_path, skip_non_text=False)
    assert len(kept) == 4 and kept.skipped == ()


def test_bydate_layout_keeps_the_split_in_the_id(tmp_path):
    write(tmp_path / "20news-bydate-train" / "alt.atheism" / "49960", "train post")
    write(tmp_path / "20news-bydate-train" / "sci.space" / "61000", "orbit")
    write(tmp_path / "20news-bydate-test" / "alt.atheism" / "53068", "test post")
    loaded = load_documents(tmp_path)
    assert [(d.id, d.label, split_of(d.id)) for d in loaded] == [
        ("20news-bydate-test/alt.atheism/53068", "alt.atheism", "test"),
        ("20news-bydate-train/alt.atheism/49960", "alt.atheism", "train"),
        ("20news-bydate-train/sci.space/61000", "sci.space", "train"),
    ]
    train_only = load_documents(tmp_path / "20news-bydate-train")
    assert [(d.id, d.label) for d in train_only] == [
        ("alt.atheism/49960", "alt.atheism"),
        ("sci.space/61000", "sci.space"),
    ]


@pytest.mark.parametrize(
    "doc_id, split",
    [
        ("20news-bydate-train/g/1", "train"),
        ("x-test/g/1", "test"),
        ("train/g/1", "train"),
        ("test/1", "test"),
        ("g/1", None),
        ("20news-bydate-train", None),
        ("contest/g/1", None),
        ("line-3", None),
    ],
)
def test_split_of(doc_id, split):
    assert split_of(doc_id) == split


def test_folder_errors(tmp_path):
    with pytest.raises(CorpusError, match="no documents in .*: the folder has no files"):
        load_documents(tmp_path)
    write(tmp_path / "a.bin", bytes(200))
    with pytest.raises(
        CorpusError, match="all 1 files were skipped as not text .*skip_non_text=False"
    ):
        load_documents(tmp_path)
    write(tmp_path / "b.txt", "x" * 100)
    with pytest.raises(CorpusError, match="holds more than 250 bytes of files; raise max_bytes"):
        load_documents(tmp_path, max_bytes=250)


def test_unreadable_file_in_folder(tmp_path, monkeypatch):
    write(tmp_path / "secret.txt", "x")
    real_read_bytes = Path.read_bytes

    def read_bytes(self):
        if self.name == "secret.txt":
            raise PermissionError(13, "Permission denied")
        return real_read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    with pytest.raises(CorpusError, match="cannot read .*secret.txt: Permission denied"):
        load_documents(tmp_path)
    with pytest.raises(CorpusError, match="cannot read .*secret.txt: Permission denied"):
        load_documents(tmp_path / "secret.txt")


# --- named sources --------------------------------------------------------------------------
def test_lee_corpus():
    loaded = load_lee()
    # lee_background.cor has 300 lines; `wc -l` says 299 because the last has no newline
    assert len(loaded) == 300
    assert loaded.documents[0].id == "lee-0001" and loaded.documents[-1].id == "lee-0300"
    assert loaded.documents[0].text.startswith("Hundreds of people have been forced")
    assert all(d.label is None for d in loaded) and loaded.source == "lee"
    assert load_documents("lee").documents == loaded.documents


class FakeBunch:
    def __init__(self, subset):
        split = f"20news-bydate-{subset}"
        self.data = ["post two", "post one"]
        self.target = [1, 0]
        self.target_names = ["alt.atheism", "sci.space"]
        self.filenames = [
            f"/home/u/scikit_learn_data/{split}/sci.space/2",
            f"/x/{split}/alt.atheism/1",
        ]


def test_20newsgroups_maps_sklearn_output(monkeypatch):
    from sklearn import datasets

    calls = []

    def fake_fetch(**kwargs):
        calls.append(kwargs)
        return FakeBunch(kwargs["subset"])

    monkeypatch.setattr(datasets, "fetch_20newsgroups", fake_fetch)
    loaded = load_documents("20newsgroups:test")
    assert calls[0]["subset"] == "test" and calls[0]["download_if_missing"] is True
    assert [(d.id, d.text, d.label) for d in loaded] == [
        ("20news-bydate-test/alt.atheism/1", "post one", "alt.atheism"),
        ("20news-bydate-test/sci.space/2", "post two", "sci.space"),
    ]
    assert loaded.source == "20newsgroups:test"
    assert fetch_20newsgroups_documents().source == "20newsgroups:train"


@pytest.mark.parametrize(
    "error", [urllib.error.URLError("no route to host"), OSError("network unreachable")]
)
def test_20newsgroups_offline_error_says_what_to_do(monkeypatch, error):
    from sklearn import datasets

    def offline(**kwargs):
        raise error

    monkeypatch.setattr(datasets, "fetch_20newsgroups", offline)
    with pytest.raises(
        CorpusError,
        match=r"needs the internet.*download the archive yourself and run "
        r"'docmodel prepare path/to/20news-bydate.tar.gz'",
    ):
        load_documents("20newsgroups")


def test_20newsgroups_unknown_subset():
    with pytest.raises(
        CorpusError, match="unknown 20 Newsgroups subset 'dev'; use one of train, test, all"
    ):
        load_documents("20newsgroups:dev")


def test_a_real_path_wins_over_a_named_source(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "lee" / "a.txt", "my own lee")
    assert [d.id for d in load_documents("lee")] == ["a.txt"]
