"""The tokenizer: every option on hand-made texts, validation messages, and the batch
encoder agreeing with the one-text path on real documents."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from corpora.errors import CorpusError
from corpora.loaders import load_lee
from corpora.tokenize import (
    DEFAULT_TOKEN_PATTERN,
    Tokenizer,
    TokenizerConfig,
    english_stopwords,
    strip_header_block,
)

NVDM = dict(
    strip_headers="first-blank-line", token_pattern="[a-z]+", stopwords="none", min_token_length=1
)


def tokens(text: str, **config) -> list[str]:
    return Tokenizer(TokenizerConfig(**config)).tokenize(text)


def test_default_tokens_are_lowercase_words_of_letters():
    text = "Hello, World! Don't mp3 x11 Café 1993 a foo_bar naïve-ish"
    assert tokens(text, stopwords="none") == ["hello", "world", "don", "café", "naïve", "ish"]
    assert TokenizerConfig().token_pattern == DEFAULT_TOKEN_PATTERN


def test_default_pattern_drops_contraction_tails_only():
    text = "I've said 'hello' to John's dog; we'll see. THEY'RE rock'n'roll O'Brien"
    assert tokens(text, stopwords="none", min_token_length=1) == [
        "i",
        "said",
        "hello",
        "to",
        "john",
        "dog",
        "we",
        "see",
        "they",
        "rock",
        "n",
        "roll",
        "o",
        "brien",
    ]


def test_nvdm_recipe_tokens():
    text = "From: a@b.c\nSubject: hi\n\nDon't panic: X11R5 is 2x faster!"
    assert tokens(text, **NVDM) == ["don", "t", "panic", "x", "r", "is", "x", "faster"]


def test_no_lowercase_keeps_case_but_stopwords_still_match():
    assert tokens("The Cat and THE dog", lowercase=False) == ["Cat", "dog"]
    assert tokens("The Cat and THE dog") == ["cat", "dog"]


HEADED = "From: joe@example.com (Joe)\nSubject: Engines\n  continued subject\nLines: 3\n\nThe engine body text.\n\nSecond paragraph."


@pytest.mark.parametrize(
    ("text", "mode", "expected"),
    [
        (HEADED, "off", HEADED),
        (HEADED, "auto", "The engine body text.\n\nSecond paragraph."),
        (HEADED, "first-blank-line", "The engine body text.\n\nSecond paragraph."),
        ("Dear Joe,\nthanks.\n\nBody", "auto", "Dear Joe,\nthanks.\n\nBody"),
        ("Dear Joe,\nthanks.\n\nBody", "first-blank-line", "Body"),
        (
            "Subject: only headers, no blank line",
            "first-blank-line",
            "Subject: only headers, no blank line",
        ),
        ("Subject: one\r\nLines: 2\r\n\r\nBody", "auto", "Body"),
        ("Note: a one-line header\n\nBody", "auto", "Body"),
        ("  indented: poem\n  more\n\nBody", "auto", "  indented: poem\n  more\n\nBody"),
    ],
)
def test_strip_header_block(text, mode, expected):
    assert strip_header_block(text, mode) == expected


def test_strip_headers_in_tokenizer_and_boolean_aliases():
    assert "subject" in tokens(HEADED)
    assert "subject" not in tokens(HEADED, strip_headers="auto")
    assert TokenizerConfig(strip_headers=True).strip_headers == "auto"
    assert TokenizerConfig(strip_headers=False).strip_headers == "off"


def test_strip_quotes_removes_quoted_and_attribution_lines():
    text = (
        "In article <1993Apr5.1@host.edu>, joe@host.edu (Joe) writes:\n"
        "> quoted engine\n"
        "  |> deeper quoted wheel\n"
        "Mary Smith wrote:\n"
        "my reply about brakes\n"
    )
    assert tokens(text, strip_quotes=True, stopwords="none") == ["my", "reply", "about", "brakes"]
    kept = tokens(text, stopwords="none")
    assert {"quoted", "engine", "wheel", "writes", "wrote"} <= set(kept)


def test_strip_urls_and_emails():
    text = "see http://example.com/a?b=1 or WWW.Foo.org and ftp://x.y/z, mail joe.bloggs+x@mail.example.co.uk today"
    plain = tokens(text, stopwords="none")
    assert {"http", "example", "foo", "joe", "bloggs"} <= set(plain)
    no_urls = tokens(text, stopwords="none", strip_urls=True)
    assert {"http", "foo", "ftp"}.isdisjoint(no_urls) and "bloggs" in no_urls
    no_mail = tokens(text, stopwords="none", strip_emails=True)
    assert "bloggs" not in no_mail and "http" in no_mail
    both = tokens(text, stopwords="none", strip_urls=True, strip_emails=True)
    assert both == ["see", "or", "and", "mail", "today"]


def test_strip_numbers_with_a_pattern_that_keeps_digits():
    text = "in 1993 version 3.5 of x11 cost 1,200 dollars"
    assert tokens(text, token_pattern=r"\w+", stopwords="none", min_token_length=1) == [
        "in",
        "1993",
        "version",
        "3",
        "5",
        "of",
        "x11",
        "cost",
        "1",
        "200",
        "dollars",
    ]
    assert tokens(
        text, token_pattern=r"\w+", stopwords="none", min_token_length=1, strip_numbers=True
    ) == ["in", "version", "of", "x11", "cost", "dollars"]


def test_english_stopwords_are_sklearn_and_gensim_lists():
    from gensim.parsing.preprocessing import STOPWORDS
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    words = english_stopwords()
    assert set(ENGLISH_STOP_WORDS) <= words and set(STOPWORDS) <= words
    assert len(words) == len(set(ENGLISH_STOP_WORDS) | set(STOPWORDS))
    gensim_only = sorted(set(STOPWORDS) - set(ENGLISH_STOP_WORDS))[0]
    text = f"the quick {gensim_only} fox"
    assert tokens(text) == ["quick", "fox"]
    assert tokens(text, stopwords="none") == ["the", "quick", gensim_only, "fox"]


def test_extra_stopwords_are_case_insensitive_and_added_to_the_list():
    assert tokens("Quick brown Fox jumps", extra_stopwords=("FOX", "brown")) == ["quick", "jumps"]
    assert tokens("the fox", stopwords="none", extra_stopwords=("fox",)) == ["the"]


def test_stemming_merges_inflections_and_checks_stopwords_before_stemming():
    assert tokens("running runs connected Connection generously", stem=True) == [
        "run",
        "run",
        "connect",
        "connect",
        "generous",
    ]
    # "doing" is a stop word as written; its stem would not be checked again.
    assert tokens("doing", stem=True) == []


def test_token_length_limits():
    text = "a to cat horse elephant"
    assert tokens(text, stopwords="none", min_token_length=3) == ["cat", "horse", "elephant"]
    assert tokens(text, stopwords="none", min_token_length=1, max_token_length=3) == [
        "a",
        "to",
        "cat",
    ]


def test_one_capturing_group_gives_the_group():
    assert tokens("#topic and #models here", token_pattern=r"#(\w+)", stopwords="none") == [
        "topic",
        "models",
    ]


def _letters(i: int) -> str:
    """A distinct made-up word for each integer (letters only)."""
    word = ""
    for _ in range(3):
        word += "bcdfghjklmnpqrstvwxz"[i % 20]
        i //= 20
    return word + "o"


# "new york" is frequent against a large vocabulary of words seen once each, so gensim's
# score (count(ab) - min_count) * n_types / (count(a) * count(b)) is far above 10.
PHRASE_TRAIN = ["new york is big and new york is busy"] * 20 + [
    " ".join(_letters(10 * k + j) for j in range(10)) for k in range(100)
]


def test_bigrams_learned_on_training_texts_apply_to_new_texts():
    train = PHRASE_TRAIN
    tok = Tokenizer(TokenizerConfig(bigrams=True, stopwords="none", bigram_min_count=5))
    fitted = tok.fit_phrases(train)
    assert fitted.tokenize("I love new york") == ["love", "new_york"]
    # "los angeles" never occurs in training: it stays two tokens.
    assert fitted.tokenize("los angeles los angeles los angeles") == ["los", "angeles"] * 3
    with pytest.raises(CorpusError, match="fit_phrases"):
        tok.tokenize("new york")


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            dict(strip_headers="sometimes"),
            "strip_headers must be one of off, auto, first-blank-line; got 'sometimes'",
        ),
        (dict(stopwords="french"), "stopwords must be one of none, english; got 'french'"),
        (dict(token_pattern="[a-"), "token_pattern '[a-' is not a valid regular expression"),
        (dict(token_pattern="(a)(b)"), "has 2 capturing groups"),
        (dict(token_pattern=""), "token_pattern must be a non-empty regular expression"),
        (dict(min_token_length=0), "min_token_length must be at least 1, got 0"),
        (
            dict(min_token_length=3, max_token_length=2),
            "max_token_length must be at least 3, got 2",
        ),
        (dict(min_token_length=2.5), "min_token_length must be an integer, got 2.5"),
        (dict(extra_stopwords="the,a"), "extra_stopwords must be a sequence of words, got 'the,a'"),
        (dict(lowercase="yes"), "lowercase must be true or false, got 'yes'"),
        (dict(bigram_min_count=0), "bigram_min_count must be at least 1, got 0"),
        (dict(bigram_threshold="high"), "bigram_threshold must be a number, got 'high'"),
    ],
)
def test_config_validation_names_the_bad_value(config, message):
    with pytest.raises(CorpusError) as info:
        TokenizerConfig(**config)
    assert message in str(info.value)


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        TokenizerConfig().stem = True  # type: ignore[misc]


@pytest.mark.parametrize(
    "config",
    [
        TokenizerConfig(),
        TokenizerConfig(stem=True, extra_stopwords=("said",), max_token_length=12),
        TokenizerConfig(
            lowercase=False, stopwords="none", min_token_length=1, token_pattern=r"\w+"
        ),
    ],
)
def test_encode_gives_the_same_tokens_as_tokenize(config):
    texts = [d.text for d in load_lee().documents[:60]]
    tok = Tokenizer(config)
    encoded = tok.encode([texts[:40], texts[40:]])
    assert [len(ids) for ids in encoded.ids] == [int(n.sum()) for n in encoded.lengths]
    starts = [0] * 2
    for group, (ids, lengths) in enumerate(zip(encoded.ids, encoded.lengths)):
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        for k, text in enumerate(texts[:40] if group == 0 else texts[40:]):
            got = [encoded.types[i] for i in ids[offsets[k] : offsets[k + 1]]]
            assert got == tok.tokenize(text)
        starts[group] = len(lengths)
    assert starts == [40, 20]


def test_encode_with_phrases_matches_tokenize():
    train = PHRASE_TRAIN
    tok = Tokenizer(TokenizerConfig(bigrams=True, stopwords="none")).fit_phrases(train)
    encoded = tok.encode([train, ["new york again"]])
    assert encoded.lengths[1].tolist() == [2]
    assert [encoded.types[i] for i in encoded.ids[1]] == ["new_york", "again"]


def test_encode_handles_empty_groups_and_texts():
    encoded = Tokenizer().encode([["", "12 34"], []])
    assert encoded.types == ()
    assert encoded.lengths[0].tolist() == [0, 0] and encoded.lengths[1].tolist() == []
    assert encoded.ids[0].dtype == np.int32 and len(encoded.ids[1]) == 0
