"""``docmodel.new_documents``: new documents follow the shortest-document rule of the model's
corpus (so that its raw test posts are scored as its prepared test split), and documents left
without enough words are told in the scorer's own words, not prepare's (issue 16)."""

from __future__ import annotations

import numpy as np
import pytest

from corpora import Document
from corpora.errors import NoDocumentsLeft
from corpora.prepare import PrepareOptions, prepare
from docmodel.models.lda.estimator import LDATopicModel
from docmodel.new_documents import score_new_documents, tokenizer_options

THEMES = ["orbit rocket launch moon shuttle planet", "team game season player goal hockey"]


@pytest.fixture(scope="module")
def fitted():
    """An LDA on a corpus that kept documents of 3 tokens or more."""
    rng = np.random.default_rng(0)
    docs = [Document(f"d{i}", " ".join(rng.choice(THEMES[i % 2].split(), 8))) for i in range(30)]
    data = prepare(docs, options=PrepareOptions(test_fraction=0.0, min_df=1, min_doc_tokens=3))
    model = LDATopicModel(2, max_iter=10, random_state=0).fit(data.train.X, vocabulary=data.vocabulary)
    return model, data.info["options"]


def test_the_corpus_shortest_document_rule_applies_but_not_its_vocabulary_filters(fitted):
    _, saved = fitted
    options = tokenizer_options(saved)
    assert (options.min_doc_tokens, options.test_fraction, options.min_df) == (3, 0.0, PrepareOptions().min_df)
    assert tokenizer_options(None).min_doc_tokens == 1


def test_documents_shorter_than_the_corpus_kept_are_left_out_and_counted(fitted):
    model, saved = fitted
    docs = [Document("a", "orbit rocket moon"), Document("b", "team goal"), Document("c", "the")]
    scored = score_new_documents(model, docs, options=saved)
    assert list(scored.table["doc_id"]) == ["a"] and (scored.n_no_tokens, scored.n_no_vocabulary_word) == (2, 0)
    assert list(score_new_documents(model, docs).table["doc_id"]) == ["a", "b"]  # prepare's defaults: 1 token


@pytest.mark.parametrize(("with_corpus", "words"), [
    (False, "a word once tokenized: they are empty or hold only stop words, numbers or punctuation"),
    (True, "3 words once tokenized, the fewest the model's corpus kept (stop words, numbers and punctuation do "
           "not count)"),
])
def test_no_document_with_enough_words_is_told_without_prepares_flags(fitted, with_corpus, words):
    model, saved = fitted
    docs = [Document("a", "the and of"), Document("b", "")] + ([Document("c", "team goal")] if with_corpus else [])
    with pytest.raises(NoDocumentsLeft) as err:
        score_new_documents(model, docs, options=saved if with_corpus else None)
    assert err.value.reason == "too_short"
    assert str(err.value) == f"no document of the documents has {words}"
