"""RSMTopicModel: the free energy and the closed-form partition function checked by enumeration
(all 2^F hidden states, all V^D token sequences), both AIS paths against the exact log Z_D, and
the estimator contract (training, checkpoints, errors)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from scipy.special import logsumexp

from docmodel.checkpoint import load_checkpoint, save_checkpoint
from docmodel.errors import ModelError, NotFittedError
from docmodel.models.rsm import KIND, ais
from docmodel.models.rsm.estimator import RSMTopicModel
from docmodel.models.rsm.persistence import payload
from docmodel.models.rsm.sampling import draw_counts


def random_params(n_words, n_units, seed, scale=1.0):
    rng = np.random.default_rng(seed)
    return {
        "weight": rng.normal(0.0, scale, (n_words, n_units)),
        "word_bias": rng.normal(0.0, 1.0, n_words),
        "unit_bias": rng.normal(0.0, 0.3 * scale, n_units),
    }


def model_from_params(params, **settings) -> RSMTopicModel:
    """A fitted RSMTopicModel with exactly these parameters (through the checkpoint path)."""
    n_words, n_units = params["weight"].shape
    freq = np.full(n_words, 1.0 / n_words)
    data = {
        "kind": "rsm",
        "config": {"params": {"n_units": n_units, **settings}},
        "state": {
            **{k: torch.tensor(v, dtype=torch.float32) for k, v in params.items()},
            "base_bias": torch.from_numpy(np.log(freq)),
            "word_frequencies": torch.from_numpy(freq),
        },
        "vocabulary": None,
        "metrics": {},
        "history": [],
    }
    return RSMTopicModel.from_checkpoint(data)


def tensors64(model):
    """W, b, a as float64 tensors (the stored float32 values)."""
    return tuple(t.detach().double() for t in (model.net_.weight, model.net_.word_bias, model.net_.unit_bias))


def float_params(model):
    return tuple(t.numpy() for t in tensors64(model))


def hidden_states(n_units):
    return np.array(list(itertools.product([0.0, 1.0], repeat=n_units)))


def exact_log_z(model, length):
    """log Z_D = log sum_h exp(D a.h) (sum_k exp(b_k + W_k.h))^D over all 2^F states, float64."""
    W, b, a = float_params(model)
    H = hidden_states(W.shape[1])
    return float(logsumexp(length * (H @ a + logsumexp(H @ W.T + b, axis=1))))


def exact_log_p(model, X):
    X = np.asarray(X, dtype=np.float64)
    return -model.free_energy(X) - np.array([exact_log_z(model, n) for n in X.sum(axis=1).astype(int)])


def planted_corpus(n_docs, seed=0, n_words=30, n_topics=3, lengths=(5, 30)):
    """Documents each drawn from one of ``n_topics`` disjoint blocks of words."""
    rng = np.random.default_rng(seed)
    block = n_words // n_topics
    topics = np.zeros((n_topics, n_words))
    for k in range(n_topics):
        topics[k, k * block:(k + 1) * block] = 1.0 / block
    return np.array([rng.multinomial(rng.integers(*lengths), topics[rng.integers(n_topics)]) for _ in range(n_docs)])


@pytest.fixture(scope="module")
def small_model():
    return model_from_params(random_params(20, 8, seed=1), ais_steps=1000)


@pytest.fixture(scope="module")
def fast_model():
    """The parameters of ``small_model`` with a short AIS (for checks that are not about accuracy)."""
    return model_from_params(random_params(20, 8, seed=1), ais_steps=30)


@pytest.fixture(scope="module")
def trained():
    X = planted_corpus(240, seed=0)
    X_val = planted_corpus(40, seed=1)
    model = RSMTopicModel(n_units=4, max_epochs=10, patience=None, learning_rate=1e-2, batch_size=16,
                          ais_steps=50, val_ais_steps=50, random_state=0).fit(X, X_val=X_val)
    return model, X, X_val


# ---- the model's closed forms ----------------------------------------------------------------

def test_free_energy_is_minus_log_sum_over_hidden_states(small_model):
    """F(v) = -log sum_h exp(-E(v, h)), E = -h.W^T v - b.v - D a.h, enumerated over 2^8 states."""
    W, b, a = float_params(small_model)
    X = np.random.default_rng(0).integers(0, 4, size=(6, 20)).astype(np.float64)
    H = hidden_states(8)
    lengths = X.sum(axis=1)
    neg_energy = X @ W @ H.T + (X @ b)[:, None] + lengths[:, None] * (H @ a)[None, :]  # docs x states
    direct = -logsumexp(neg_energy, axis=1)
    np.testing.assert_allclose(small_model.free_energy(X), direct, rtol=1e-10, atol=1e-9)


def test_probabilities_of_all_sequences_of_a_length_sum_to_one():
    """exp(-F(v) - log Z_D) summed over all V^D sequences (not count vectors) is 1."""
    model = model_from_params(random_params(3, 3, seed=2))
    V, D = 3, 5
    seqs = np.array(list(itertools.product(range(V), repeat=D)))
    X = np.stack([np.bincount(s, minlength=V) for s in seqs]).astype(np.float64)
    total = np.exp(-model.free_energy(X) - exact_log_z(model, D)).sum()
    assert total == pytest.approx(1.0, abs=1e-10)


def test_transform_is_the_hidden_posterior(small_model):
    W, b, a = float_params(small_model)
    X = np.random.default_rng(3).integers(0, 3, size=(5, 20)).astype(np.float64)
    expected = 1.0 / (1.0 + np.exp(-(X.sum(axis=1, keepdims=True) * a + X @ W)))
    q = small_model.transform(X)
    assert q.shape == (5, 8) and np.all((q >= 0) & (q <= 1))
    np.testing.assert_allclose(q, expected, rtol=1e-10)


def test_unit_word_and_word_distributions(small_model):
    W, b, _ = float_params(small_model)
    np.testing.assert_array_equal(small_model.unit_word(), W.T)
    P = small_model.word_distributions()
    assert P.shape == (8, 20)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    logits = b + W.T  # unit j alone on
    np.testing.assert_allclose(P, np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True), rtol=1e-10)


def test_drawn_counts_have_the_lengths_and_the_softmax_frequencies():
    g = torch.Generator().manual_seed(0)
    logits = torch.tensor([[0.0, 1.0, 2.0], [3.0, 0.0, 0.0], [0.0, 0.0, 0.0]], dtype=torch.float64)
    counts = draw_counts(logits, torch.tensor([20000, 0, 30000]), g)
    np.testing.assert_array_equal(counts.sum(1).numpy(), [20000, 0, 30000])
    freq = (counts[[0, 2]] / counts[[0, 2]].sum(1, keepdim=True)).numpy()
    np.testing.assert_allclose(freq, torch.softmax(logits[[0, 2]], -1).numpy(), atol=0.01)


# ---- AIS against the exact partition function -----------------------------------------------

def exact_hidden_distribution(model, beta):
    """p_beta(h) proportional to exp(beta g(h)) over all 2^F states (rows in ``hidden_states`` order)."""
    W, b, a = float_params(model)
    H = hidden_states(W.shape[1])
    x = beta * (H @ a + logsumexp(H @ W.T + b, axis=1))
    return H, np.exp(x - logsumexp(x))


@pytest.mark.parametrize("beta", [0.6, 2.0, 3.5])
def test_transitions_leave_the_annealed_distribution_invariant(beta):
    """20,000 exact draws from p_beta(h), one heat-bath sweep, one token block move: the state
    frequencies stay p_beta (4 standard errors)."""
    model = model_from_params(random_params(6, 3, seed=7))
    H, p = exact_hidden_distribution(model, beta)
    g, n = torch.Generator().manual_seed(0), 20000
    h = torch.from_numpy(H[torch.multinomial(torch.from_numpy(p), n, replacement=True, generator=g).numpy()])
    W, b, a = tensors64(model)
    exp_w = torch.stack([W.t().exp(), (-W.t()).exp()], dim=1).float().contiguous()
    moves = [lambda: ais.heat_bath_sweep(h, W, b, a, exp_w, beta, g)]
    if beta >= 1:
        moves.append(lambda: ais.token_block_move(h, W, b, a, beta, g))
    for move in moves:
        move()
        codes = (h.numpy() @ (2 ** np.arange(3)[::-1])).astype(int)
        freq = np.bincount(codes, minlength=8) / n
        assert np.all(np.abs(freq - p) <= 4 * np.sqrt(p * (1 - p) / n) + 1e-3)


def test_length_path_ais_matches_exact_log_partition(small_model):
    """Plain AIS (no searched states), every length from the same 100 chains."""
    g, lengths = torch.Generator().manual_seed(0), [1, 3, 10, 40, 150]
    estimate = ais.log_partition(small_model.net_, lengths + [0, 10], n_runs=100, n_steps=1000, generator=g,
                                 search=False)
    assert sorted(estimate) == [0] + lengths
    assert estimate[0] == pytest.approx(8 * math.log(2.0), abs=1e-12)
    # 100 runs, 1000 temperatures: the estimates' standard deviation over seeds is about 0.02
    for n in lengths:
        assert estimate[n] == pytest.approx(exact_log_z(small_model, n), abs=0.06), n


def test_searched_states_hold_the_best_state_and_count_exactly():
    """The search finds argmax g among 2^16 states; with few chains and temperatures the estimate
    with the searched mass is close to exact on long documents, never below that mass, and better
    than plain AIS there."""
    model = model_from_params(random_params(20, 16, seed=8, scale=1.5))
    W, b, a = tensors64(model)
    states = ais.searched_states(W, b, a, torch.Generator().manual_seed(0))
    H = torch.from_numpy(hidden_states(16))
    g_all = H @ a + torch.logsumexp(H @ W.t() + b, 1)
    assert torch.unique(states, dim=0).shape == states.shape and 16 * len(states) <= 2**16
    assert (states == H[g_all.argmax()]).all(1).any()
    lengths = [60, 400]  # long enough for exp(D g(h)) to be peaked: the searched states hold the mass
    estimate, plain = (ais.log_partition(model.net_, lengths, n_runs=20, n_steps=50, search=search,
                                         generator=torch.Generator().manual_seed(1)) for search in (True, False))
    g_set = states @ a + torch.logsumexp(states @ W.t() + b, 1)
    for n in lengths:
        assert estimate[n] >= float(torch.logsumexp(n * g_set, 0)) - 1e-9
        assert estimate[n] == pytest.approx(exact_log_z(model, n), abs=0.01), n
    assert plain[400] < exact_log_z(model, 400) - 0.5  # what the searched states repair


def test_base_rate_path_ais_matches_exact_log_partition():
    """The paper's path (base-rate model to the RSM, Gibbs on (h, v)) on a milder model."""
    model = model_from_params(random_params(20, 8, seed=4, scale=0.4))
    g = torch.Generator().manual_seed(0)
    base = torch.from_numpy(np.log(np.full(20, 1 / 20)))
    estimate = ais.log_partition(model.net_, [1, 5, 20], n_runs=100, n_steps=300, generator=g, path="base-rate",
                                 base_bias=base)
    for n in (1, 5, 20):
        assert estimate[n] == pytest.approx(exact_log_z(model, n), abs=0.05), n


def test_log_likelihoods_match_exact_values(small_model):
    X = planted_corpus(12, seed=5, n_words=20, n_topics=4, lengths=(2, 40)).astype(np.float64)
    exact = exact_log_p(small_model, X)
    is_ = small_model.log_likelihood_is(X, n_samples=100)
    np.testing.assert_allclose(is_, exact, atol=0.06)
    obs, held = X // 2, X - X // 2
    completion = small_model.log_likelihood_completion(obs, held, n_samples=100)
    np.testing.assert_allclose(completion, exact - exact_log_p(small_model, obs), atol=0.06)


def test_bound_is_the_ais_estimate_with_its_own_runs(fast_model):
    """No variational bound exists: log_likelihood_bound is log_likelihood_is with 10 runs."""
    X = planted_corpus(6, seed=5, n_words=20, n_topics=4).astype(np.float64)
    np.testing.assert_array_equal(fast_model.log_likelihood_bound(X), fast_model.log_likelihood_is(X, n_samples=10))


def test_empty_documents_score_zero(fast_model):
    X = np.zeros((2, 20))
    X[1, 3] = 2
    out = fast_model.log_likelihood_is(X, n_samples=5)
    assert out[0] == 0.0 and out[1] < 0
    comp = fast_model.log_likelihood_completion(np.zeros((1, 20)), np.zeros((1, 20)), n_samples=5)
    assert comp[0] == 0.0


def test_estimates_are_deterministic_given_the_seed(fast_model):
    X = planted_corpus(6, seed=6, n_words=20, n_topics=4).astype(np.float64)
    a = fast_model.log_likelihood_is(X, n_samples=7, random_state=3)
    np.testing.assert_array_equal(a, fast_model.log_likelihood_is(X, n_samples=7, random_state=3))
    assert not np.array_equal(a, fast_model.log_likelihood_is(X, n_samples=7, random_state=4))
    # the rows' order does not matter
    np.testing.assert_array_equal(a[::-1], fast_model.log_likelihood_is(X[::-1], n_samples=7, random_state=3))


# ---- training --------------------------------------------------------------------------------

def test_training_lowers_validation_perplexity(trained):
    model, X, X_val = trained
    lengths = X_val.sum(axis=1)
    # the starting model is the base rate (W ~ 0): its perplexity is the training unigram's
    log_unigram = X_val @ np.log(model.word_frequencies_)
    start = math.exp(-np.mean(log_unigram / lengths))
    curve = [h["val_perplexity_bound"] for h in model.history_]
    assert len(curve) == 10 and model.best_val_perplexity_bound_ == min(curve)
    assert model.best_val_perplexity_bound_ < 0.8 * start  # planted: about 10 of 30 words per document
    assert model.perplexity(X_val, estimator="is", n_samples=50) < 0.8 * start


def test_history_and_fitted_attributes(trained):
    model, X, _ = trained
    assert model.n_units_ == 4 and model.n_words_ == 30 and model.n_features_in_ == 30
    assert model.n_iter_ == 10 and model.stopped_ == "max_epochs"
    assert {"step", "epoch", "seconds", "val_perplexity_bound", "docs_per_second"} <= set(model.history_[0])
    np.testing.assert_allclose(model.word_frequencies_.sum(), 1.0)
    np.testing.assert_allclose(np.exp(model.base_bias_), model.word_frequencies_)


def test_same_seed_same_model():
    X = planted_corpus(60, seed=7)
    kw = dict(n_units=3, max_epochs=2, patience=None, ais_steps=20, val_ais_steps=20)
    a = RSMTopicModel(random_state=1, **kw).fit(X)
    b = RSMTopicModel(random_state=1, **kw).fit(X)
    c = RSMTopicModel(random_state=2, **kw).fit(X)
    np.testing.assert_array_equal(a.unit_word(), b.unit_word())
    assert a.history_[-1]["val_perplexity_bound"] == b.history_[-1]["val_perplexity_bound"]
    assert not np.array_equal(a.unit_word(), c.unit_word())


def test_callback_stops_training_and_keeps_the_best():
    X, X_val = planted_corpus(120, seed=8), planted_corpus(20, seed=9)
    seen = []

    def stop_after_two(entry):
        if "val_perplexity_bound" in entry:
            seen.append(entry["val_perplexity_bound"])
        return len(seen) >= 2

    model = RSMTopicModel(n_units=3, max_epochs=50, learning_rate=1e-2, batch_size=16, ais_steps=30,
                          val_ais_steps=30, random_state=0).fit(X, X_val=X_val, callback=stop_after_two)
    assert model.stopped_ == "cancelled" and model.n_iter_ == 2
    assert model.best_val_perplexity_bound_ == min(seen)
    # the kept parameters are the best epoch's: its validation estimate is reproduced exactly
    log_p = model.log_likelihood_bound(X_val, n_samples=10, random_state=0)
    assert math.exp(-np.mean(log_p / X_val.sum(axis=1))) == pytest.approx(min(seen), rel=1e-12)


# ---- checkpoints -----------------------------------------------------------------------------

def test_save_load_round_trip(trained, tmp_path):
    model, X, X_val = trained
    model.save(tmp_path / "m")
    loaded = RSMTopicModel.load(tmp_path / "m")
    np.testing.assert_array_equal(loaded.transform(X), model.transform(X))
    for method in ("log_likelihood_is", "log_likelihood_bound"):
        np.testing.assert_array_equal(getattr(loaded, method)(X_val, n_samples=5), getattr(model, method)(X_val, n_samples=5))
    obs, held = X_val // 2, X_val - X_val // 2
    np.testing.assert_array_equal(loaded.log_likelihood_completion(obs, held, n_samples=5),
                                  model.log_likelihood_completion(obs, held, n_samples=5))
    assert loaded.get_params() == model.get_params()
    assert loaded.history_ == model.history_ and loaded.best_epoch_ == model.best_epoch_
    np.testing.assert_array_equal(loaded.word_frequencies(), model.word_frequencies())


@pytest.mark.parametrize("change, message", [
    (lambda d: d["state"].pop("weight"), "state 'weight' is missing"),
    (lambda d: d["state"].__setitem__("unit_bias", torch.zeros(3)), "unit_bias has shape"),
    (lambda d: d["state"].__setitem__("word_bias", torch.full((20,), float("nan"))), "non-finite"),
    (lambda d: d["config"]["params"].__setitem__("colour", 1), "unknown settings: colour"),
    (lambda d: d["config"]["params"].__setitem__("ais_steps", 0), "ais_steps must be a positive integer"),
    (lambda d: d.pop("config"), "config has no 'params'"),
])
def test_malformed_checkpoint_is_reported(fast_model, change, message):
    data = payload(fast_model)
    change(data)
    with pytest.raises(ModelError, match=message):
        RSMTopicModel.from_checkpoint(data)


def test_loading_another_kind_is_refused(fast_model, tmp_path):
    save_checkpoint(tmp_path / "m", {**payload(fast_model), "kind": "lda"})
    with pytest.raises(ModelError, match="not 'rsm'"):
        RSMTopicModel.load(tmp_path / "m")
    assert load_checkpoint(tmp_path / "m")["kind"] == "lda"


# ---- errors ----------------------------------------------------------------------------------

def test_not_fitted_errors():
    model = RSMTopicModel()
    X = np.ones((2, 5))
    for call in (lambda: model.transform(X), lambda: model.log_likelihood_bound(X), lambda: model.log_likelihood_is(X),
                 lambda: model.log_likelihood_completion(X, X), model.word_distributions, model.unit_word,
                 lambda: model.save("unused")):
        with pytest.raises(NotFittedError):
            call()


@pytest.mark.parametrize("params, message", [
    ({"n_units": 0}, "n_units must be a positive integer"),
    ({"cd_steps": 1.5}, "cd_steps must be a positive integer"),
    ({"learning_rate": -1.0}, "learning_rate must be positive"),
    ({"weight_decay": -0.1}, "weight_decay must be non-negative"),
    ({"patience": 0}, "patience must be a positive integer"),
    ({"max_seconds": 0}, "max_seconds must be positive"),
    ({"ais_path": "direct"}, "ais_path must be one of length, base-rate"),
    ({"ais_search": "yes"}, "ais_search must be True or False"),
    ({"device": "tpu"}, "unknown device 'tpu'"),
])
def test_bad_settings_are_named(params, message):
    with pytest.raises(ModelError, match=message):
        RSMTopicModel(**params).fit(planted_corpus(20))


def test_bad_inputs_are_reported(fast_model):
    with pytest.raises(ModelError, match="n_samples must be a positive integer"):
        fast_model.log_likelihood_is(np.ones((1, 20)), n_samples=0)
    with pytest.raises(ModelError, match="expecting 20 features"):
        fast_model.transform(np.ones((1, 7)))
    with pytest.raises(ModelError, match="two halves of the same documents"):
        fast_model.log_likelihood_completion(np.ones((2, 20)), np.ones((3, 20)))
    with pytest.raises(ModelError, match="without any word counts"):
        RSMTopicModel().fit(np.zeros((4, 5)))


def test_kind_record():
    assert KIND.kind == RSMTopicModel.kind == "rsm"
    assert [v.name for v in KIND.variants] == ["rsm"] and KIND.variants[0].label == "Replicated Softmax (CD)"
    assert KIND.estimator() is RSMTopicModel and KIND.defaults()["n_units"] == 50
