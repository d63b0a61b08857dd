"""Bad text files, generated: folder trees and mixed encodings load as documents or give one
clear error.

Folder trees of text, Latin-1, binary, empty and NUL files with hidden files and ``__MACOSX``;
lines encoded one by one as Latin-1 or UTF-8, in text files, tables, vocabularies and ``.feat``
labels. The checks and strategies are in ``bad_inputs.py``; every example runs under a hard time
limit, so a hang fails the test instead of stalling it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from corpora.errors import CorpusError
from corpora.loaders import load_documents
from tests.corpora.bad_inputs import PROPERTY, SENTENCES, check_prepare, load_or_refuse

# --- folders ----------------------------------------------------------------------------------
PATH_PARTS = st.sampled_from(["a", "b", "news", ".hidden", "__MACOSX", "é", "x y", "1"])
CONTENTS = (
    SENTENCES.map(str.encode)
    | st.binary(max_size=64)
    | st.sampled_from(["café naïve".encode("latin-1"), "über".encode(), b"", b"\x00" * 10])
)


@PROPERTY
@given(files=st.dictionaries(st.lists(PATH_PARTS, min_size=1, max_size=3).map(tuple), CONTENTS,
                             min_size=1, max_size=8))
def test_folder_trees_give_every_visible_file_or_raise(files):
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder, "corpus")
        root.mkdir()
        written = []
        for parts, data in files.items():
            path = root.joinpath(*parts)
            try:  # a file and a folder of one name cannot both exist: keep the first
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
            except (FileExistsError, NotADirectoryError, IsADirectoryError):
                continue
            written.append(parts)
        assume(written)
        loaded = load_or_refuse(root)
    visible = sorted(
        "/".join(p) for p in written if not any(s.startswith(".") or s == "__MACOSX" for s in p)
    )
    if loaded is None:
        return
    assert sorted([d.id for d in loaded] + [doc_id for doc_id, _ in loaded.skipped]) == visible


def test_files_holding_only_a_bom_or_a_cut_off_character_are_read_as_text(tmp_path):
    for name, data in {"bom": b"\xef\xbb\xbf", "cut2": b"\xc2", "cut3": b"\xe2\x82"}.items():
        (tmp_path / name).write_bytes(data)
    loaded = load_or_refuse(tmp_path)
    assert {d.id: d.text for d in loaded} == {"bom": "", "cut2": "\xc2", "cut3": "\xe2\x82"}
    assert loaded.skipped == ()

# --- mixed encodings --------------------------------------------------------------------------
LATIN = st.sampled_from(["café au lait", "naïve façade", "über straße", "señor año"])
UTF8 = st.sampled_from(["crème brûlée", "日本語 テキスト", "ελληνικά γράμματα", "plain ascii"])


@st.composite
def mixed_lines(draw) -> tuple[bytes, list[str]]:
    """Lines encoded one by one as Latin-1 or UTF-8, at least one Latin-1 line with accents."""
    lines = draw(st.lists(st.tuples(st.booleans(), LATIN | UTF8), min_size=1, max_size=6))
    lines.append((True, draw(LATIN)))
    lines = draw(st.permutations(lines))
    raw = b"\n".join(encode(t, "latin-1" if latin else "utf-8") for latin, t in lines)
    return raw, [t for _, t in lines]


def encode(text: str, codec: str) -> bytes:
    try:
        return text.encode(codec)
    except UnicodeEncodeError:  # not every line can be Latin-1
        return text.encode("utf-8")


@PROPERTY
@given(generated=mixed_lines())
def test_mixed_latin1_and_utf8_lines_load_or_name_the_byte(generated):
    raw, texts = generated
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "mixed.txt")
        path.write_bytes(raw)
        loaded = load_or_refuse(path)
        assert loaded is not None and len(loaded) == len(texts)
        # auto falls back to Latin-1 for the whole file: each byte is kept, none is lost
        assert [d.text.encode("latin-1") for d in loaded] == raw.split(b"\n")
        with pytest.raises(CorpusError, match=r"cannot decode .*mixed.txt as utf-8: byte 0x"):
            load_documents(path, encoding="utf-8")
        assert [d.text for d in load_documents(path, encoding="latin-1")] == [
            d.text for d in loaded
        ]


@PROPERTY
@given(generated=mixed_lines())
def test_mixed_encodings_in_tables_vocabularies_and_feat_labels(generated):
    raw, texts = generated
    with tempfile.TemporaryDirectory() as folder:
        table = Path(folder, "mixed.csv")
        table.write_bytes(b"text\n" + raw + b"\n")
        loaded = load_or_refuse(table)
        assert loaded is not None and len(loaded) == len(texts)
        words = [f"w{i}".encode() + line.split(b" ")[0] for i, line in enumerate(raw.split(b"\n"))]
        vocab = Path(folder, "vocab.new")
        vocab.write_bytes(b"\n".join(w + b" 7" for w in words) + b"\n")
        feat = Path(folder, "mixed.feat")
        feat.write_bytes(b"\n".join(w + b" 1:2" for w in words) + b"\n")
        data = check_prepare(feat, "--test-fraction", "0", output=Path(folder, "out"))
    assert data is not None and len(data.vocabulary) == len(words)
    assert data.train.n_docs == len(words) and data.train.n_tokens == 2 * len(words)
