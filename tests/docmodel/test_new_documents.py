"""``docmodel.new_documents``: new documents scored with a model's own vocabulary, tokenized as its
corpus was, with the documents left out counted by why (``docmodel transform`` and the app's
Score page both use it)."""

from __future__ import annotations

import numpy as np
import pytest

from corpora import Document
from corpora.errors import NoDocumentsLeft
from corpora.prepare import PrepareOptions, prepare
from docmodel.errors import ModelError
from docmodel.models.lda.estimator import LDATopicModel
from docmodel.new_documents import score_new_documents, tokenizer_options

THEMES = ["orbit rockets launch nasa moon shuttle", "team games season players goal hockey"]


@pytest.fixture(scope="module")
def stemmed():
    """An LDA on a corpus prepared with stemming and an extra stop word."""
    rng = np.random.default_rng(0)
    docs = [Document(f"d{i}", " ".join(rng.choice(THEMES[i % 2].split(), 10))) for i in range(40)]
    options = PrepareOptions(test_fraction=0.0, min_df=1, stem=True, extra_stopwords=("nasa",))
    data = prepare(docs, options=options)
    model = LDATopicModel(2, max_iter=20, random_state=0).fit(data.train.X, vocabulary=data.vocabulary)
    return model, data.info["options"]


def test_documents_are_tokenized_as_the_corpus_was_and_left_out_by_why(stemmed):
    model, saved = stemmed
    docs = [Document("a", "Rocket launches, NASA zebra"), Document("b", "the and of"), Document("c", "zebra"),
            Document("d", "hockey players")]
    scored = score_new_documents(model, docs, options=saved, top=5)
    assert list(scored.table["doc_id"]) == ["a", "d"] and list(scored.corpus.doc_ids) == ["a", "d"]
    # stemmed as the corpus was: "launches" is "launch", "rocket" is "rocket"; "nasa" is a stop word
    assert list(scored.table["n_tokens"]) == [2, 2] and scored.n_tokens == 4
    assert scored.n_tokens_outside_vocabulary == 2  # zebra twice
    assert (scored.n_no_tokens, scored.n_no_vocabulary_word, scored.n_left_out) == (1, 1, 2)
    assert scored.options["stem"] and scored.table["top_units"][0].count(" | ") == 1  # top clipped to 2 units
    np.testing.assert_allclose(scored.table[["topic_0", "topic_1"]].to_numpy(), model.transform(scored.corpus.X))
    assert scored.corpus.texts[0] == "Rocket launches, NASA zebra"


def test_without_the_corpus_settings_prepares_defaults_apply(stemmed):
    model, _ = stemmed
    assert tokenizer_options(None) == PrepareOptions(test_fraction=0.0, min_doc_tokens=1)
    scored = score_new_documents(model, [Document("a", "launches nasa rocket")])
    assert scored.n_tokens == 1 and scored.n_tokens_outside_vocabulary == 2  # rocket; no stemming, nasa kept


def test_no_word_of_the_vocabulary_a_bare_model_and_a_bad_top_are_told(stemmed):
    model, saved = stemmed
    with pytest.raises(NoDocumentsLeft, match="no document of the documents has a word of the model's vocabulary") as err:
        score_new_documents(model, [Document("a", "zebra quasar")], options=saved)
    assert err.value.reason == "filtered"
    with pytest.raises(ModelError, match="top must be at least 1, got 0"):
        score_new_documents(model, [Document("a", "rocket")], top=0)
    bare = LDATopicModel(2, max_iter=2).fit(np.random.default_rng(0).poisson(1.0, (20, 6)))
    with pytest.raises(ModelError, match="model x holds no vocabulary"):
        score_new_documents(bare, [Document("a", "rocket")], name="model x")
