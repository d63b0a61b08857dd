"""``docmodel transform``: new documents scored with a trained model's own vocabulary, in the
three table formats, with words outside the vocabulary counted and wordless documents reported."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from corpora.prepare import PrepareOptions, prepare
from docmodel.cli import main
from docmodel.models.lda.estimator import LDATopicModel

THEMES = ["orbit rocket launch nasa moon shuttle", "team game season players goal hockey"]


def texts(n, seed=0):
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(THEMES[i % 2].split(), 10)) for i in range(n)]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("transform")
    pd.DataFrame({"text": texts(40)}).to_csv(folder / "train.csv", index=False)
    data = prepare(str(folder / "train.csv"), options=PrepareOptions(test_fraction=0.0, min_df=1))
    model = LDATopicModel(2, max_iter=20, random_state=0).fit(data.train.X, vocabulary=data.vocabulary)
    model.save(folder / "model")
    return folder


def test_new_documents_get_the_models_representation_perplexity_and_top_units(model_dir, capsys):
    new = ["nasa rocket launch zebra zebra", "hockey team goal unicorn", "zebra unicorn"]
    pd.DataFrame({"body": new, "name": ["a", "b", "c"]}).to_csv(model_dir / "new.csv", index=False)
    out = model_dir / "scored.csv"
    code = main(["transform", str(model_dir / "model"), str(model_dir / "new.csv"), "-o", str(out),
                 "--text-column", "body", "--id-column", "name", "--top", "2"])
    assert code == 0
    said = capsys.readouterr().out
    assert "2 documents scored" in said and "6 tokens in the model's vocabulary, 5 outside it" in said
    assert "1 document left out" in said  # "zebra unicorn": no word of the vocabulary
    table = pd.read_csv(out)
    assert list(table["doc_id"]) == ["a", "b"] and list(table["n_tokens"]) == [3, 3]
    model = LDATopicModel.load(model_dir / "model")
    expected = prepare(str(model_dir / "new.csv"), vocabulary=model.vocabulary_, text_column="body",
                       id_column="name", options=PrepareOptions(test_fraction=0.0)).train
    np.testing.assert_allclose(table[["topic_0", "topic_1"]].to_numpy(), model.transform(expected.X), rtol=1e-6)
    bound = model.log_likelihood_bound(expected.X)
    np.testing.assert_allclose(table["perplexity_bound"], np.exp(-bound / expected.doc_lengths), rtol=1e-6)
    first = int(np.argmax(model.transform(expected.X)[0]))
    assert table["top_units"][0].startswith(f"{first} · ") and table["top_units"][0].count(" | ") == 1


@pytest.mark.parametrize("suffix", ["jsonl", "parquet"])
def test_the_other_formats_hold_the_same_rows(model_dir, suffix):
    (model_dir / "new.txt").write_text("nasa moon orbit\nplayers season game\n", encoding="utf-8")
    out = model_dir / f"scored.{suffix}"
    assert main(["transform", str(model_dir / "model"), str(model_dir / "new.txt"), "-o", str(out)]) == 0
    table = pd.read_parquet(out) if suffix == "parquet" else pd.read_json(out, lines=True)
    assert len(table) == 2 and {"doc_id", "perplexity_bound", "top_units", "topic_0"} <= set(table.columns)
    if suffix == "jsonl":
        assert json.loads(out.read_text().splitlines()[0])["n_tokens"] == 3


def test_documents_without_a_word_of_the_vocabulary_get_a_transform_message(model_dir, capsys):
    (model_dir / "none.txt").write_text("zebra unicorn\nquasar\n", encoding="utf-8")
    code = main(["transform", str(model_dir / "model"), str(model_dir / "none.txt"), "-o", str(model_dir / "n.csv")])
    assert code == 2
    err = capsys.readouterr().err
    assert "no document of" in err and "model's vocabulary" in err and "--token-pattern" not in err


def test_a_model_without_vocabulary_is_refused_with_a_clear_message(tmp_path, capsys):
    X = np.random.default_rng(0).poisson(1.0, (30, 6))
    LDATopicModel(2, max_iter=2).fit(X).save(tmp_path / "bare")
    (tmp_path / "new.txt").write_text("some words\n", encoding="utf-8")
    code = main(["transform", str(tmp_path / "bare"), str(tmp_path / "new.txt"), "-o", str(tmp_path / "o.csv")])
    assert code == 2
    err = capsys.readouterr().err
    assert "holds no vocabulary" in err and "Traceback" not in err
    assert not (tmp_path / "o.csv").exists()
