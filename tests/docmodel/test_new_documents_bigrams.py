"""``docmodel.new_documents`` and ``docmodel transform`` with a corpus prepared with bigrams: new
documents get the phrases the corpus learned and saved, never phrases learned from themselves, so
the raw test stories of the Lee corpus score as its prepared test split; a corpus that joined
phrases but did not save them (prepared by an older docmodel) is refused with what to do."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from corpora import Document
from corpora.corpus import Dataset
from corpora.errors import CorpusError
from corpora.phrases import learn_phrases
from corpora.prepare import PrepareOptions, prepare
from corpora.tokenize import Tokenizer
from docmodel.cli import main
from docmodel.models.lda.estimator import LDATopicModel
from docmodel.new_documents import score_new_documents, tokenizer_options

N_UNITS = 4


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The Lee stories prepared with bigrams (saved and loaded back) and an LDA trained on them."""
    root = tmp_path_factory.mktemp("bigrams")
    prepare("lee", options=PrepareOptions(bigrams=True, test_fraction=0.2)).save(root / "corpus")
    data = Dataset.load(root / "corpus")
    model = LDATopicModel(N_UNITS, max_iter=10, random_state=0).fit(data.train.X, vocabulary=data.vocabulary)
    model.save(root / "model")
    return root, data, model


def phrase_counts(corpus) -> int:
    columns = [j for j, w in enumerate(corpus.vocabulary.words) if "_" in w]
    return int(corpus.X[:, columns].sum())


def test_raw_test_stories_score_as_the_prepared_test_split(trained):
    _, data, model = trained
    test = data.test
    assert phrase_counts(test) > 100  # the split holds many joined pairs
    raw = [Document(i, t) for i, t in zip(test.doc_ids, test.texts)]
    scored = score_new_documents(model, raw, options=data.info["options"])
    assert scored.corpus.doc_ids == test.doc_ids and scored.n_left_out == 0
    assert (scored.corpus.X != test.X).nnz == 0
    assert scored.options["phrases"] == data.info["options"]["phrases"]
    np.testing.assert_allclose(scored.table[[f"topic_{k}" for k in range(N_UNITS)]].to_numpy(),
                               model.transform(test.X))
    # The check can fail: phrases learned from these stories, as new documents got them before
    # the corpus saved its own, give other counts.
    relearned = prepare(raw, vocabulary=data.vocabulary,
                        options=PrepareOptions(bigrams=True, test_fraction=0.0)).train
    assert relearned.n_docs != test.n_docs or (relearned.X != test.X).nnz > 0


def test_transform_with_the_corpus_reproduces_the_test_split(trained, capsys):
    root, data, model = trained
    test = data.test
    pd.DataFrame({"id": list(test.doc_ids), "text": list(test.texts)}).to_csv(root / "test.csv", index=False)
    out = root / "scored.csv"
    code = main(["transform", str(root / "model"), str(root / "test.csv"), "-o", str(out), "--corpus",
                 str(root / "corpus"), "--text-column", "text", "--id-column", "id"])
    said = capsys.readouterr()
    assert code == 0, said.err
    table = pd.read_csv(out, dtype={"doc_id": str})
    assert list(table["doc_id"]) == list(test.doc_ids)
    assert list(table["n_tokens"]) == test.doc_lengths.tolist()
    split = data.info["splits"]["test"]
    assert f"{split['n_tokens']:,} tokens in the model's vocabulary" in said.out
    np.testing.assert_allclose(table[[f"topic_{k}" for k in range(N_UNITS)]].to_numpy(),
                               model.transform(test.X), rtol=1e-6)


def test_a_pair_the_corpus_did_not_learn_stays_two_words(trained):
    _, data, model = trained
    saved = {p for p, _ in data.info["options"]["phrases"]}
    assert "asylum_seekers" in saved and "police_officers" not in saved
    filler = [" ".join("z" + "".join(chr(97 + (9 * k + j) // 26 ** n % 26) for n in range(3)) for j in range(9))
              for k in range(60)]
    texts = [f"police officers asylum seekers {f}" for f in filler]
    # learned from these documents alone, "police officers" would be a phrase
    tokenizer = Tokenizer(tokenizer_options({**data.info["options"], "bigrams": False}))
    learned = {p for p, _ in learn_phrases([tokenizer.tokenize(t) for t in texts], min_count=5, threshold=10.0)}
    assert "police_officers" in learned
    scored = score_new_documents(model, [Document(f"n{k}", t) for k, t in enumerate(texts)],
                                 options=data.info["options"])
    counts = dict(zip(data.vocabulary.words, np.asarray(scored.corpus.X.sum(axis=0)).ravel().tolist()))
    assert (counts["police"], counts["officers"], counts["asylum_seekers"]) == (60, 60, 60)
    assert counts.get("asylum", 0) == counts.get("seekers", 0) == 0


OLD_CORPUS = ("the model's corpus was prepared with bigrams, but the phrases it learned were not saved with it "
              "(it was prepared by an older docmodel), so new documents cannot be tokenized as it was; prepare "
              "the corpus again with the same source and options (it then saves its phrases)")


def test_a_bigram_corpus_without_saved_phrases_is_refused_not_relearned(trained):
    _, data, model = trained
    old = {k: v for k, v in data.info["options"].items() if k != "phrases"}
    with pytest.raises(CorpusError) as err:
        score_new_documents(model, [Document("a", "asylum seekers")], options=old)
    assert str(err.value).startswith(OLD_CORPUS)
    with pytest.raises(CorpusError, match="were not saved"):
        tokenizer_options({**old, "phrases": None})
    assert tokenizer_options({**old, "bigrams": False}).phrases is None  # no bigrams: nothing to save


def test_transform_with_an_old_bigram_corpus_says_what_to_do(trained, tmp_path, capsys):
    root, _, _ = trained
    corpus = shutil.copytree(root / "corpus", tmp_path / "old")
    meta = json.loads((corpus / "meta.json").read_text(encoding="utf-8"))
    del meta["info"]["options"]["phrases"]  # as corpora prepared before phrases were saved
    (corpus / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    (tmp_path / "new.txt").write_text("asylum seekers reached the coast\n", encoding="utf-8")
    out = tmp_path / "o.csv"
    code = main(["transform", str(root / "model"), str(tmp_path / "new.txt"), "-o", str(out), "--corpus", str(corpus)])
    err = capsys.readouterr().err
    assert code == 2 and not out.exists()
    assert err.startswith(f"docmodel transform: error: {OLD_CORPUS}") and "Traceback" not in err
