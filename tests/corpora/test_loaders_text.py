"""Text files: one document per line, decoding (``auto`` and named encodings) and the is-it-text
rule that skips binary and uuencoded files."""

from __future__ import annotations

import pytest

from corpora.errors import CorpusError
from corpora.loaders import load_documents
from corpora.rawtext import line_documents, non_text_reason
from tests.corpora.loader_files import uuencoded, write


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
