"""MixtureTopicModel: EM that never lowers its MAP objective, exact likelihoods checked against
an independent formula and against enumeration of every word sequence on a tiny vocabulary, and
the estimator contract (checkpoints, seeding, stopping, errors)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from scipy.special import logsumexp
from scipy.stats import dirichlet

from docmodel.checkpoint import load_checkpoint
from docmodel.errors import ModelError, NotFittedError
from docmodel.evaluation import evaluate, split_for_completion
from docmodel.models.mixture import KIND
from docmodel.models.mixture.estimator import MixtureTopicModel


def planted_corpus(rng, n_docs=150, n_blocks=3, block=10, lengths=(20, 40)):
    """Documents drawn from a mixture whose components each favour a block of words of their
    own (a little probability is left on every word); returns counts, labels and beta."""
    n_words = n_blocks * block
    beta = np.full((n_blocks, n_words), 0.05 / n_words)
    for k in range(n_blocks):
        beta[k, k * block:(k + 1) * block] += rng.dirichlet(np.full(block, 2.0)) * 0.95
    labels = rng.integers(n_blocks, size=n_docs)
    sizes = rng.integers(*lengths, size=n_docs)
    X = np.array([rng.multinomial(n, beta[k]) for n, k in zip(sizes, labels)])
    return sp.csr_matrix(X), labels, beta


def model_from_arrays(weights, beta):
    """A fitted model with exactly these mixing weights and word distributions (through the
    checkpoint path)."""
    weights, beta = np.asarray(weights, dtype=np.float64), np.asarray(beta, dtype=np.float64)
    data = {
        "kind": "mixture",
        "config": {"params": {"n_units": len(weights)}},
        "state": {
            "mixing_weights": torch.from_numpy(weights),
            "beta": torch.from_numpy(beta),
            "word_frequencies": torch.full((beta.shape[1],), 1.0 / beta.shape[1], dtype=torch.float64),
        },
        "vocabulary": None,
        "metrics": {},
        "history": [],
    }
    return MixtureTopicModel.from_checkpoint(data)


def reference_log_p(X, weights, beta):
    """log sum_k pi_k prod_w beta_kw^x_w in float64, from dense counts."""
    X = np.asarray(sp.csr_matrix(X).toarray(), dtype=np.float64)
    return logsumexp(np.log(weights)[None, :] + X @ np.log(beta).T, axis=1)


@pytest.fixture(scope="module")
def planted():
    X, labels, beta = planted_corpus(np.random.default_rng(0))
    X_val = planted_corpus(np.random.default_rng(1), n_docs=40)[0]
    vocabulary = [f"w{j}" for j in range(X.shape[1])]
    model = MixtureTopicModel(3, max_epochs=30, patience=None, random_state=0).fit(
        X, vocabulary=vocabulary, X_val=X_val
    )
    return X, X_val, labels, model


# ---- EM ----------------------------------------------------------------------------------------
def test_map_objective_never_decreases_and_is_the_log_posterior(planted):
    X, _, _, model = planted
    objective = np.array([h["map_objective"] for h in model.history_])
    assert len(objective) == 30
    steps = np.diff(objective)
    assert np.all(steps >= -1e-10 * np.abs(objective[1:])), steps.min()
    assert objective[-1] > objective[0]
    # The fitted parameters are the best validation step's; recompute that step's objective
    # independently: exact log-likelihood of the training documents plus the Dirichlet log
    # densities of every beta_k and of pi (concentrations 1 + the pseudo-counts).
    weights, beta = model.mixing_weights_, model.beta_
    expected = reference_log_p(X, weights, beta).sum()
    expected += sum(dirichlet.logpdf(b, np.full(beta.shape[1], 1.0 + model.word_prior)) for b in beta)
    expected += dirichlet.logpdf(weights, np.full(len(weights), 1.0 + model.mixing_prior))
    best = model.history_[model.best_epoch_ - 1]
    assert best["map_objective"] == pytest.approx(expected, rel=1e-12)
    assert best["train_log_likelihood"] == pytest.approx(reference_log_p(X, weights, beta).sum(), rel=1e-12)


def test_objective_never_decreases_with_empty_components_kept():
    # Twelve components for two planted clusters: most components lose their documents. They
    # are kept with the prior's mode (uniform words, weight mixing_prior / (N + K mixing_prior)).
    X, _, _ = planted_corpus(np.random.default_rng(3), n_docs=40, n_blocks=2)
    for mixing_prior in (1.0, 0.0):
        model = MixtureTopicModel(12, max_epochs=40, patience=None, mixing_prior=mixing_prior).fit(X, X_val=X[:5])
        objective = np.array([h["map_objective"] for h in model.history_])
        assert np.all(np.diff(objective) >= -1e-10 * np.abs(objective[1:]))
        assert model.history_[-1]["empty_components"] >= 6
        assert np.all(np.isfinite(model.log_likelihood_bound(X)))
    docs = model.mixing_weights_ * X.shape[0]  # mixing_prior 0: weights are the documents' shares
    empty = docs < 1e-6
    np.testing.assert_allclose(model.beta_[empty], 1.0 / X.shape[1], rtol=1e-4)


def test_fit_recovers_planted_components_and_lowers_validation_perplexity(planted):
    X, X_val, labels, model = planted
    curve = [h["val_perplexity_bound"] for h in model.history_]
    assert model.best_val_perplexity_bound_ == min(curve) < curve[0]
    # Far below a single unigram distribution fitted to the same training documents.
    unigram = np.asarray(X.sum(axis=0)).ravel() + 1.0
    lengths = np.asarray(X_val.sum(axis=1)).ravel()
    unigram_perplexity = np.exp(-np.mean((X_val @ np.log(unigram / unigram.sum())) / lengths))
    assert model.best_val_perplexity_bound_ < 0.6 * unigram_perplexity
    # Every document goes to the component of its planted cluster (up to renaming).
    assigned = model.transform(X).argmax(axis=1)
    assert sorted(set(zip(labels.tolist(), assigned.tolist()))) == sorted(
        {(k, int(np.bincount(assigned[labels == k]).argmax())) for k in range(3)}
    )
    assert len(set(assigned.tolist())) == 3


# ---- exact likelihoods --------------------------------------------------------------------------
def test_log_p_matches_logsumexp_over_components(planted):
    X, _, _, model = planted
    expected = reference_log_p(X, model.mixing_weights_, model.beta_)
    np.testing.assert_allclose(model.log_likelihood_bound(X), expected, rtol=1e-12)
    np.testing.assert_array_equal(model.log_likelihood_is(X, n_samples=3, random_state=5), model.log_likelihood_bound(X))
    assert model.log_likelihood_bound(X).dtype == np.float64
    assert model.log_likelihood_bound(sp.csr_matrix((2, X.shape[1]))).tolist() == [0.0, 0.0]


def test_probabilities_of_every_sequence_sum_to_one():
    # Three words, four tokens: the 3^4 sequences' probabilities (each sequence scored through its
    # bag of words, without the multinomial coefficient) must add up to one.
    rng = np.random.default_rng(4)
    model = model_from_arrays(rng.dirichlet(np.ones(3)), rng.dirichlet(np.ones(3), size=3))
    sequences = np.array(list(itertools.product(range(3), repeat=4)))
    counts = np.stack([(sequences == w).sum(axis=1) for w in range(3)], axis=1)
    assert counts.shape == (81, 3)
    assert np.exp(model.log_likelihood_bound(counts)).sum() == pytest.approx(1.0, abs=1e-13)
    assert np.exp(model.log_likelihood_is(counts)).sum() == pytest.approx(1.0, abs=1e-13)
    # and with one component the probability factorises over tokens
    single = model_from_arrays([1.0], [[0.2, 0.3, 0.5]])
    np.testing.assert_allclose(single.log_likelihood_bound([[1, 2, 1]]), [np.log(0.2 * 0.3**2 * 0.5)], rtol=1e-14)


def test_completion_is_full_minus_observed(planted):
    X, _, _, model = planted
    X_obs, X_held, kept = split_for_completion(X, random_state=0)
    completion = model.log_likelihood_completion(X_obs, X_held)
    expected = model.log_likelihood_bound(X[kept]) - model.log_likelihood_bound(X_obs)
    np.testing.assert_allclose(completion, expected, rtol=1e-10, atol=1e-10)
    posterior = model.transform(X_obs)
    direct = np.log((posterior * np.exp(X_held @ np.log(model.beta_).T)).sum(axis=1))
    np.testing.assert_allclose(completion, direct, rtol=1e-10)
    empty = sp.csr_matrix((2, X.shape[1]))
    assert model.log_likelihood_completion(X[:2], empty).tolist() == [0.0, 0.0]
    with pytest.raises(ModelError, match="pass the two halves of the same documents"):
        model.log_likelihood_completion(X[:3], X[:4])


def test_evaluate_gives_bound_equal_to_is(planted):
    _, X_val, _, model = planted
    figures = evaluate(model, X_val)
    assert figures["perplexity_bound"] == figures["perplexity_is"]
    assert figures["perplexity_bound_per_word"] == figures["perplexity_is_per_word"]
    assert model.exact_likelihood is True


# ---- representation and words ------------------------------------------------------------------
def test_transform_is_responsibilities(planted):
    X, _, _, model = planted
    resp = model.transform(X)
    assert resp.shape == (X.shape[0], 3) and resp.dtype == np.float64
    assert np.all((resp >= 0) & (resp <= 1))
    np.testing.assert_allclose(resp.sum(axis=1), 1.0, rtol=1e-12)
    joint = np.log(model.mixing_weights_) + X.toarray() @ np.log(model.beta_).T
    np.testing.assert_allclose(resp, np.exp(joint - logsumexp(joint, axis=1, keepdims=True)), rtol=1e-10)
    np.testing.assert_allclose(model.transform(sp.csr_matrix((1, X.shape[1])))[0], model.mixing_weights_)
    assert list(model.get_feature_names_out()) == ["component0", "component1", "component2"]


def test_word_distributions_are_beta(planted):
    _, _, _, model = planted
    words = model.word_distributions()
    assert words.shape == (3, 30) and np.all(words > 0)
    np.testing.assert_allclose(words.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(words, model.unit_word())
    # each component's top words are its planted block
    blocks = sorted(set((np.argsort(-words, axis=1)[:, :3] // 10).tolist()[k][0] for k in range(3)))
    assert blocks == [0, 1, 2]
    assert len(model.top_words(3)) == 3


def test_kind_record_matches_the_estimator():
    assert (KIND.kind, KIND.unit_name, KIND.attribution) == ("mixture", "component", "responsibility")
    assert [v.name for v in KIND.variants] == ["mixture"]
    assert KIND.variants[0].label == "Mixture of multinomials (EM)"
    assert KIND.estimator() is MixtureTopicModel
    assert MixtureTopicModel.active_threshold == KIND.active_threshold == 0.5


# ---- training control --------------------------------------------------------------------------
def test_same_seed_same_model_other_seed_other_model():
    X, _, _ = planted_corpus(np.random.default_rng(5), n_docs=60)
    a = MixtureTopicModel(4, max_epochs=5, random_state=1).fit(X)
    b = MixtureTopicModel(4, max_epochs=5, random_state=1).fit(X)
    c = MixtureTopicModel(4, max_epochs=5, random_state=2).fit(X)
    np.testing.assert_array_equal(a.beta_, b.beta_)
    np.testing.assert_array_equal(a.mixing_weights_, b.mixing_weights_)
    assert not np.allclose(a.beta_, c.beta_)


def test_callback_cancels_and_keeps_the_best(planted):
    X, X_val, _, _ = planted
    seen = []
    model = MixtureTopicModel(3, max_epochs=50, patience=None).fit(
        X, X_val=X_val, callback=lambda m: seen.append(m) or m.get("epoch") == 3
    )
    assert [m["epoch"] for m in seen if "val_perplexity_bound" in m] == [1, 2, 3]
    assert model.stopped_ == "cancelled" and model.n_iter_ == 3
    lengths = np.asarray(X_val.sum(axis=1)).ravel()
    kept = float(np.exp(-np.mean(model.log_likelihood_bound(X_val) / lengths)))
    assert kept == pytest.approx(model.best_val_perplexity_bound_, rel=1e-12)
    assert model.best_val_perplexity_bound_ == min(h["val_perplexity_bound"] for h in model.history_)


def test_time_budget_and_early_stopping():
    X, _, _ = planted_corpus(np.random.default_rng(6), n_docs=60)
    timed = MixtureTopicModel(3, max_seconds=1e-9).fit(X)
    assert timed.n_iter_ == 1 and timed.stopped_ == "time_budget"
    # Twenty components on 54 training documents overfit at once: the held-out bound stops
    # improving and training ends `patience` steps after the best.
    early = MixtureTopicModel(20, max_epochs=200, patience=3).fit(X)
    assert early.stopped_ == "early_stopping" and early.n_iter_ == early.best_epoch_ + 3


# ---- checkpoints -------------------------------------------------------------------------------
def test_save_load_round_trip(planted, tmp_path):
    X, X_val, _, model = planted
    path = model.save(tmp_path / "mix", metrics={"note": 1.5})
    loaded = MixtureTopicModel.load(tmp_path / "mix")
    np.testing.assert_array_equal(loaded.transform(X), model.transform(X))
    np.testing.assert_array_equal(loaded.log_likelihood_bound(X), model.log_likelihood_bound(X))
    X_obs, X_held, _ = split_for_completion(X_val)
    np.testing.assert_array_equal(
        loaded.log_likelihood_completion(X_obs, X_held), model.log_likelihood_completion(X_obs, X_held)
    )
    assert loaded.get_params() == model.get_params()
    assert loaded.vocabulary_ == model.vocabulary_ and loaded.history_ == model.history_
    assert (loaded.stopped_, loaded.best_epoch_, loaded.n_iter_) == (model.stopped_, model.best_epoch_, 30)
    assert loaded.best_val_perplexity_bound_ == model.best_val_perplexity_bound_
    np.testing.assert_array_equal(loaded.word_frequencies(), model.word_frequencies())
    data = load_checkpoint(path, kind="mixture")
    assert data["metrics"]["note"] == 1.5 and data["config"]["params"]["n_units"] == 3
    assert (tmp_path / "mix" / "vocab.txt").read_text().split()[:2] == ["w0", "w1"]


def _checkpoint(**state):
    good = {
        "mixing_weights": torch.tensor([0.5, 0.5], dtype=torch.float64),
        "beta": torch.tensor([[0.5, 0.5], [0.25, 0.75]], dtype=torch.float64),
        "word_frequencies": torch.tensor([0.5, 0.5], dtype=torch.float64),
    }
    return {"kind": "mixture", "config": {"params": {"n_units": 2}}, "state": {**good, **state}}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "mixture", "config": {}, "state": {}}, "config has no 'params' mapping"),
        ({**_checkpoint(), "config": {"params": {"layers": [2]}}}, "unknown settings: layers"),
        ({**_checkpoint(), "config": {"params": {"n_units": 0}}}, "n_units must be a positive integer"),
        (_checkpoint(beta=None), "state has no 'beta' tensor"),
        (_checkpoint(beta=torch.ones(2)), "'beta' must be a non-empty real 2-D tensor"),
        (_checkpoint(beta=torch.tensor([[0.5, 0.6], [0.5, 0.5]])), "every row of beta must be positive and sum to one"),
        (_checkpoint(beta=torch.tensor([[1.0, 0.0], [0.5, 0.5]])), "every row of beta must be positive"),
        (_checkpoint(mixing_weights=torch.tensor([0.2, 0.2])), "mixing weights must be non-negative and sum to one"),
        (_checkpoint(mixing_weights=torch.tensor([1.0])), "1 mixing weights, 2 word distributions"),
        (_checkpoint(mixing_weights=torch.tensor([float("nan"), 1.0])), "'mixing_weights' holds NaN"),
        (_checkpoint(word_frequencies=torch.ones(3)), "word_frequencies must be positive, one per word"),
        ({**_checkpoint(), "history": "x"}, "history must be a list of mappings"),
    ],
)
def test_malformed_checkpoint_is_reported(data, message):
    with pytest.raises(ModelError, match=message):
        MixtureTopicModel.from_checkpoint(data)


def test_checkpoint_vocabulary_must_fit():
    with pytest.raises(ModelError, match="vocabulary has 3 words but the documents have 2 word columns"):
        MixtureTopicModel.from_checkpoint({**_checkpoint(), "vocabulary": ["a", "b", "c"]})


# ---- errors ------------------------------------------------------------------------------------
def test_not_fitted_errors():
    model = MixtureTopicModel(3)
    X = sp.csr_matrix(np.ones((2, 4)))
    for call in (
        lambda: model.transform(X),
        lambda: model.unit_word(),
        lambda: model.word_distributions(),
        lambda: model.log_likelihood_bound(X),
        lambda: model.log_likelihood_is(X),
        lambda: model.log_likelihood_completion(X, X),
        lambda: model.save("unused"),
        lambda: model.n_units_,
    ):
        with pytest.raises(NotFittedError, match="MixtureTopicModel is not fitted yet; call fit first"):
            call()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"n_units": 0}, "n_units must be a positive integer, got 0"),
        ({"max_epochs": 2.5}, "max_epochs must be a positive integer, got 2.5"),
        ({"patience": 0}, "patience must be a positive integer, got 0"),
        ({"n_val_docs": True}, "n_val_docs must be a positive integer, got True"),
        ({"max_seconds": -1}, "max_seconds must be positive or None, got -1"),
        ({"word_prior": 0.0}, "word_prior must be positive"),
        ({"word_prior": "1"}, "word_prior must be a number, got '1'"),
        ({"mixing_prior": -0.5}, "mixing_prior must be non-negative, got -0.5"),
        ({"mixing_prior": float("inf")}, "mixing_prior must be finite"),
        ({"random_state": -1}, "random_state must be a non-negative integer or None, got -1"),
    ],
)
def test_bad_settings_are_named(params, message):
    with pytest.raises(ModelError, match=message):
        MixtureTopicModel(**params).fit(np.ones((3, 4)))


def test_bad_inputs_are_reported(planted):
    X, _, _, model = planted
    with pytest.raises(ModelError, match="empty corpus"):
        MixtureTopicModel(2).fit(sp.csr_matrix((0, 5)))
    with pytest.raises(ModelError, match="without any word counts"):
        MixtureTopicModel(2).fit(sp.csr_matrix((3, 5)))
    with pytest.raises(ModelError, match="need at least 2 non-empty training documents"):
        MixtureTopicModel(2).fit(np.array([[1, 2, 0], [0, 0, 0]]))
    with pytest.raises(ModelError, match="vocabulary has 3 words but the documents have 30 word columns"):
        MixtureTopicModel(2, max_epochs=1).fit(X, vocabulary=["a", "b", "c"])
    with pytest.raises(ModelError, match="documents have 29 word columns but the model was trained on 30"):
        model.transform(X[:, :29])
    with pytest.raises(ModelError, match="Negative values in data"):
        model.log_likelihood_bound(-X)
