"""One ranking rule for the top words of every model kind (docmodel.topwords)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from corpora.vocabulary import Vocabulary
from docmodel.checkpoint import load_model
from docmodel.errors import ModelError
from docmodel.models.lda.estimator import LDATopicModel
from docmodel.models.sbn.estimator import SBNTopicModel
from docmodel.topwords import DEFAULT_RELEVANCE, relevance, top_word_ids


def test_relevance_formula_and_its_ends():
    P = np.array([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]])
    p = np.array([0.6, 0.1, 0.3])
    lam = 0.6
    expected = lam * np.log(P) + (1 - lam) * np.log(P / p)
    np.testing.assert_allclose(relevance(P, p, lam), expected)
    # lambda = 1: by probability; lambda = 0: by lift p(w|k) / p(w).
    assert np.argmax(relevance(P, p, 1.0)[0]) == 0
    assert np.argmax(relevance(P, p, 0.0)[0]) == 1
    for bad in (-0.1, 1.5, "x"):
        with pytest.raises(ModelError, match="lambda"):
            relevance(P, p, bad)
    with pytest.raises(ModelError, match="shape"):
        relevance(P, p[:2], 0.5)


def planted(n_docs=240, seed=0):
    """Three themes of 6 words each over a background of 6 frequent words."""
    rng = np.random.default_rng(seed)
    X = np.zeros((n_docs, 24))
    X[:, 18:] = rng.poisson(3.0, (n_docs, 6))
    for d in range(n_docs):
        k = d % 3
        X[d, 6 * k : 6 * k + 6] += rng.poisson(2.0, 6)
    return sp.csr_matrix(X), Vocabulary(tuple(f"w{j}" for j in range(24)))


@pytest.fixture(scope="module")
def fitted():
    X, vocab = planted()
    # More units than themes, as a user would ask for: with four units the defaults' sparse prior
    # (units on in about 8% of documents a priori, each theme here in a third) left a theme split
    # between two units that also add the background words on seeds 0, 1 and 4 of 0-4; with six
    # units, seeds 0-4 all show the three themes.
    sbn = SBNTopicModel(n_units=6, max_epochs=100, random_state=0).fit(X, vocabulary=vocab)
    lda = LDATopicModel(4, max_iter=30, random_state=0).fit(X, vocabulary=vocab)  # one topic: the background
    return X, sbn, lda


@pytest.mark.parametrize("which", [1, 2])
def test_every_model_kind_ranks_by_the_same_rule(fitted, which):
    X, *models = fitted
    model = models[which - 1]
    scores = relevance(model.word_distributions(), model.word_frequencies(), DEFAULT_RELEVANCE)
    expected = np.argsort(-scores, axis=1, kind="stable")[:, :5]
    np.testing.assert_array_equal(model.top_word_ids(5), expected)
    np.testing.assert_array_equal(top_word_ids(model, 5), expected)
    assert model.top_words(5) == [[f"w{j}" for j in row] for row in expected]
    # lambda = 1 is the most probable words of p(w | unit).
    by_probability = np.argsort(-model.word_distributions(), axis=1, kind="stable")[:, :5]
    np.testing.assert_array_equal(model.top_word_ids(5, relevance=1.0), by_probability)
    np.testing.assert_allclose(model.word_distributions().sum(axis=1), 1.0)
    freq = np.asarray(X.sum(axis=0)).ravel() + 0.5
    np.testing.assert_allclose(model.word_frequencies(), freq / freq.sum())


@pytest.mark.parametrize("which", [1, 2])
def test_top_words_show_the_planted_themes_not_the_background(fitted, which):
    _, *models = fitted
    model = models[which - 1]
    # A unit shows a theme when at least 3 of its 4 top words belong to it.
    shown = set()
    for row in model.top_word_ids(4):
        counts = np.bincount(np.asarray(row) // 6, minlength=4)
        if counts[:3].max() >= 3:
            shown.add(int(counts[:3].argmax()))
    assert shown == {0, 1, 2}


@pytest.mark.parametrize("which", [1, 2])
def test_the_rule_survives_a_checkpoint(fitted, tmp_path, which):
    _, *models = fitted
    model = models[which - 1]
    model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    np.testing.assert_allclose(loaded.word_distributions(), model.word_distributions(), rtol=1e-6)
    np.testing.assert_allclose(loaded.word_frequencies(), model.word_frequencies())
    assert loaded.top_words(6) == model.top_words(6)
    if which == 1:
        np.testing.assert_allclose(loaded.unit_on_share_, model.unit_on_share_)


def test_topics_cli_rule_header_shares_and_errors(fitted, tmp_path, capsys):
    from docmodel.cli import main

    _, sbn, _ = fitted
    sbn.save(tmp_path / "sbn")
    capsys.readouterr()
    assert main(["topics", str(tmp_path / "sbn"), "--top", "4", "--relevance", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "# top words ranked by relevance, lambda log p(w|unit) + (1 - lambda) log(p(w|unit) / p(w)), lambda = 1"
    assert [line.split(None, 1)[1].split("  (on in")[0].split() for line in lines[1:]] == sbn.top_words(4, relevance=1.0)
    assert all("% of training documents)" in line for line in lines[1:])
    assert main(["topics", str(tmp_path / "sbn"), "--relevance", "2"]) == 2
    assert "relevance lambda must be in [0, 1], got 2.0" in capsys.readouterr().err
    assert main(["topics", str(tmp_path / "sbn"), "--top", "0"]) == 2
    assert "--top must be at least 1, got 0" in capsys.readouterr().err
