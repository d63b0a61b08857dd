"""Zip and tar archives: the layout rule, and every way a hostile archive is refused."""

from __future__ import annotations

import io
import stat
import tarfile
import zipfile
from collections import Counter

import pytest

from corpora import archives
from corpora.archives import MAX_DEPTH, load_archive
from corpora.errors import CorpusError
from corpora.loaders import load_documents, split_of
from tests.conftest import shared_path

NEWS = {
    "20news-bydate-train/alt.atheism/1": "god is dead",
    "20news-bydate-train/sci.space/2": "to the moon",
    "20news-bydate-test/sci.space/3": "and mars",
}


def make_zip(path, members, compression=zipfile.ZIP_DEFLATED):
    """``members``: name -> data, or a list of (ZipInfo or name, data)."""
    items = members.items() if isinstance(members, dict) else members
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, data in items:
            archive.writestr(name, data)
    return path


def make_tar(path, members, mode="w:gz"):
    """``members``: name -> data, or a list of (TarInfo or name, data or None)."""
    items = members.items() if isinstance(members, dict) else members
    with tarfile.open(path, mode) as archive:
        for name, data in items:
            info = name if isinstance(name, tarfile.TarInfo) else tarfile.TarInfo(name)
            if isinstance(name, str) and name.endswith("/"):
                info.type = tarfile.DIRTYPE
            if data is None:
                archive.addfile(info)
                continue
            data = data.encode() if isinstance(data, str) else data
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def summary(loaded):
    return [(d.id, d.label, d.text) for d in loaded]


# --- what comes out ---------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz"])
def test_archive_gives_the_same_documents_as_the_folder(tmp_path, suffix):
    path = tmp_path / f"news{suffix}"
    if suffix == ".zip":
        make_zip(path, NEWS)
    else:
        mode = {
            ".tar": "w",
            ".tar.gz": "w:gz",
            ".tgz": "w:gz",
            ".tar.bz2": "w:bz2",
            ".tar.xz": "w:xz",
        }
        make_tar(path, NEWS, mode[suffix])
    loaded = load_documents(path)
    assert summary(loaded) == [
        ("20news-bydate-test/sci.space/3", "sci.space", "and mars"),
        ("20news-bydate-train/alt.atheism/1", "alt.atheism", "god is dead"),
        ("20news-bydate-train/sci.space/2", "sci.space", "to the moon"),
    ]
    assert [split_of(d.id) for d in loaded] == ["test", "train", "train"]
    assert loaded.source == str(path)


def test_a_single_wrapping_folder_is_looked_through(tmp_path):
    wrapped = {f"20news-bydate/{name}": text for name, text in NEWS.items()}
    loaded = load_documents(make_zip(tmp_path / "a.zip", wrapped))
    assert [(d.id, d.label) for d in loaded][0] == ("20news-bydate-test/sci.space/3", "sci.space")
    flat = load_documents(
        make_tar(tmp_path / "b.tar.gz", {"corpus/a.txt": "x", "corpus/b.txt": "y"})
    )
    assert summary(flat) == [("a.txt", None, "x"), ("b.txt", None, "y")]
    # so one folder of one class is looked through too: a single label says nothing
    one_group = load_documents(make_zip(tmp_path / "d.zip", {"sports/1.txt": "goal"}))
    assert summary(one_group) == [("1.txt", None, "goal")]
    mixed = load_documents(make_zip(tmp_path / "c.zip", {"top.txt": "t", "g/a.txt": "a"}))
    assert summary(mixed) == [("g/a.txt", "g", "a"), ("top.txt", None, "t")]


def test_archive_skips_hidden_members_directories_and_non_text(tmp_path):
    members = [
        ("corpus/", b""),
        ("corpus/g/ok.txt", b"fine"),
        ("corpus/g/.DS_Store", b"\x00\x01"),
        ("__MACOSX/corpus/g/._ok.txt", b"\x00\x05\x16\x07"),
        ("corpus/.git/HEAD", b"ref"),
        ("corpus/g/blob.bin", bytes(range(256))),
        ("./corpus/h/./b.txt", b"dot components are dropped"),
    ]
    for path in (make_zip(tmp_path / "a.zip", members), make_tar(tmp_path / "a.tar", members, "w")):
        loaded = load_documents(path)
        assert [(d.id, d.label) for d in loaded] == [("g/ok.txt", "g"), ("h/b.txt", "h")]
        assert [doc_id for doc_id, _ in loaded.skipped] == ["g/blob.bin"]


def test_archive_with_only_directories_or_non_text(tmp_path):
    with pytest.raises(CorpusError, match="no documents in .*: the archive holds no files"):
        load_documents(make_zip(tmp_path / "dirs.zip", {"a/": b"", "a/b/": b""}))
    with pytest.raises(CorpusError, match="all 1 files were skipped as not text"):
        load_documents(make_tar(tmp_path / "bin.tar.gz", {"x.bin": bytes(500)}))


def test_duplicate_members_are_refused(tmp_path):
    with pytest.raises(CorpusError, match="holds 'a.txt' more than once"):
        load_documents(make_tar(tmp_path / "dup.tar", [("a.txt", "one"), ("a.txt", "two")], "w"))


def test_archive_member_with_the_wrong_encoding(tmp_path):
    text = "café " + "ascii " * 20
    path = make_zip(tmp_path / "a.zip", {"g/utf8.txt": text, "h/x.txt": "x"})
    assert load_documents(path, encoding="utf-8").documents[0].text == text
    path = make_zip(tmp_path / "b.zip", {"g/latin.txt": text.encode("latin-1"), "h/x.txt": "x"})
    with pytest.raises(
        CorpusError, match=r"cannot decode g/latin.txt in b.zip as utf-8.*--encoding latin-1"
    ):
        load_documents(path, encoding="utf-8")


# --- unsafe names -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, problem",
    [
        ("../evil.txt", "points outside the archive"),
        ("good/../../evil.txt", "points outside the archive"),
        ("..\\evil.txt", "points outside the archive"),
        ("/etc/evil.txt", "has an absolute path"),
        ("C:\\Windows\\evil.txt", "has an absolute path"),
        ("a/" * (MAX_DEPTH + 1) + "deep.txt", f"nested {MAX_DEPTH + 2} levels deep"),
    ],
)
@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_unsafe_member_names_are_refused(tmp_path, name, problem, kind):
    members = [("fine.txt", "ok"), (name, "evil")]
    if kind == "zip":
        path = make_zip(tmp_path / "evil.zip", members)
    else:
        path = make_tar(tmp_path / "evil.tar.gz", members)
    with pytest.raises(CorpusError, match=f"refusing .*evil.*: member .*{problem}"):
        load_documents(path)


def test_zip_symlink_member_is_refused(tmp_path):
    link = zipfile.ZipInfo("g/passwd")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    path = make_zip(tmp_path / "link.zip", [("g/a.txt", "ok"), (link, "/etc/passwd")])
    with pytest.raises(CorpusError, match="member 'g/passwd' is a symbolic link"):
        load_documents(path)


def test_zip_special_file_member_is_refused(tmp_path):
    fifo = zipfile.ZipInfo("g/pipe")
    fifo.external_attr = (stat.S_IFIFO | 0o644) << 16
    with pytest.raises(CorpusError, match="member 'g/pipe' is not a regular file"):
        load_documents(make_zip(tmp_path / "fifo.zip", [(fifo, "")]))


@pytest.mark.parametrize(
    "kind, problem",
    [
        (tarfile.SYMTYPE, r"is a link \(to '/etc/passwd'\)"),
        (tarfile.LNKTYPE, r"is a link \(to '/etc/passwd'\)"),
        (tarfile.CHRTYPE, "is a device or special file"),
        (tarfile.BLKTYPE, "is a device or special file"),
        (tarfile.FIFOTYPE, "is a device or special file"),
    ],
)
def test_tar_links_and_devices_are_refused(tmp_path, kind, problem):
    info = tarfile.TarInfo("g/special")
    info.type = kind
    info.linkname = "/etc/passwd" if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE) else ""
    path = make_tar(tmp_path / "special.tar.gz", [("g/a.txt", "ok"), (info, None)])
    with pytest.raises(CorpusError, match=f"member 'g/special' {problem}"):
        load_documents(path)


# --- sizes and counts -------------------------------------------------------------------------
def test_zip_bomb_is_refused_before_it_is_inflated(tmp_path):
    path = make_zip(tmp_path / "bomb.zip", {"g/ok.txt": "fine", "g/zeros.txt": bytes(50 << 20)})
    assert path.stat().st_size < 200_000  # 50 MiB of zeros deflate to about 50 KB
    with pytest.raises(
        CorpusError, match=r"member 'g/zeros.txt' unpacks to 52,428,800 bytes .*200:1"
    ):
        load_documents(path)


def test_tar_bomb_is_refused_while_it_is_read(tmp_path):
    path = make_tar(tmp_path / "bomb.tar.gz", {"g/zeros.txt": bytes(50 << 20)})
    with pytest.raises(CorpusError, match=r"member 'g/zeros.txt' unpacks to .* \(more than 200:1"):
        load_documents(path)


def test_well_compressed_small_members_are_fine(tmp_path):
    text = "spam " * 100_000  # 500 kB at far more than 200:1, but under 1 MiB
    path = make_zip(tmp_path / "spam.zip", {"spam.txt": text})
    assert load_documents(path).documents[0].text == text


@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_declared_total_size_over_the_limit_is_refused(tmp_path, kind):
    members = {"a.txt": "x" * 600, "b.txt": "y" * 600}
    path = (
        make_zip(tmp_path / "big.zip", members)
        if kind == "zip"
        else make_tar(tmp_path / "big.tgz", members)
    )
    with pytest.raises(
        CorpusError,
        match="it declares more than 1,000 bytes; unpack it yourself, or raise max_bytes",
    ):
        load_documents(path, max_bytes=1_000)
    assert len(load_documents(path, max_bytes=1_200)) == 2


def test_tar_header_declaring_a_huge_member_is_refused(tmp_path):
    info = tarfile.TarInfo("g/huge.txt")
    info.size = 3 << 30  # the header claims 3 GiB; only a few bytes follow
    path = tmp_path / "liar.tar"
    path.write_bytes(info.tobuf(tarfile.GNU_FORMAT) + b"tiny".ljust(512, b"\0") + bytes(1024))
    with pytest.raises(CorpusError, match="it declares more than 2,147,483,648 bytes"):
        load_documents(path)


def test_zip_whose_headers_understate_sizes_is_refused(tmp_path):
    path = make_zip(tmp_path / "liar.zip", {"g/a.txt": "x" * 100_000})
    data = bytearray(path.read_bytes())
    # set "uncompressed size" to 10 in the local header (offset 22) and the central directory (24)
    local = data.index(b"PK\x03\x04")
    central = data.index(b"PK\x01\x02")
    data[local + 22 : local + 26] = (10).to_bytes(4, "little")
    data[central + 24 : central + 28] = (10).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    with pytest.raises(CorpusError, match="cannot read .*liar.zip as a zip archive: BadZipFile"):
        load_documents(path, max_bytes=1_000)


def test_real_bytes_are_counted_against_the_header_and_the_limit(tmp_path):
    path = tmp_path / "x.zip"
    with pytest.raises(
        CorpusError, match="member 'm' holds more than the 10 bytes its header declares"
    ):
        archives._read_member(io.BytesIO(b"x" * 100), path, "m", 10, 0, 10_000)
    with pytest.raises(CorpusError, match="it unpacks to more than 1,000 bytes"):
        archives._read_member(io.BytesIO(b"x" * 100), path, "m", 100, 950, 1_000)
    assert archives._read_member(io.BytesIO(b"x" * 100), path, "m", 100, 900, 1_000) == b"x" * 100


@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_too_many_members_are_refused(tmp_path, monkeypatch, kind):
    monkeypatch.setattr(archives, "MAX_MEMBERS", 5)
    members = {f"g/{i}.txt": "x" for i in range(6)}
    path = (
        make_zip(tmp_path / "many.zip", members)
        if kind == "zip"
        else make_tar(tmp_path / "many.tar", members, "w")
    )
    with pytest.raises(CorpusError, match="refusing .*many.*(6 members|more than 5 members)"):
        load_documents(path)
    del members["g/5.txt"]
    path.unlink()
    path = make_zip(path, members) if kind == "zip" else make_tar(path, members, "w")
    assert len(load_documents(path)) == 5


def test_encrypted_zip_member_is_refused(tmp_path):
    path = make_zip(tmp_path / "secret.zip", {"a.txt": "hidden"})
    data = bytearray(path.read_bytes())
    central = data.index(b"PK\x01\x02")
    data[central + 8] |= 0x1  # the "encrypted" flag bit
    path.write_bytes(bytes(data))
    with pytest.raises(CorpusError, match="member 'a.txt' is encrypted"):
        load_documents(path)


# --- corrupt archives -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, kind", [("bad.zip", "zip"), ("bad.tar.gz", "tar"), ("bad.tar", "tar")]
)
def test_garbage_is_not_an_archive(tmp_path, name, kind):
    path = tmp_path / name
    path.write_bytes(b"this is not an archive at all\n" * 30)
    with pytest.raises(CorpusError, match=f"cannot read .*{name} as a {kind} archive"):
        load_documents(path)


def test_truncated_archives(tmp_path):
    for name, maker in (("cut.zip", make_zip), ("cut.tar.gz", make_tar)):
        path = maker(tmp_path / name, {f"g/{i}.txt": f"post {i} " * 200 for i in range(20)})
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
        with pytest.raises(CorpusError, match=f"cannot read .*{name}"):
            load_documents(path)


def test_load_archive_directly(tmp_path):
    path = make_zip(tmp_path / "a.zip", {"g/1.txt": "one", "h/2.txt": "two"})
    documents, skipped = load_archive(
        path, "zip", encoding="auto", skip_non_text=True, max_bytes=100
    )
    assert [(d.id, d.label) for d in documents] == [("g/1.txt", "g"), ("h/2.txt", "h")]
    assert skipped == []


# --- the real corpus --------------------------------------------------------------------------
@pytest.mark.shared_data
def test_20news_bydate_tarball_skips_19_train_and_3_test_posts():
    path = shared_path("20news_bydate", "20news-bydate.tar.gz")
    loaded = load_documents(path)
    splits = Counter(split_of(doc_id) for doc_id, _ in loaded.skipped)
    assert splits == {"train": 19, "test": 3}
    assert len(loaded) == 18_846 - 22
    assert Counter(split_of(d.id) for d in loaded) == {"train": 11_314 - 19, "test": 7_532 - 3}
    skipped = dict(loaded.skipped)
    assert "uuencoded" in skipped["20news-bydate-test/comp.windows.x/67987"]
    assert "uuencoded" in skipped["20news-bydate-test/comp.windows.x/67988"]
    assert "printable" in skipped["20news-bydate-test/sci.crypt/16017"]
    labels = {d.label for d in loaded}
    assert len(labels) == 20 and "talk.religion.misc" in labels
    first = loaded.documents[0]
    assert first.id == "20news-bydate-test/alt.atheism/53068" and first.label == "alt.atheism"
    assert first.text.startswith("From: ")
