"""Learned phrases as plain data: learned by gensim, applied exactly as gensim's FrozenPhrases
applies them (on real documents), validated with messages that name the bad entry, and given
phrases tokenize without learning anything."""

from __future__ import annotations

import json

import pytest

from corpora.errors import CorpusError
from corpora.loaders import load_lee
from corpora.phrases import check_phrases, join_phrases, learn_phrases
from corpora.tokenize import Tokenizer, TokenizerConfig


@pytest.fixture(scope="module")
def lee_tokens():
    tokenizer = Tokenizer(TokenizerConfig())
    return [tokenizer.tokenize(d.text) for d in load_lee().documents]


def test_joining_the_saved_phrases_is_what_gensims_frozen_phrases_does(lee_tokens):
    from gensim.models.phrases import Phrases

    train, held = lee_tokens[:200], lee_tokens[200:]
    frozen = Phrases(train, min_count=5, threshold=10.0, delimiter="_").freeze()
    phrases = learn_phrases(train, min_count=5, threshold=10.0)
    assert dict(phrases) == frozen.phrasegrams and len(phrases) > 20
    assert [s for _, s in phrases] == sorted((s for _, s in phrases), reverse=True)
    joined = {p for p, _ in phrases}
    n_joined = 0
    for tokens in train + held:
        got = join_phrases(tokens, joined)
        assert got == frozen[tokens]
        n_joined += len(tokens) - len(got)
    assert n_joined > 100  # the comparison covered many joins, on documents not learned from too


def test_pairs_are_joined_greedily_from_the_left():
    phrases = {"a_b", "b_c", "c_d"}
    assert join_phrases(["a", "b", "c", "d"], phrases) == ["a_b", "c_d"]
    assert join_phrases(["b", "c", "d"], phrases) == ["b_c", "d"]
    assert join_phrases(["x", "a", "a", "b"], phrases) == ["x", "a", "a_b"]
    assert join_phrases([], phrases) == [] and join_phrases(["a"], phrases) == ["a"]


def test_given_phrases_tokenize_without_learning_and_their_json_form_is_accepted():
    saved = json.loads(json.dumps([["new_york", 52.5], ["los_angeles", 12]]))
    config = TokenizerConfig(bigrams=True, stopwords="none", phrases=saved)
    assert config.phrases == (("new_york", 52.5), ("los_angeles", 12.0))
    assert Tokenizer(config).tokenize("New York to Los Angeles via York") == [
        "new_york", "to", "los_angeles", "via", "york"
    ]
    # without bigrams the phrases are kept but not applied
    assert Tokenizer(TokenizerConfig(stopwords="none", phrases=saved)).tokenize("new york") == ["new", "york"]
    # none learned yet and none given: told, not learned from the text at hand
    with pytest.raises(CorpusError, match="call fit_phrases first .or give the saved ones"):
        Tokenizer(TokenizerConfig(bigrams=True)).tokenize("new york")


def test_fit_phrases_puts_the_learned_phrases_in_the_config(lee_tokens):
    texts = [d.text for d in load_lee().documents[:200]]
    fitted = Tokenizer(TokenizerConfig(bigrams=True)).fit_phrases(texts)
    assert fitted.config.phrases == learn_phrases(lee_tokens[:200], min_count=5, threshold=10.0)
    again = Tokenizer(fitted.config)  # from the config alone, as a saved corpus's options give it
    assert all(again.tokenize(t) == fitted.tokenize(t) for t in texts[:50])


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("new_york", "phrases must be a list of [phrase, score] pairs such as ['new_york', 52.3], got 'new_york'"),
        (5, "phrases must be a list of [phrase, score] pairs such as ['new_york', 52.3], got 5"),
        ([["new_york"]], "phrases must be a list of [phrase, score] pairs such as ['new_york', 52.3]; got ['new_york']"),
        (["new_york"], "got 'new_york'"),
        ([["newyork", 3.0]], "a phrase must be two tokens joined by '_' (such as 'new_york'), got 'newyork'"),
        ([["_york", 3.0]], "got '_york'"),
        ([[7, 3.0]], "got 7"),
        ([["new_york", "high"]], "the score of phrase 'new_york' must be a number, got 'high'"),
        ([["new_york", True]], "the score of phrase 'new_york' must be a number, got True"),
        ([["new_york", float("nan")]], "the score of phrase 'new_york' must be a number, got nan"),
    ],
)
def test_bad_phrases_are_refused_by_name(value, message):
    with pytest.raises(CorpusError) as err:
        TokenizerConfig(bigrams=True, phrases=value)
    assert message in str(err.value)
    assert check_phrases([("a_b", 1)]) == (("a_b", 1.0),)
