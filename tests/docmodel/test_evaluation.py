"""The shared evaluation: perplexity definitions on hand-computed values, the document-completion
split, and evaluate() on a model whose estimates are known in closed form (one-topic LDA)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from docmodel.errors import ModelError
from docmodel.evaluation import (
    evaluate,
    perplexity,
    perplexity_from_log_likelihood,
    split_for_completion,
)
from docmodel.models.lda.estimator import LDATopicModel


def random_counts(seed, n_docs=60, n_words=25):
    rng = np.random.default_rng(seed)
    dense = rng.poisson(0.4, size=(n_docs, n_words))
    dense[:3] = 0  # empty documents
    dense[3, :] = 0
    dense[3, 5] = 1  # a one-token document
    return sp.csr_matrix(dense)


# ---- perplexity definitions ----------------------------------------------------------------------
def test_per_document_and_per_word_perplexity_by_hand():
    log_p = np.array([-10.0, -30.0])
    lengths = np.array([5, 10])
    # Per document: exp(-mean(-10/5, -30/10)) = exp(2.5); per word: exp(40/15).
    assert perplexity_from_log_likelihood(log_p, lengths, "document") == pytest.approx(math.exp(2.5))
    assert perplexity_from_log_likelihood(log_p, lengths, "word") == pytest.approx(math.exp(40 / 15))
    # Equal lengths make the two definitions agree.
    same = np.array([7, 7])
    assert perplexity_from_log_likelihood(log_p, same, "document") == pytest.approx(
        perplexity_from_log_likelihood(log_p, same, "word")
    )


@pytest.mark.parametrize(
    ("log_p", "lengths", "per", "message"),
    [
        ([-1.0], [1, 2], "document", "one log-likelihood and one length per document"),
        ([], [], "document", "at least one document"),
        ([-1.0, -2.0], [1, 0], "document", "every scored document needs at least one token"),
        ([-1.0], [1], "token", "per must be 'document' or 'word', got 'token'"),
    ],
)
def test_perplexity_from_log_likelihood_errors(log_p, lengths, per, message):
    with pytest.raises(ModelError, match=message):
        perplexity_from_log_likelihood(np.array(log_p), np.array(lengths), per)


# ---- document completion split --------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_split_assigns_every_token_once(seed):
    X = random_counts(seed)
    X_obs, X_held, kept = split_for_completion(X, random_state=seed)
    lengths = np.asarray(X.sum(axis=1)).ravel()
    np.testing.assert_array_equal(kept, np.flatnonzero(lengths >= 2))
    assert X_obs.shape == X_held.shape == (len(kept), X.shape[1])
    # The halves add up to the documents, word by word.
    np.testing.assert_array_equal((X_obs + X_held).toarray(), X[kept].toarray())
    assert X_obs.min() >= 0 and X_held.min() >= 0
    L = lengths[kept].astype(int)
    np.testing.assert_array_equal(np.asarray(X_obs.sum(axis=1)).ravel(), L // 2)
    np.testing.assert_array_equal(np.asarray(X_held.sum(axis=1)).ravel(), L - L // 2)


def test_split_is_deterministic_by_seed():
    X = random_counts(5, n_docs=40)
    a = split_for_completion(X, random_state=11)
    b = split_for_completion(X, random_state=11)
    c = split_for_completion(X, random_state=12)
    for left, right in zip(a[:2], b[:2]):
        np.testing.assert_array_equal(left.toarray(), right.toarray())
    assert (a[0] != c[0]).nnz > 0


def test_a_documents_split_depends_only_on_it_and_the_seed():
    """Alone, among others, in another order or stored otherwise (unsorted, duplicate entries):
    the same halves; the same document twice: the same halves."""
    X = random_counts(6, n_docs=34)[4:]  # (without its empty and one-token documents)
    obs, held, kept = split_for_completion(X, random_state=4)
    assert len(kept) == 30
    perm = np.random.default_rng(0).permutation(30)
    p_obs, p_held, _ = split_for_completion(X[perm], random_state=4)
    np.testing.assert_array_equal(p_obs.toarray(), obs.toarray()[perm])
    np.testing.assert_array_equal(p_held.toarray(), held.toarray()[perm])
    for i in (0, 17):
        a_obs, a_held, _ = split_for_completion(X[i], random_state=4)
        np.testing.assert_array_equal(a_obs.toarray()[0], obs.toarray()[i])
        np.testing.assert_array_equal(a_held.toarray()[0], held.toarray()[i])
    row = X[3].tocoo()
    messy = sp.csr_matrix((np.r_[row.data[::-1], 0.0], (np.zeros(row.nnz + 1, int), np.r_[row.col[::-1], 0])),
                          shape=(1, X.shape[1]))
    twice = sp.vstack([messy, X[3]]).tocsr()
    t_obs, _, _ = split_for_completion(twice, random_state=4)
    np.testing.assert_array_equal(t_obs.toarray(), obs.toarray()[[3, 3]])


def test_split_drops_documents_with_fewer_than_two_tokens():
    X = sp.csr_matrix(np.array([[0, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 3]]))
    X_obs, X_held, kept = split_for_completion(X)
    np.testing.assert_array_equal(kept, [2, 3])
    np.testing.assert_array_equal(X_obs.sum(axis=1).A1, [1, 1])
    np.testing.assert_array_equal(X_held.sum(axis=1).A1, [1, 2])
    np.testing.assert_array_equal(X_obs.toarray()[1], [0, 0, 1])
    np.testing.assert_array_equal(X_held.toarray()[1], [0, 0, 2])


# ---- evaluate() --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def one_topic():
    """A one-topic LDA: every estimate equals sum_w x_w log beta_w exactly."""
    X = random_counts(7, n_docs=80)
    model = LDATopicModel(1, max_iter=3).fit(X)
    return X, model, np.log(model.unit_word()[0])


def test_evaluate_returns_every_figure(one_topic):
    X, model, log_beta = one_topic
    result = evaluate(model, X, n_samples=5, per_document=True)
    expected_keys = {
        "perplexity_bound", "perplexity_is", "perplexity_completion",
        "perplexity_bound_per_word", "perplexity_is_per_word", "perplexity_completion_per_word",
        "elbo_per_doc", "n_docs", "n_tokens", "n_docs_completion", "n_samples_is", "n_samples_bound",
        "doc_index", "log_p_bound", "log_p_is", "doc_perplexity_bound", "exact",
    }
    assert expected_keys <= set(result)
    assert result["exact"] is False  # LDA's figures are a bound and estimates, even where they coincide
    lengths = np.asarray(X.sum(axis=1)).ravel()
    kept = np.flatnonzero(lengths > 0)
    exact = X[kept] @ log_beta
    assert result["n_docs"] == len(kept) and result["n_tokens"] == int(lengths.sum())
    np.testing.assert_array_equal(result["doc_index"], kept)
    np.testing.assert_allclose(result["log_p_bound"], exact, rtol=1e-12)
    np.testing.assert_allclose(result["log_p_is"], exact, rtol=1e-12)
    assert result["perplexity_bound"] == pytest.approx(math.exp(-np.mean(exact / lengths[kept])), rel=1e-12)
    assert result["perplexity_is_per_word"] == pytest.approx(math.exp(-exact.sum() / lengths.sum()), rel=1e-12)
    assert result["elbo_per_doc"] == pytest.approx(exact.mean(), rel=1e-12)
    np.testing.assert_allclose(result["doc_perplexity_bound"], np.exp(-exact / lengths[kept]), rtol=1e-12)
    X_obs, X_held, kept_c = split_for_completion(X, random_state=0)
    held = X_held @ log_beta
    held_lengths = np.asarray(X_held.sum(axis=1)).ravel()
    assert result["n_docs_completion"] == len(kept_c)
    assert result["perplexity_completion"] == pytest.approx(math.exp(-np.mean(held / held_lengths)), rel=1e-12)


def test_perplexity_helpers_agree_with_evaluate(one_topic):
    X, model, _ = one_topic
    result = evaluate(model, X, n_samples=5)
    assert model.perplexity(X) == pytest.approx(result["perplexity_bound"], rel=1e-12)
    assert perplexity(model, X, estimator="completion", per="word", n_samples=5) == pytest.approx(
        result["perplexity_completion_per_word"], rel=1e-12
    )
    # evaluate() leaves out empty documents; score() averages over the documents it is given.
    non_empty = X[np.flatnonzero(X.sum(axis=1).A1 > 0)]
    assert model.score(non_empty) == pytest.approx(result["elbo_per_doc"], rel=1e-12)


def test_unknown_estimator_is_named(one_topic):
    X, model, _ = one_topic
    with pytest.raises(ModelError, match="estimator must be one of bound, is, completion; got 'exact'"):
        perplexity(model, X, estimator="exact")


def test_evaluate_rejects_documents_of_another_vocabulary(one_topic):
    X, model, _ = one_topic
    with pytest.raises(ModelError, match="documents have 24 word columns but the model was trained on 25"):
        evaluate(model, X[:, :24])
