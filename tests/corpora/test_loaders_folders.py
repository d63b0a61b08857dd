"""Folders of text files: labels from the parent folder, ids from relative paths, hidden and
non-text files, the 20 Newsgroups by-date layout and its split, and folder errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from corpora.errors import CorpusError
from corpora.loaders import load_documents, split_of
from tests.corpora.loader_files import uuencoded, write


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
