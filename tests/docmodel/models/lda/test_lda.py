"""LDATopicModel: training delegated to scikit-learn, likelihood estimates checked against exact
values on planted corpora (one topic: closed form; two topics: Gauss-Jacobi quadrature, exact
for the polynomial likelihood of a short document; three topics: Monte Carlo from the prior)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from scipy.special import logsumexp, roots_jacobi
from sklearn.decomposition import LatentDirichletAllocation

from docmodel.checkpoint import load_checkpoint, load_model
from docmodel.errors import ModelError, NotFittedError
from docmodel.evaluation import split_for_completion
from docmodel.models.lda.estimator import LDATopicModel
from docmodel.models.lda.inference import infer_gamma, log_mean_likelihood


def sample_lda(n_docs, alpha, beta, rng, lengths=(10, 60)):
    """Documents drawn from LDA with topics ``beta`` (K, V) and symmetric prior ``alpha``."""
    theta = rng.dirichlet(np.full(beta.shape[0], alpha), size=n_docs)
    sizes = rng.integers(*lengths, size=n_docs)
    rows = [rng.multinomial(n, p) for n, p in zip(sizes, theta @ beta)]
    return sp.csr_matrix(np.array(rows))


def exact_log_p_two_topics(X, beta, a1, a2, n_nodes=200):
    """log E_{t ~ Beta(a1, a2)} prod_w (t beta_1w + (1 - t) beta_2w)^x_w for each row of X.

    With t = (1 + y) / 2 the Beta density is the Jacobi weight (1 - y)^(a2-1) (1 + y)^(a1-1), and
    the integrand is a polynomial of degree L (the document length) in y, so Gauss-Jacobi with
    n_nodes > L / 2 is exact up to rounding.
    """
    y, w = roots_jacobi(n_nodes, a2 - 1.0, a1 - 1.0)
    t = (1.0 + y) / 2.0
    log_w = np.log(w) - np.log(w.sum())
    word_prob = np.outer(t, beta[0]) + np.outer(1.0 - t, beta[1])  # nodes x V
    log_lik = sp.csr_matrix(X) @ np.log(word_prob).T  # docs x nodes
    return logsumexp(log_lik + log_w, axis=1)


def model_from_arrays(beta, alpha, vocabulary=None):
    """A fitted LDATopicModel whose topics are exactly ``beta`` (through the checkpoint path)."""
    n_units, _ = beta.shape
    data = {
        "kind": "lda",
        "config": {"n_units": n_units},
        "state": {
            "components": torch.from_numpy(1e6 * beta),
            "doc_topic_prior": alpha,
            "topic_word_prior": 0.1,
        },
        "vocabulary": vocabulary,
        "metrics": {},
        "history": [],
    }
    return LDATopicModel.from_checkpoint(data)


def block_corpus(rng, n_blocks=5, block=10, n_docs=500, length=50):
    """Each topic owns ``block`` words of its own; documents mix topics with Dir(0.3) proportions.

    (Purer documents, or fewer of them, let variational EM settle more often in the local optimum
    that merges two planted topics and splits a third; these settings recovered every topic for
    six data/initialisation seeds, batch and online alike.)
    """
    beta = np.zeros((n_blocks, n_blocks * block))
    for k in range(n_blocks):
        beta[k, k * block : (k + 1) * block] = rng.dirichlet(np.full(block, 5.0))
    return sample_lda(n_docs, 0.3, beta, rng, lengths=(length, length + 1)), beta


def planted_blocks(model, block=10):
    """Sorted block of each unit's top ``block`` words (-1 for a unit whose top words mix blocks)."""
    top = np.argsort(-model.unit_word(), axis=1)[:, :block] // block
    return sorted(int(row[0]) if len(set(row)) == 1 else -1 for row in top.tolist())


@pytest.fixture(scope="module")
def two_topic():
    rng = np.random.default_rng(1)
    beta = rng.dirichlet(np.full(30, 0.3), size=2)
    X = sample_lda(300, 0.5, beta, rng)
    model = LDATopicModel(2, max_iter=50, random_state=0).fit(X)
    return X, model


@pytest.fixture(scope="module")
def planted():
    X, beta = block_corpus(np.random.default_rng(2))
    vocabulary = [f"w{j}" for j in range(X.shape[1])]
    model = LDATopicModel(5, max_iter=40, random_state=0).fit(X, vocabulary=vocabulary, X_val=X[:50])
    return X, beta, model


# ---- likelihood estimates against exact values -----------------------------------------------
def test_one_topic_estimates_are_exact():
    rng = np.random.default_rng(0)
    beta = rng.dirichlet(np.ones(20), size=1)
    X = sample_lda(40, 1.0, beta, rng)
    model = LDATopicModel(1, max_iter=5).fit(X)
    log_beta = np.log(model.unit_word()[0])
    exact = X @ log_beta  # theta = 1: log p(x) = sum_w x_w log beta_w
    np.testing.assert_allclose(model.log_likelihood_bound(X), exact, rtol=1e-12)
    np.testing.assert_allclose(model.log_likelihood_is(X, n_samples=3), exact, rtol=1e-12)
    X_obs, X_held, _ = split_for_completion(X)
    np.testing.assert_allclose(
        model.log_likelihood_completion(X_obs, X_held, n_samples=3), X_held @ log_beta, rtol=1e-12
    )


def test_two_topic_estimates_bracket_the_exact_log_likelihood(two_topic):
    X, model = two_topic
    exact = exact_log_p_two_topics(X, model.unit_word(), model.doc_topic_prior_, model.doc_topic_prior_)
    bound = model.log_likelihood_bound(X)
    is_1000 = model.log_likelihood_is(X, n_samples=1000, random_state=0)
    is_10 = model.log_likelihood_is(X, n_samples=10, random_state=0)
    # A variational bound holds for every document, whatever gamma is.
    assert np.all(bound <= exact + 1e-9)
    assert np.mean(exact - bound) > 0.05  # and the mean-field gap is real
    # E[IS_S] rises with S from the z-collapsed bound (above the mean-field bound) to log p(x).
    assert np.mean(bound) < np.mean(is_10) < np.mean(is_1000)
    assert np.mean(is_1000) <= np.mean(exact) + 0.005
    assert abs(np.mean(is_1000 - exact)) < 0.01


def test_completion_matches_exact_predictive(two_topic):
    X, model = two_topic
    X_obs, X_held, _ = split_for_completion(X, random_state=3)
    gamma = model._gamma(X_obs)
    beta = model.unit_word()
    # log E_{Dir(gamma)} p(x_held | theta), by quadrature with gamma's own Beta(g1, g2).
    exact = np.array(
        [exact_log_p_two_topics(X_held[j], beta, g1, g2)[0] for j, (g1, g2) in enumerate(gamma)]
    )
    estimate = model.log_likelihood_completion(X_obs, X_held, n_samples=5000, random_state=0)
    assert abs(np.mean(estimate - exact)) < 0.005
    assert np.max(np.abs(estimate - exact)) < 0.15


def test_three_topic_estimates_with_known_parameters():
    rng = np.random.default_rng(4)
    beta = rng.dirichlet(np.full(12, 0.5), size=3)
    alpha = 0.3
    X = sample_lda(40, alpha, beta, rng, lengths=(4, 9))
    # p(x) = E_{theta ~ Dir(alpha)} p(x | theta): plain Monte Carlo is accurate for short docs.
    theta = rng.dirichlet(np.full(3, alpha), size=200_000)
    log_lik = X @ np.log(theta @ beta).T  # docs x samples
    exact = logsumexp(log_lik, axis=1) - np.log(theta.shape[0])
    model = model_from_arrays(beta, alpha)
    np.testing.assert_allclose(model.unit_word(), beta, rtol=1e-12)
    bound = model.log_likelihood_bound(X)
    is_est = model.log_likelihood_is(X, n_samples=2000, random_state=1)
    assert np.all(bound <= exact + 0.01)
    # On such short documents the posterior is broad and often multimodal, and the mean-field
    # Dir(gamma) is a light-tailed proposal: the estimate stays below log p(x) and converges
    # slowly (about -0.14 nats per document here at S=2000), but it beats the bound.
    assert np.mean(bound) < np.mean(is_est) < np.mean(exact)
    # With a proposal whose tails are heavier than the posterior's at the simplex boundary
    # (all gamma_k = 0.25 < alpha) the same weights converge quickly to the exact value.
    heavy = log_mean_likelihood(X, beta, np.full((X.shape[0], 3), 0.25), n_samples=20_000, prior=alpha)
    assert abs(np.mean(heavy - exact)) < 0.005


def test_gamma_is_sklearns_fixed_point_with_fixed_topics(two_topic):
    X, model = two_topic
    # scikit-learn's E-step with exp(E[log beta]) replaced by beta solves the same problem.
    shadow = copy.deepcopy(model.lda_)
    shadow.exp_dirichlet_component_ = model.unit_word()
    shadow.set_params(mean_change_tol=1e-10, max_doc_update_iter=5000)
    expected = shadow.transform(X.astype(np.float64), normalize=False)
    gamma = infer_gamma(X, model.unit_word(), model.doc_topic_prior_, max_iter=5000, tol=1e-10)
    np.testing.assert_allclose(gamma, expected, rtol=1e-6)


def test_samples_and_seed_make_is_deterministic(two_topic):
    X, model = two_topic
    a = model.log_likelihood_is(X, n_samples=20, random_state=7)
    np.testing.assert_array_equal(a, model.log_likelihood_is(X, n_samples=20, random_state=7))
    assert not np.array_equal(a, model.log_likelihood_is(X, n_samples=20, random_state=8))


# ---- training -----------------------------------------------------------------------------------
def test_planted_topics_are_recovered(planted):
    X, beta, model = planted
    assert planted_blocks(model) == [0, 1, 2, 3, 4]
    words = model.top_words(3)
    assert len(words) == 5 and all(w.startswith("w") for row in words for w in row)
    doc_unit = model.transform(X)
    assert doc_unit.shape == (X.shape[0], 5)
    np.testing.assert_allclose(doc_unit.sum(axis=1), 1.0)


def test_online_training_recovers_planted_topics():
    X, _ = block_corpus(np.random.default_rng(5))
    model = LDATopicModel(5, learning_method="online", max_iter=15, batch_size=64).fit(X)
    assert planted_blocks(model) == [0, 1, 2, 3, 4]
    # Every pass is ceil(500 / 64) = 8 online updates.
    assert [h["step"] for h in model.history_[:3]] == [8, 16, 24]


def test_batch_training_is_sklearns_batch_fit():
    X, _ = block_corpus(np.random.default_rng(6), n_docs=120)
    model = LDATopicModel(5, max_iter=7, random_state=3).fit(X)
    reference = LatentDirichletAllocation(5, max_iter=7, random_state=3).fit(X.astype(np.float64))
    np.testing.assert_array_equal(model.lda_.components_, reference.components_)
    assert model.sklearn_perplexity(X) == pytest.approx(reference.perplexity(X.astype(np.float64)), rel=1e-12)


def test_history_records_validation_curve(planted):
    _, _, model = planted
    history = model.history_
    assert [h["epoch"] for h in history] == list(range(1, 41))
    assert all({"step", "epoch", "seconds", "progress", "val_perplexity_bound"} <= set(h) for h in history)
    assert history[-1]["progress"] == 1.0 and model.stopped_ == "max_iter"
    seconds = [h["seconds"] for h in history]
    assert seconds == sorted(seconds) and model.train_seconds_ >= seconds[-1]
    assert history[-1]["val_perplexity_bound"] < history[0]["val_perplexity_bound"]


def test_callback_stops_training_and_keeps_the_model():
    X, _ = block_corpus(np.random.default_rng(7), n_docs=60)
    seen = []
    model = LDATopicModel(5, max_iter=50).fit(X, callback=lambda m: seen.append(m) or m["epoch"] == 3)
    assert [m["epoch"] for m in seen] == [1, 2, 3]
    assert model.n_iter_ == 3 and len(model.history_) == 3 and model.stopped_ == "cancelled"
    assert model.transform(X).shape == (60, 5)


def test_time_budget_stops_after_the_first_iteration():
    X, _ = block_corpus(np.random.default_rng(8), n_docs=60)
    model = LDATopicModel(5, max_iter=50, max_seconds=1e-9).fit(X)
    assert model.n_iter_ == 1 and model.stopped_ == "time_budget"
    online = LDATopicModel(5, learning_method="online", batch_size=10, max_seconds=1e-9).fit(X)
    assert [h["step"] for h in online.history_] == [1]


def test_early_stopping_keeps_the_best_iteration(tmp_path):
    rng = np.random.default_rng(9)
    beta = rng.dirichlet(np.full(200, 0.1), size=4)
    X = sample_lda(80, 0.3, beta, rng, lengths=(20, 60))
    X_val, X_train = X[:20], X[20:]
    model = LDATopicModel(8, max_iter=60, patience=3).fit(X_train, X_val=X_val)
    curve = [h["val_perplexity_bound"] for h in model.history_]
    best = int(np.argmin(curve)) + 1
    # This small corpus overfits: the validation bound turns up, and training stops 3 later.
    assert model.stopped_ == "early_stopping" and best < 60
    assert model.best_epoch_ == best and model.n_iter_ == best + 3
    # The topics are those of the best iteration, not of the last one.
    lengths = X_val.sum(axis=1).A1
    restored = float(np.exp(-np.mean(model.log_likelihood_bound(X_val) / lengths)))
    assert restored == pytest.approx(curve[best - 1], rel=1e-12)
    loaded = LDATopicModel.load(model.save(tmp_path / "es"))
    assert (loaded.stopped_, loaded.best_epoch_) == ("early_stopping", best)
    with pytest.raises(ModelError, match="patience \\(early stopping\\) needs validation documents"):
        LDATopicModel(8, patience=3).fit(X_train)


# ---- checkpoints -------------------------------------------------------------------------------
def test_save_load_round_trip(planted, tmp_path):
    X, _, model = planted
    path = model.save(tmp_path / "lda", metrics={"note": 1.5})
    loaded = LDATopicModel.load(tmp_path / "lda")
    np.testing.assert_array_equal(loaded.transform(X), model.transform(X))
    np.testing.assert_array_equal(loaded.unit_word(), model.unit_word())
    np.testing.assert_allclose(loaded.log_likelihood_bound(X), model.log_likelihood_bound(X), rtol=1e-12)
    assert loaded.get_params() == model.get_params()
    assert loaded.vocabulary_ == model.vocabulary_ and loaded.history_ == model.history_
    assert loaded.train_seconds_ == model.train_seconds_
    assert isinstance(load_model(path), LDATopicModel)
    data = load_checkpoint(path, kind="lda")
    assert data["metrics"]["note"] == 1.5 and data["vocabulary"][:2] == ["w0", "w1"]
    assert (tmp_path / "lda" / "vocab.txt").read_text().split()[:2] == ["w0", "w1"]


def test_loading_another_kind_is_refused(planted, tmp_path):
    _, _, model = planted
    path = model.save(tmp_path / "m.pt")
    with pytest.raises(ModelError, match="holds a 'lda' model, not 'sbn'"):
        load_checkpoint(path, kind="sbn")


def test_malformed_checkpoint_state_is_reported():
    data = {"kind": "lda", "config": {"n_units": 2}, "state": {"components": torch.zeros(2, 3)}}
    with pytest.raises(ModelError, match="LDA checkpoint is malformed"):
        LDATopicModel.from_checkpoint(data)
    with pytest.raises(ModelError, match="unknown settings: layers"):
        LDATopicModel.from_checkpoint({**data, "config": {"layers": [2]}})


# ---- errors ------------------------------------------------------------------------------------
def test_not_fitted_errors():
    model = LDATopicModel(3)
    X = sp.csr_matrix(np.ones((2, 4)))
    for call in (
        lambda: model.transform(X),
        lambda: model.unit_word(),
        lambda: model.log_likelihood_bound(X),
        lambda: model.log_likelihood_is(X),
        lambda: model.log_likelihood_completion(X, X),
        lambda: model.sklearn_perplexity(X),
        lambda: model.save("unused"),
        lambda: model.n_units_,
    ):
        with pytest.raises(NotFittedError, match="LDATopicModel is not fitted yet; call fit first"):
            call()


def test_wrong_vocabulary_size_is_reported(planted):
    X, _, model = planted
    with pytest.raises(ModelError, match="vocabulary has 3 words but the documents have 50 word columns"):
        LDATopicModel(2, max_iter=1).fit(X, vocabulary=["a", "b", "c"])
    with pytest.raises(ModelError, match="documents have 49 word columns but the model was trained on 50"):
        model.transform(X[:, :49])
    with pytest.raises(ModelError, match="trained on 50 words"):
        LDATopicModel(2, max_iter=1).fit(X, X_val=X[:, :49])


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"learning_method": "sgd"}, "learning_method must be one of batch, online; got 'sgd'"),
        ({"n_units": 0}, "n_units must be a positive integer, got 0"),
        ({"max_iter": 2.5}, "max_iter must be a positive integer, got 2.5"),
        ({"doc_topic_prior": 2.0}, r"doc_topic_prior must be in \(0, 1\] or None"),
        ({"max_seconds": -1}, "max_seconds must be positive or None, got -1"),
        ({"patience": 0}, "patience must be a positive integer, got 0"),
    ],
)
def test_bad_settings_are_named(params, message):
    with pytest.raises(ModelError, match=message):
        LDATopicModel(**params).fit(np.ones((3, 4)))


def test_bad_inputs_are_reported(two_topic):
    X, model = two_topic
    with pytest.raises(ModelError, match="empty corpus"):
        LDATopicModel(2).fit(sp.csr_matrix((0, 5)))
    with pytest.raises(ModelError, match="without any word counts"):
        LDATopicModel(2).fit(sp.csr_matrix((3, 5)))
    with pytest.raises(ModelError, match="n_samples must be a positive integer, got 0"):
        model.log_likelihood_is(X, n_samples=0)
    with pytest.raises(ModelError, match="pass the two halves of the same documents"):
        model.log_likelihood_completion(X[:3], X[:4])
