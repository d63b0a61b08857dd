"""The frozen vocabulary: filters and ordering on enumerable documents, files, validation."""

from __future__ import annotations

import dataclasses
import random

import pytest

from corpora.errors import CorpusError
from corpora.vocabulary import Vocabulary
from tests.conftest import shared_path

DOCS = [
    ["apple", "apple", "banana", "the"],
    ["apple", "cherry", "the"],
    ["banana", "banana", "the", "date"],
    ["the", "egg"],
]
# term counts: the 4, banana 3, apple 3, cherry 1, date 1, egg 1
# doc counts:  the 4, apple 2, banana 2, cherry 1, date 1, egg 1


def test_order_is_decreasing_count_then_alphabetical():
    assert Vocabulary.build(DOCS).words == ("the", "apple", "banana", "cherry", "date", "egg")


def test_min_df_max_df_max_words():
    assert Vocabulary.build(DOCS, min_df=2).words == ("the", "apple", "banana")
    assert Vocabulary.build(DOCS, max_df=0.75).words == ("apple", "banana", "cherry", "date", "egg")
    assert Vocabulary.build(DOCS, max_df=1.0).words[0] == "the"
    assert Vocabulary.build(DOCS, min_df=2, max_df=0.5, max_words=1).words == ("apple",)


def test_from_counts_agrees_with_build_on_random_documents():
    rng = random.Random(0)
    words = [f"w{i}" for i in range(60)]
    docs = [
        [rng.choice(words[: rng.randint(1, 60)]) for _ in range(rng.randint(0, 30))]
        for _ in range(80)
    ]
    for min_df, max_df, max_words in [(1, 1.0, None), (2, 0.5, 20), (3, 0.9, 5)]:
        built = Vocabulary.build(docs, min_df=min_df, max_df=max_df, max_words=max_words)
        types = sorted({w for d in docs for w in d})
        tf = [sum(d.count(w) for d in docs) for w in types]
        df = [sum(w in d for d in docs) for w in types]
        counted = Vocabulary.from_counts(
            types, tf, df, len(docs), min_df=min_df, max_df=max_df, max_words=max_words
        )
        assert built == counted


def test_ids_are_frozen():
    vocab = Vocabulary(("b", "a", "c"))
    assert [vocab.id(w) for w in "abcz"] == [1, 0, 2, None]
    assert "a" in vocab and "z" not in vocab and len(vocab) == 3 and list(vocab) == ["b", "a", "c"]
    copy = vocab.index
    copy["z"] = 3
    assert vocab.id("z") is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        vocab.words = ("x",)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(min_df=0), "min_df must be an integer of at least 1, got 0"),
        (dict(max_df=0.0), "max_df must be a fraction in (0, 1], got 0.0"),
        (dict(max_df=1.5), "max_df must be a fraction in (0, 1], got 1.5"),
        (
            dict(max_words=0),
            "max_words must be an integer of at least 1 (or None for no limit), got 0",
        ),
    ],
)
def test_build_validation(kwargs, message):
    with pytest.raises(CorpusError) as info:
        Vocabulary.build(DOCS, **kwargs)
    assert message in str(info.value)


def test_duplicate_words_are_rejected():
    with pytest.raises(CorpusError, match="'a' more than once"):
        Vocabulary(("a", "b", "a"))


def test_file_round_trip_and_extra_columns(tmp_path):
    vocab = Vocabulary(("zeta", "alpha", "café"))
    vocab.save(tmp_path / "v.txt")
    assert Vocabulary.from_file(tmp_path / "v.txt") == vocab
    (tmp_path / "v.new").write_text("who 6494\nout 6114\n", encoding="utf-8")
    assert Vocabulary.from_file(tmp_path / "v.new").words == ("who", "out")
    (tmp_path / "latin.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    assert Vocabulary.from_file(tmp_path / "latin.txt").words == ("café",)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("a\n\nb\n", "v.txt:2: empty line in vocabulary file"),
        ("", "is empty; expected one word per line"),
        ("a 1\nb 2\na 3\n", "v.txt: vocabulary has the word 'a' more than once"),
    ],
)
def test_bad_vocabulary_files(tmp_path, content, message):
    (tmp_path / "v.txt").write_text(content, encoding="utf-8")
    with pytest.raises(CorpusError) as info:
        Vocabulary.from_file(tmp_path / "v.txt")
    assert message in str(info.value)


def test_missing_vocabulary_file(tmp_path):
    with pytest.raises(CorpusError, match="vocabulary file not found: .*nope.txt"):
        Vocabulary.from_file(tmp_path / "nope.txt")


def test_nvdm_vocab_new():
    vocab = Vocabulary.from_file(shared_path("20news_nvdm", "vocab.new"))
    assert len(vocab) == 2000 and vocab.words[:3] == ("who", "out", "which")


def test_words_with_unicode_separators_survive_save_and_load(tmp_path):
    vocab = Vocabulary(("a\x1cb", "c\x85d", "e\u2028f", "plain"))
    vocab.save(tmp_path / "v.txt")
    assert Vocabulary.from_file(tmp_path / "v.txt") == vocab
