"""NVDMTopicModel: the ELBO and the SBN's three estimators checked against independent
computations (closed-form Gaussian densities in float64; for a one-dimensional latent, exact
log p(x) and exact ELBO gradients by quadrature over z), training on planted blocks, the
estimator contract and checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from scipy import integrate
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from docmodel.checkpoint import load_checkpoint
from docmodel.errors import ModelError, NotFittedError
from docmodel.evaluation import split_for_completion
from docmodel.models.batching import CSRRows, epoch_order
from docmodel.models.nvdm import KIND
from docmodel.models.nvdm.elbo import (
    gaussian_kl,
    log_weights,
    standard_normal_log_prob,
    training_objective,
)
from docmodel.models.nvdm.estimator import WORD_SCALE, NVDMTopicModel
from docmodel.models.nvdm.networks import Decoder, Encoder, NVDMConfig
from docmodel.models.nvdm.training import TrainSettings, build, train, val_perplexity
from docmodel.noise import DocumentNoise, document_keys
from tests.docmodel.models.sbn.test_sbn_estimator import planted_corpus as sbn_planted_corpus


def planted_corpus(n_docs=300, n_blocks=4, words_per_block=6, length=30, seed=0):
    """The SBN tests' planted documents, smaller by default."""
    return sbn_planted_corpus(n_docs, n_blocks, words_per_block, length, seed)


def small_model(**kw):
    params = dict(n_units=3, encoder_hidden=(16,), max_epochs=30, batch_size=32, n_val_docs=30, patience=None,
                  learning_rate=1e-2, n_threads=1)
    params.update(kw)
    return NVDMTopicModel(**params)


def tiny_networks(n_words=4, n_units=2, hidden=(5,), seed=0, dtype=torch.float64, log_sigma_scale=0.3):
    """Random networks with non-trivial means, widths and word weights."""
    config = NVDMConfig(n_words=n_words, n_units=n_units, encoder_hidden=hidden)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        encoder, decoder = Encoder(config).to(dtype), Decoder(config).to(dtype)
        with torch.no_grad():
            decoder.words.weight.normal_(0.0, 1.0)
            decoder.words.bias.normal_(0.0, 0.5)
            encoder.log_scale.weight.normal_(0.0, log_sigma_scale)
            encoder.log_scale.bias.fill_(-0.3)
            encoder.input_mean.uniform_(0.0, 0.5)
    return config, encoder, decoder


def model_from_networks(config, encoder, decoder):
    """A fitted NVDMTopicModel with exactly these weights (through the checkpoint path)."""
    state = {f"encoder.{k}": v.float() for k, v in encoder.state_dict().items()}
    state.update({f"decoder.{k}": v.float() for k, v in decoder.state_dict().items()})
    state["word_frequencies"] = torch.full((config.n_words,), 1.0 / config.n_words, dtype=torch.float64)
    params = {"n_units": config.n_units, "encoder_hidden": list(config.encoder_hidden)}
    data = {"kind": "nvdm", "config": {"params": params, "architecture": config.to_dict()}, "state": state,
            "vocabulary": None, "metrics": {}, "history": []}
    return NVDMTopicModel.from_checkpoint(data)


def numpy_log_weights(encoder, decoder, X, eps):
    """log p(x | z) + log N(z; 0, I) - log N(z; mu, diag sigma^2) by NumPy/SciPy, float64,
    z = mu + sigma eps: an independent computation of the single-sample bounds, shape (S, B)."""
    with torch.no_grad():
        mu, log_sigma = (t.double().numpy() for t in encoder(torch.as_tensor(X, dtype=next(encoder.parameters()).dtype)))
    R = decoder.words.weight.detach().double().numpy()
    b = decoder.words.bias.detach().double().numpy()
    sigma = np.exp(log_sigma)
    S, B, K = eps.shape
    out = np.empty((S, B))
    for s in range(S):
        for d in range(B):
            z = mu[d] + sigma[d] * eps[s, d]
            logits = b + R @ z
            log_px = X[d] @ (logits - logsumexp(logits))
            log_pz = multivariate_normal(np.zeros(K), np.eye(K)).logpdf(z)
            log_qz = multivariate_normal(mu[d], np.diag(sigma[d] ** 2)).logpdf(z)
            out[s, d] = log_px + log_pz - log_qz
    return out


X_TINY = np.array([[3.0, 0.0, 1.0, 2.0], [0.0, 1.0, 4.0, 0.0], [1.0, 1.0, 1.0, 1.0]])


def test_init_stores_parameters_only_and_methods_need_fit():
    m = NVDMTopicModel(n_units=7, learning_rate=0.5)
    assert m.n_units == 7 and m.learning_rate == 0.5 and not hasattr(m, "encoder_")
    for call in (lambda: m.transform(X_TINY), m.unit_word, m.word_distributions, lambda: m.log_likelihood_bound(X_TINY),
                 lambda: m.log_likelihood_is(X_TINY), lambda: m.log_likelihood_completion(X_TINY, X_TINY),
                 lambda: m.save("/nonexistent")):
        with pytest.raises(NotFittedError):
            call()


def test_single_sample_bounds_match_an_independent_float64_computation():
    config, encoder, decoder = tiny_networks()
    eps = np.random.default_rng(1).standard_normal((5, 3, 2))
    got = log_weights(encoder, decoder, torch.from_numpy(X_TINY), torch.from_numpy(eps)).detach().numpy()
    np.testing.assert_allclose(got, numpy_log_weights(encoder, decoder, X_TINY, eps), rtol=1e-12, atol=1e-10)


def test_bound_is_the_mean_and_is_the_log_mean_exp_of_the_single_sample_bounds():
    config, encoder, decoder = tiny_networks()
    model = model_from_networks(config, encoder, decoder)
    S = 7
    # The estimator draws its noise as one (S, n_docs, K) standard normal block of per-document
    # noise keyed by the documents and random_state, in float32 as its networks compute.
    noise = DocumentNoise(document_keys(sp.csr_matrix(X_TINY), 5))
    eps = noise.normal((S, 3, 2), torch.float32, "cpu").double().numpy()
    w = numpy_log_weights(model.encoder_, model.decoder_, X_TINY, eps)
    np.testing.assert_allclose(model.log_likelihood_bound(X_TINY, n_samples=S, random_state=5), w.mean(0), rtol=1e-5)
    np.testing.assert_allclose(model.log_likelihood_is(X_TINY, n_samples=S, random_state=5),
                               logsumexp(w, axis=0) - np.log(S), rtol=1e-5)


def test_analytic_kl_is_the_expectation_of_the_sampled_log_q_minus_log_p():
    mu = torch.tensor([[0.3, -1.2, 2.0]], dtype=torch.float64)
    log_sigma = torch.tensor([[-0.5, 0.2, -1.5]], dtype=torch.float64)
    eps = torch.randn((200_000, 1, 3), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    z = mu + log_sigma.exp() * eps
    sampled = (standard_normal_log_prob(eps) - log_sigma.sum(-1)) - standard_normal_log_prob(z)  # log q - log p
    se = sampled.std() / np.sqrt(sampled.numel())
    assert abs(float(sampled.mean() - gaussian_kl(mu, log_sigma)[0])) < 4 * float(se)
    # The closed form itself, term by term for one dimension: log(1/sigma) + (sigma^2 + mu^2 - 1) / 2.
    s = np.exp(-0.5)
    assert float(gaussian_kl(mu[:, :1], log_sigma[:, :1])[0]) == pytest.approx(np.log(1 / s) + (s**2 + 0.09 - 1) / 2)


def one_dimensional_model(hidden=(4,)):
    config, encoder, decoder = tiny_networks(n_words=4, n_units=1, hidden=hidden, seed=3, log_sigma_scale=0.1)
    with torch.no_grad():
        decoder.words.weight.copy_(torch.tensor([[1.2], [-0.8], [0.4], [-0.6]], dtype=torch.float64))
    return config, encoder, decoder


def exact_log_p(x, decoder):
    """log of the integral of N(z; 0, 1) p(x | z) dz by adaptive quadrature."""
    R = decoder.words.weight.detach().numpy()[:, 0]
    b = decoder.words.bias.detach().numpy()

    def log_integrand(z):
        logits = b + R * z
        return x @ (logits - logsumexp(logits)) - 0.5 * z * z - 0.5 * np.log(2 * np.pi)

    peak = max(log_integrand(z) for z in np.linspace(-8, 8, 801))
    value, _ = integrate.quad(lambda z: np.exp(log_integrand(z) - peak), -15, 15, epsabs=1e-13, epsrel=1e-12, limit=200)
    return peak + np.log(value)


def gauss_hermite_elbo(encoder, decoder, x, n_nodes=80):
    """E_q[log p(x | z)] - KL for a one-dimensional z, the expectation by Gauss-Hermite
    quadrature (differentiable in every parameter): the exact ELBO and, by autograd, its gradient."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(n_nodes)
    nodes = torch.from_numpy(nodes)[:, None, None]  # N,1,1
    weights = torch.from_numpy(weights / weights.sum())
    mu, log_sigma = encoder(x)
    z = mu + log_sigma.exp() * nodes  # N,B,1
    log_px = (decoder.word_log_probs(z) * x).sum(-1)  # N,B
    return (weights[:, None] * log_px).sum(0) - gaussian_kl(mu, log_sigma)


def test_importance_sampling_is_above_the_bound_and_converges_to_the_exact_log_likelihood():
    config, encoder, decoder = one_dimensional_model()
    model = model_from_networks(config, encoder, decoder)
    exact = np.array([exact_log_p(x, decoder) for x in X_TINY])
    elbo = gauss_hermite_elbo(encoder, decoder, torch.from_numpy(X_TINY)).detach().numpy()
    assert np.all(elbo < exact - 0.05)  # q is not the posterior: the bound is strictly below log p(x)
    # The sampled bound is unbiased for the ELBO; IS with S samples is, in expectation, above it.
    bounds = np.array([model.log_likelihood_bound(X_TINY, n_samples=1000, random_state=r) for r in range(20)])
    np.testing.assert_allclose(bounds.mean(0), elbo, atol=4 * bounds.std(0).max() / np.sqrt(20))
    is_10 = np.array([model.log_likelihood_is(X_TINY, n_samples=10, random_state=r) for r in range(200)])
    se = is_10.std(0) / np.sqrt(len(is_10))
    assert np.all(is_10.mean(0) > elbo + 0.02) and np.all(is_10.mean(0) < exact + 4 * se)
    # ... and tends to log p(x).
    is_large = model.log_likelihood_is(X_TINY, n_samples=100_000, random_state=0)
    np.testing.assert_allclose(is_large, exact, atol=0.01)


def test_reparameterised_gradients_reach_every_parameter_and_match_the_exact_elbo_gradient():
    config, encoder, decoder = one_dimensional_model(hidden=(3,))
    x = torch.from_numpy(X_TINY)
    params = [p for m in (encoder, decoder) for p in m.parameters()]
    eps = torch.randn((1, 3, 1), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    for kl_weight in (1.0, 0.0):  # with no KL term the encoder learns through z alone
        _, loss = training_objective(encoder, decoder, x, eps, kl_weight)
        grads = torch.autograd.grad(loss, params)
        assert all(bool(torch.isfinite(g).all()) and float(g.abs().sum()) > 0 for g in grads)
    # In expectation the reparameterised gradient is the ELBO's exact gradient.
    eps = torch.randn((200_000, 3, 1), generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    _, loss = training_objective(encoder, decoder, x, eps)
    sampled = torch.autograd.grad(loss, params)
    exact = torch.autograd.grad(-gauss_hermite_elbo(encoder, decoder, x).mean(), params)
    for g, e in zip(sampled, exact):
        np.testing.assert_allclose(g.numpy(), e.numpy(), atol=0.01 * float(e.abs().max()) + 1e-3)


@pytest.fixture(scope="module")
def fitted():
    torch.set_num_threads(1)
    X, vocab = planted_corpus()
    return small_model().fit(X, vocabulary=vocab), X, vocab


def test_training_lowers_validation_perplexity_below_the_start():
    X, _ = planted_corpus(n_docs=200, seed=1)
    X_val, _ = planted_corpus(n_docs=40, seed=2)
    model = small_model(max_epochs=15).fit(X, X_val=X_val)
    config = NVDMConfig(n_words=X.shape[1], n_units=3, encoder_hidden=(16,))
    encoder, decoder = build(config, sp.csr_matrix(X, dtype=np.float32), seed=0)
    lengths = np.asarray(X_val.sum(axis=1), dtype=np.float64).ravel()
    start = val_perplexity(encoder, decoder, CSRRows(X_val), lengths, seed=0)
    assert model.best_val_perplexity_bound_ < 0.8 * start
    assert model.history_[-1]["val_perplexity_bound"] < model.history_[0]["val_perplexity_bound"]
    # 24 words, a document uses 6 or 12 of them uniformly: the perplexity of the truth is about 9.
    assert model.perplexity(X_val, estimator="is") < 12


def test_transform_word_distributions_and_orientation(fitted):
    model, X, vocab = fitted
    mu = model.transform(X)
    assert mu.shape == (X.shape[0], 3) and mu.dtype == np.float64 and np.all(np.isfinite(mu))
    assert np.abs(mu).max() > KIND.active_threshold  # the dimensions are used
    # Oriented: at least as many documents beyond +1 as beyond -1 on every dimension.
    assert np.all((mu > 1).sum(0) >= (mu < -1).sum(0))
    P = model.word_distributions()
    np.testing.assert_allclose(P.sum(1), 1.0)
    R, b = model.unit_word().T, model.decoder_.words.bias.detach().double().numpy()
    logits = b[None, :] + WORD_SCALE * R.T
    np.testing.assert_allclose(P, np.exp(logits - logsumexp(logits, axis=1, keepdims=True)), rtol=1e-10)
    assert model.get_feature_names_out().tolist() == ["dimension0", "dimension1", "dimension2"]
    assert len(model.top_words(4)) == 3


def test_estimates_are_seeded_and_empty_documents_score_zero(fitted):
    model, X, _ = fitted
    Xe = sp.vstack([X[:3], sp.csr_matrix((1, X.shape[1]))]).tocsr()
    for estimate in (model.log_likelihood_bound, model.log_likelihood_is):
        a, b = estimate(Xe, random_state=3), estimate(Xe, random_state=3)
        np.testing.assert_array_equal(a, b)
        assert a.dtype == np.float64 and a[3] == 0.0 and np.all(a[:3] < 0)
        assert not np.array_equal(a, estimate(Xe, random_state=4))
    X_obs, X_held, _ = split_for_completion(X[:4])
    X_held = sp.vstack([X_held[:3], sp.csr_matrix((1, X.shape[1]))]).tocsr()
    c = model.log_likelihood_completion(X_obs, X_held)
    assert c.shape == (4,) and c[3] == 0.0 and np.all(c[:3] < 0)
    with pytest.raises(ModelError, match="same shape"):
        model.log_likelihood_completion(X_obs[:2], X_held)
    with pytest.raises(ModelError, match="n_samples"):
        model.log_likelihood_is(X, n_samples=0)
    with pytest.raises(ModelError, match="trained on 24 words"):
        model.transform(np.ones((2, 5)))


def test_save_load_round_trip(fitted, tmp_path):
    model, X, vocab = fitted
    model.save(tmp_path / "m")
    assert (tmp_path / "m" / "vocab.txt").read_text().split() == list(vocab.words)
    back = NVDMTopicModel.load(tmp_path / "m")
    np.testing.assert_array_equal(back.transform(X[:20]), model.transform(X[:20]))
    for name in ("log_likelihood_bound", "log_likelihood_is"):
        np.testing.assert_array_equal(getattr(back, name)(X[:20], random_state=2), getattr(model, name)(X[:20], random_state=2))
    X_obs, X_held, _ = split_for_completion(X[:20])
    np.testing.assert_array_equal(back.log_likelihood_completion(X_obs, X_held), model.log_likelihood_completion(X_obs, X_held))
    np.testing.assert_array_equal(back.word_distributions(), model.word_distributions())
    assert back.top_words(3) == model.top_words(3)
    assert back.get_params() == {**model.get_params(), "n_threads": None}
    assert back.best_val_perplexity_bound_ == model.best_val_perplexity_bound_ and back.n_iter_ == model.n_iter_


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: d["state"].pop("decoder.words.weight"), "Missing key.*words.weight"),
        (lambda d: d["state"].__setitem__("encoder.mean.bias", torch.zeros(7)), "size mismatch"),
        (lambda d: d["config"]["params"].__setitem__("colour", "red"), "colour"),
        (lambda d: d["state"].__setitem__("word_frequencies", torch.zeros(2)), "word_frequencies"),
        (lambda d: d["state"]["decoder.words.bias"].fill_(float("nan")), "not all finite"),
    ],
)
def test_malformed_checkpoint_is_one_clear_error(fitted, tmp_path, damage, message):
    model, _, _ = fitted
    path = model.save(tmp_path / "m.pt")
    data = load_checkpoint(path, kind="nvdm")
    damage(data)
    with pytest.raises(ModelError, match=message) as info:
        NVDMTopicModel.from_checkpoint(data)
    assert "\n" not in str(info.value)


def test_reproducible_with_seed():
    X, _ = planted_corpus(n_docs=120)
    a, b = small_model(max_epochs=3).fit(X), small_model(max_epochs=3).fit(X)
    np.testing.assert_array_equal(a.transform(X), b.transform(X))
    c = small_model(max_epochs=3, random_state=1).fit(X)
    assert not np.array_equal(a.transform(X), c.transform(X))


def test_callback_can_stop_and_the_best_is_kept():
    X, _ = planted_corpus(n_docs=120)
    seen = []
    m = small_model(max_epochs=50).fit(X, callback=lambda e: "val_perplexity_bound" in e and (seen.append(e) or len(seen) >= 3))
    assert m.stopped_ == "cancelled" and m.n_iter_ == 3 and len(seen) == 3
    assert m.best_val_perplexity_bound_ == min(e["val_perplexity_bound"] for e in seen)
    assert {"train_elbo", "kl_weight", "clipped_steps", "seconds"} <= set(seen[0])


def test_kl_warm_up_weighs_the_loss_only():
    X, _ = planted_corpus(n_docs=120)  # 108 training documents: 4 minibatches of 32 an epoch
    m = small_model(max_epochs=4, kl_warmup_epochs=8).fit(X)
    # The weight of the last minibatch of epoch e is (e - 1 + 3/4) / 8.
    np.testing.assert_allclose([e["kl_weight"] for e in m.history_], [(e - 0.25) / 8 for e in range(1, 5)])
    # The reported ELBO has the full KL whatever the loss's weight; only the loss changes.
    config, encoder, decoder = tiny_networks()
    eps = torch.randn((2, 3, 2), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    x = torch.from_numpy(X_TINY)
    elbo_0, loss_0 = training_objective(encoder, decoder, x, eps, 0.0)
    elbo_1, loss_1 = training_objective(encoder, decoder, x, eps, 1.0)
    mu, log_sigma = encoder(x)
    kl = gaussian_kl(mu, log_sigma).detach()
    torch.testing.assert_close(elbo_0, elbo_1)
    z = mu + log_sigma.exp() * eps
    reconstruction = (decoder.word_log_probs(z) * x).sum(-1).mean(0).detach()
    torch.testing.assert_close(elbo_1, reconstruction - kl)
    torch.testing.assert_close(loss_0 - loss_1, -kl.mean())


def test_encoder_dropout_hides_whole_words_from_the_encoder_only():
    config, encoder, decoder = tiny_networks(n_words=4)
    x = torch.from_numpy(X_TINY)
    eps = torch.randn((2, 3, 2), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    # Dropout 0 draws nothing and is the plain objective.
    gen = torch.Generator().manual_seed(5)
    plain = training_objective(encoder, decoder, x, eps)
    same = training_objective(encoder, decoder, x, eps, 1.0, 0.0, gen)
    for a, b in zip(plain, same):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert torch.equal(gen.get_state(), torch.Generator().manual_seed(5).get_state())
    # With dropout the encoder sees the document with the dropped words' counts set to 0 (the
    # mask being the generator's uniform draws below p); the decoder still scores every word.
    p = 0.4
    keep = torch.rand(x.shape, generator=torch.Generator().manual_seed(7), dtype=x.dtype) >= p
    assert 0 < int(keep.sum()) < keep.numel()
    elbo, loss = training_objective(encoder, decoder, x, eps, 1.0, p, torch.Generator().manual_seed(7))
    mu, log_sigma = encoder(x * keep)
    z = mu + log_sigma.exp() * eps
    reconstruction = (decoder.word_log_probs(z) * x).sum(-1).mean(0)
    expected = reconstruction - gaussian_kl(mu, log_sigma)
    torch.testing.assert_close(elbo, expected.detach())
    torch.testing.assert_close(loss, -expected.mean())
    # Words are dropped at rate p.
    f = encoder.features(torch.ones((400, 4), dtype=torch.float64), p, torch.Generator().manual_seed(1))
    dropped = torch.isclose(f, -encoder.input_mean.expand_as(f)).double().mean()
    assert abs(float(dropped) - p) < 0.05


def test_encoder_dropout_reaches_training_and_is_kept_by_the_checkpoint(tmp_path):
    X, _ = planted_corpus(n_docs=120)
    m = small_model(max_epochs=3, encoder_dropout=0.3).fit(X)
    plain = small_model(max_epochs=3).fit(X)
    assert not np.array_equal(m.transform(X), plain.transform(X))
    loaded = NVDMTopicModel.from_checkpoint(load_checkpoint(m.save(tmp_path / "m")))
    assert loaded.encoder_dropout == 0.3
    np.testing.assert_array_equal(loaded.log_likelihood_bound(X[:20]), m.log_likelihood_bound(X[:20]))


def test_encoder_steps_update_the_encoder_alone_before_each_joint_step():
    X, _ = planted_corpus(n_docs=40)
    X, X_val = sp.csr_matrix(X[:32], dtype=np.float32), sp.csr_matrix(X[32:], dtype=np.float32)
    config = NVDMConfig(n_words=X.shape[1], n_units=2, encoder_hidden=(6,))
    settings = TrainSettings(learning_rate=0.05, batch_size=32, n_samples=2, kl_warmup_epochs=0, max_epochs=1,
                             max_seconds=None, patience=None, seed=3, encoder_steps=2)
    encoder, decoder = build(config, X, 0)
    train(encoder, decoder, X, X_val, settings, torch.device("cpu"))
    # By hand: two Adam steps of the encoder's parameters, then one of all, on the epoch's one
    # minibatch, each with the next noise of the seeded stream.
    enc, dec = build(config, X, 0)
    x = torch.from_numpy(X[epoch_order(3, 1, 32)].toarray())
    everything = [*enc.parameters(), *dec.parameters()]
    opt, gen = torch.optim.Adam(everything, lr=0.05), torch.Generator().manual_seed(3)
    for update in (list(enc.parameters()), list(enc.parameters()), everything):
        eps = torch.randn((2, 32, 2), generator=gen)
        _, loss = training_objective(enc, dec, x, eps)
        opt.zero_grad(set_to_none=True)
        for p, g in zip(update, torch.autograd.grad(loss, update)):
            p.grad = g
        opt.step()
    for a, b in zip([*encoder.parameters(), *decoder.parameters()], everything):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"learning_rate": -1.0}, "learning_rate must be a positive number, got -1.0"),
        ({"batch_size": 0}, "batch_size must be an integer >= 1, got 0"),
        ({"encoder_hidden": (8, 0)}, "encoder_hidden must be a sequence of positive layer widths"),
        ({"max_grad_norm": 0.0}, "max_grad_norm must be a positive number or None"),
        ({"kl_warmup_epochs": -1}, "kl_warmup_epochs must be an integer >= 0"),
        ({"encoder_dropout": 1.0}, r"encoder_dropout must be a number in \[0, 1\), got 1.0"),
        ({"encoder_dropout": True}, "encoder_dropout must be a number"),
        ({"encoder_steps": -1}, "encoder_steps must be an integer >= 0, got -1"),
        ({"random_state": "seven"}, "random_state must be an integer or None"),
        ({"device": "tpu"}, "unknown device"),
    ],
)
def test_bad_settings_are_named(params, message):
    X, _ = planted_corpus(n_docs=40)
    with pytest.raises(ModelError, match=message):
        small_model(**params).fit(X)


def test_a_single_document_cannot_be_split_for_validation():
    with pytest.raises(ModelError, match="at least 2 non-empty"):
        small_model().fit(np.array([[1, 2, 0], [0, 0, 0]]))
