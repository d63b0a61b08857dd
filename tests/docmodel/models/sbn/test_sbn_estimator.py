"""SBNTopicModel: the estimator contract, training on planted structure, checkpoints, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from corpora import Corpus, Dataset, Vocabulary
from docmodel.base import is_validation
from docmodel.checkpoint import load_model
from docmodel.cli import main
from docmodel.errors import ModelError, NotFittedError
from docmodel.evaluation import evaluate
from docmodel.models.sbn import PRESETS
from docmodel.models.sbn.estimator import SBNTopicModel


def planted_corpus(n_docs=400, n_blocks=4, words_per_block=8, length=40, seed=0):
    """Documents that each draw their words from one or two of ``n_blocks`` disjoint word blocks."""
    rng = np.random.default_rng(seed)
    V = n_blocks * words_per_block
    rows = []
    for _ in range(n_docs):
        blocks = rng.choice(n_blocks, size=rng.integers(1, 3), replace=False)
        p = np.zeros(V)
        for b in blocks:
            p[b * words_per_block : (b + 1) * words_per_block] = 1.0
        rows.append(rng.multinomial(length, p / p.sum()))
    vocab = Vocabulary(tuple(f"w{b}_{i}" for b in range(n_blocks) for i in range(words_per_block)))
    return sp.csr_matrix(np.array(rows)), vocab


def small_model(**kw):
    """A small SBN of the paper's kind (the ``perplexity`` preset: signed weights, learned prior)."""
    defaults = dict(n_units=6, max_epochs=40, batch_size=32, n_val_docs=40, patience=40, learning_rate=1e-2,
                    **PRESETS["perplexity"])
    defaults.update(kw)
    return SBNTopicModel(**defaults)


@pytest.fixture(scope="module")
def fitted():
    X, vocab = planted_corpus()
    torch.set_num_threads(1)
    return small_model().fit(X, vocabulary=vocab), X, vocab


def test_init_stores_parameters_only():
    m = SBNTopicModel(n_units=7, learning_rate=0.5)
    assert m.n_units == 7 and m.learning_rate == 0.5
    assert not hasattr(m, "nets_")
    with pytest.raises(NotFittedError):
        m.transform(np.zeros((1, 3)))


def test_training_improves_bound_and_finds_planted_blocks(fitted):
    model, X, vocab = fitted
    history = model.history_
    assert history[-1]["val_perplexity_bound"] < history[0]["val_perplexity_bound"]
    # A uniform model over 32 words has perplexity 32; documents use 8 or 16 words.
    assert model.perplexity(X[:100]) < 20
    # Each block's words should be the top words of some unit.
    top = model.top_words(8)
    blocks_found = {w[:3] for words in top for w in words[:3] if all(x[:3] == w[:3] for x in words[:3])}
    assert len(blocks_found) >= 3, top


def test_transform_shape_and_range(fitted):
    model, X, _ = fitted
    P = model.transform(X[:10])
    assert P.shape == (10, 6)
    assert np.all((P >= 0) & (P <= 1))


def test_estimators_order(fitted):
    model, X, _ = fitted
    bound = model.log_likelihood_bound(X[:50], n_samples=10)
    is_ = model.log_likelihood_is(X[:50], n_samples=200)
    # The importance-sampled estimate is tighter than the bound on average.
    assert is_.mean() >= bound.mean()
    r = evaluate(model, X[:50], n_samples=50)
    assert r["perplexity_is"] <= r["perplexity_bound"]
    assert r["n_docs"] == 50


def test_reproducible_with_seed():
    X, vocab = planted_corpus(n_docs=200)
    a = small_model(max_epochs=3).fit(X)
    b = small_model(max_epochs=3).fit(X)
    np.testing.assert_array_equal(a.unit_word(), b.unit_word())
    c = small_model(max_epochs=3, random_state=1).fit(X)
    assert not np.array_equal(a.unit_word(), c.unit_word())


def test_callback_can_stop_and_best_is_kept():
    X, _ = planted_corpus(n_docs=200)
    seen = []

    def stop_at_the_second_validation(metrics):
        if is_validation(metrics):
            seen.append(metrics)
        return len(seen) >= 2

    m = small_model(max_epochs=50).fit(X, callback=stop_at_the_second_validation)
    assert len(seen) == 2 and m.stopped_ == "cancelled"
    assert {"epoch", "seconds", "val_perplexity_bound", "progress"} <= set(seen[0])


@pytest.mark.parametrize("algorithm", ["wake-sleep", "reinforce"])
def test_other_algorithms_train(algorithm):
    X, _ = planted_corpus(n_docs=200)
    m = small_model(algorithm=algorithm, max_epochs=5).fit(X)
    assert np.isfinite(m.best_val_perplexity_bound_)


def test_two_layer_model_with_local_signals():
    X, _ = planted_corpus(n_docs=200)
    m = small_model(layers=(6, 3), max_epochs=10).fit(X)
    assert m.n_units_ == 6
    assert np.isfinite(m.perplexity(X[:20], estimator="is"))


def test_save_load_round_trip(fitted, tmp_path):
    model, X, vocab = fitted
    model.save(tmp_path / "m")
    assert (tmp_path / "m" / "vocab.txt").read_text().split() == list(vocab.words)
    back = load_model(tmp_path / "m")
    assert isinstance(back, SBNTopicModel)
    np.testing.assert_allclose(back.transform(X[:5]), model.transform(X[:5]))
    np.testing.assert_allclose(
        back.log_likelihood_bound(X[:5], random_state=3), model.log_likelihood_bound(X[:5], random_state=3)
    )
    assert back.top_words(3) == model.top_words(3)


def test_wrong_vocabulary_size_is_refused(fitted):
    model, _, _ = fitted
    with pytest.raises(ModelError, match="trained on 32 words"):
        model.transform(np.ones((2, 5)))


def test_small_corpora_hold_out_a_tenth_for_validation():
    X, _ = planted_corpus(n_docs=50)
    m = SBNTopicModel(n_units=3, max_epochs=1).fit(X)
    assert m.history_ and np.isfinite(m.best_val_perplexity_bound_)
    with pytest.raises(ModelError, match="at least 2 non-empty training documents"):
        SBNTopicModel(n_units=3).fit(X[:1])


def test_bad_settings_are_named():
    X, _ = planted_corpus(n_docs=200)
    with pytest.raises(ModelError, match="algorithm must be one of"):
        small_model(algorithm="magic").fit(X)
    with pytest.raises(ModelError, match="batch_size must be at least 1"):
        small_model(batch_size=0).fit(X)
    with pytest.raises(ModelError, match="encoder_dropout must be in"):
        small_model(encoder_dropout=1.0).fit(X)
    with pytest.raises(ModelError, match="batch_size must be a positive integer or 'auto'"):
        small_model(batch_size="large").fit(X)


def test_automatic_minibatch_and_length_weights_follow_the_training_documents():
    from docmodel.models.batching import auto_batch_size

    assert [auto_batch_size(n) for n in (10, 1280, 2000, 11_000, 10**6)] == [64, 64, 100, 512, 512]
    lengths = np.array([10.0, 40.0, 40.0])
    cfg = SBNTopicModel()._train_config(lengths)
    assert cfg.batch_size == 64
    # The harmonic mean: weights ref / N_d average 1 over the documents.
    assert cfg.variance_reduction.length_reference == pytest.approx(20.0)
    assert np.mean(cfg.variance_reduction.length_reference / lengths) == pytest.approx(1.0)
    assert SBNTopicModel(encoder_length_weights=False)._train_config(lengths).variance_reduction.length_reference == 0
    assert SBNTopicModel(batch_size=7)._train_config(np.ones(50_000)).batch_size == 7


def test_encoder_dropout_keeps_the_logits_in_expectation_and_is_off_by_default():
    from docmodel.models.sbn.networks import InferenceNetwork, SBNConfig

    torch.manual_seed(0)
    encoder = InferenceNetwork(SBNConfig(n_words=30, layers=(4,))).double()
    x = torch.poisson(torch.full((3, 30), 2.0, dtype=torch.float64))
    plain = encoder.first_logits(x)
    gen = torch.Generator().manual_seed(1)
    dropped = torch.stack([encoder.first_logits(x, 0.2, gen) for _ in range(4000)])
    assert not torch.allclose(dropped[0], plain)  # a mask was applied
    se = dropped.std(0) / np.sqrt(len(dropped))
    assert torch.all((dropped.mean(0) - plain).abs() < 5 * se + 1e-9)  # rescaled, so unbiased
    assert torch.equal(encoder.first_logits(x), plain)  # no dropout unless asked


def test_word_dropout_removes_whole_words_from_qs_view():
    from docmodel.models.sbn.networks import InferenceNetwork, SBNConfig

    torch.manual_seed(0)
    encoder = InferenceNetwork(SBNConfig(n_words=400, layers=(4,))).double()
    encoder.input_mean.copy_(torch.rand(400, dtype=torch.float64))
    encoder.first = torch.nn.Identity()  # the logits are then the features themselves
    x = torch.poisson(torch.full((3, 400), 2.0, dtype=torch.float64))
    f = encoder.features(x)
    seen = encoder.first_logits(x, 0.3, torch.Generator().manual_seed(1), encoder_dropout_words=True)
    removed = ~torch.isclose(seen, f)
    # A removed word looks exactly like an absent one; the others are untouched (not rescaled).
    assert torch.allclose(seen[removed], encoder.features(torch.zeros_like(x))[removed])
    assert abs(removed[x > 0].double().mean().item() - 0.3) < 0.04


def test_dreams_train_q_and_the_baselines_but_not_the_model():
    from docmodel.models.sbn.networks import SBN, Baselines, InferenceNetwork, SBNConfig
    from docmodel.models.sbn.nvil import RunningStats, VarianceReduction, nvil_estimate
    from docmodel.models.sbn.wake_sleep import nvil_on_dreams

    torch.manual_seed(0)
    config = SBNConfig(n_words=40, layers=(5, 3))
    model, encoder, baselines = SBN(config), InferenceNetwork(config), Baselines(config)
    x = torch.poisson(torch.full((6, 40), 1.5))
    lengths = x.sum(1).long()
    stats, vr = RunningStats.initial(2), VarianceReduction()
    nets = (model, encoder, baselines)

    def grads(with_dreams):
        for m in nets:
            m.zero_grad(set_to_none=True)
        gen = torch.Generator().manual_seed(1)
        out = nvil_estimate(model, encoder, baselines, x, stats, vr, 2, gen)
        loss = out.surrogate + out.baseline_loss
        if with_dreams:
            d = nvil_on_dreams(model, encoder, baselines, 12, lengths, stats, vr, 2, gen)
            loss = loss + 2.0 * (d.surrogate + d.baseline_loss)
        loss.backward()
        return [[p.grad.clone() for p in m.parameters()] for m in nets]

    plain, dreamt = grads(False), grads(True)
    assert all(torch.equal(a, b) for a, b in zip(plain[0], dreamt[0]))  # the model: real documents only
    for part in (1, 2):  # q and the baselines learn from the dreams too
        assert any(not torch.allclose(a, b) for a, b in zip(plain[part], dreamt[part]))
    assert all(p.requires_grad for p in model.parameters())  # unfrozen afterwards


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"encoder_dreams": -1.0}, "encoder_dreams must be in"),
    ({"encoder_dreams": 1.0, "algorithm": "wake-sleep"}, "nvil training only"),
    ({"sample_baseline": True, "n_samples": 1}, "needs n_samples of at least 2"),
])
def test_nvil_options_are_validated(kwargs, message):
    X, _ = planted_corpus(n_docs=60)
    with pytest.raises(ModelError, match=message):
        small_model(**kwargs).fit(X)


def test_cli_train_evaluate_topics(tmp_path, capsys):
    X, vocab = planted_corpus(n_docs=300)
    ids = [f"d{i}" for i in range(300)]
    train = Corpus(X[:240], vocab, ids[:240])
    test = Corpus(X[240:], vocab, ids[240:])
    Dataset(train, test).save(tmp_path / "corpus")
    rc = main(["train", str(tmp_path / "corpus"), "--units", "5", "--epochs", "3", "--val-docs", "40", "-o", str(tmp_path / "model")])
    assert rc == 0
    rc = main(["evaluate", str(tmp_path / "model"), str(tmp_path / "corpus"), "--samples", "20", "--json", str(tmp_path / "e.json")])
    assert rc == 0
    figures = json.loads((tmp_path / "e.json").read_text())
    for key in ("perplexity_bound", "perplexity_is", "perplexity_completion", "elbo_per_doc", "n_docs", "n_tokens"):
        assert key in figures
    assert figures["n_docs"] == 60
    capsys.readouterr()
    rc = main(["topics", str(tmp_path / "model"), "--top", "4"])
    out = capsys.readouterr().out
    assert rc == 0 and "relevance" in out and len(out.strip().splitlines()) == 6


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "nope"), str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert "model file not found" in err and "Traceback" not in err
    assert main(["train", str(tmp_path / "nope"), "-o", str(tmp_path / "m")]) == 2
    assert "corpus directory not found" in capsys.readouterr().err


def test_cli_training_that_fails_leaves_no_empty_output_folder(tmp_path, capsys):
    X, vocab = planted_corpus(n_docs=120)
    Dataset(Corpus(X, vocab, [f"d{i}" for i in range(120)])).save(tmp_path / "corpus")
    bad = ["train", str(tmp_path / "corpus"), "--units", "3", "--epochs", "1", "--learning-rate", "-1"]
    assert main([*bad, "-o", str(tmp_path / "new" / "model")]) == 2
    assert "learning_rate must be positive" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()
    # A folder that was there before is left as it was, contents and all.
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    assert main([*bad, "-o", str(tmp_path / "mine")]) == 2
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"
    (tmp_path / "empty").mkdir()
    assert main([*bad, "-o", str(tmp_path / "empty")]) == 2
    assert (tmp_path / "empty").is_dir()


def test_cli_baseline_learning_rate_reaches_the_estimator(tmp_path):
    X, vocab = planted_corpus(n_docs=120)
    Dataset(Corpus(X, vocab, [f"d{i}" for i in range(120)])).save(tmp_path / "corpus")
    assert main(["train", str(tmp_path / "corpus"), "--units", "3", "--epochs", "1", "--val-docs", "20",
                 "--baseline-learning-rate", "1e-4", "-o", str(tmp_path / "ok")]) == 0
    assert load_model(tmp_path / "ok").baseline_learning_rate == 1e-4
