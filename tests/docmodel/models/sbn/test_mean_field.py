"""q(h | x) with mean-field updates that read the word layer (``mean_field_steps``): the updates
against a reference written apart, their expansion against the exact difference it
approximates, training left as it was, the flip of a unit, and the option's limits."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from corpora import Corpus, Dataset
from corpora.vocabulary import Vocabulary
from docmodel.cli import main
from docmodel.errors import ModelError
from docmodel.models.lda.estimator import LDATopicModel
from docmodel.models.sbn import MEAN_FIELD_STEPS
from docmodel.models.sbn.estimator import SBNTopicModel
from docmodel.models.sbn.networks import SBNConfig
from docmodel.models.sbn.orientation import flip_units
from docmodel.models.sbn.persistence import payload
from tests.docmodel.models.sbn.sbn_exact import (
    enumerate_layers,
    exact_elbo,
    exact_log_px,
    exact_terms,
    tiny_networks,
)
from tests.docmodel.models.sbn.test_nvil_exact import _doc
from tests.docmodel.models.sbn.test_orientation import dyadic_networks, planted_counts


def reference_updates(base, x, U, b, a, steps, damping):
    """The damped updates unit by unit with explicit sums over the words (one document)."""
    V, K = U.shape
    logits = [float(v) for v in base]
    n = float(x.sum())
    for _ in range(steps):
        mu = [1.0 / (1.0 + math.exp(-v)) for v in logits]
        z = [float(b[w]) + sum(float(U[w, j]) * mu[j] for j in range(K)) for w in range(V)]
        top = max(z)
        e = [math.exp(v - top) for v in z]
        pi = [v / sum(e) for v in e]
        new = []
        for k in range(K):
            e1 = sum(pi[w] * float(U[w, k]) for w in range(V))
            e2 = sum(pi[w] * float(U[w, k]) ** 2 for w in range(V))
            d = e1 + (0.5 - mu[k]) * (e2 - e1 * e1)
            target = float(a[k]) + sum(float(x[w]) * float(U[w, k]) for w in range(V)) - n * d
            new.append((1 - damping) * logits[k] + damping * target)
        logits = new
    return torch.tensor(logits, dtype=torch.float64)


def test_updates_match_a_reference_written_apart():
    model, encoder, _ = tiny_networks((4,), mean_field_steps=3)
    U, b, a = model.visible.weight.detach(), model.visible.bias.detach(), model.prior_logits.detach()
    for seed in range(3):
        x = _doc(seed=seed)
        base = encoder.first(encoder.features(x[None]))  # l_0 = f(x)
        got = encoder.first_logits(x[None], model=model)[0]
        ref = reference_updates(base[0].detach(), x, U, b, a, steps=3, damping=0.5)
        torch.testing.assert_close(got.detach(), ref, rtol=1e-10, atol=1e-10)
        assert not torch.allclose(got, base[0])  # the updates moved the logits


def test_expansion_approximates_the_exact_difference_it_stands_for():
    """d_k = E_pi[U_k] + (1/2 - mu_k) Var_pi[U_k] is lse(z + (1 - mu_k) U_k) - lse(z - mu_k U_k)
    to third order in U: its error shrinks as the cube of the weights' scale."""
    torch.manual_seed(0)
    V, K = 30, 5
    U0, b = torch.randn(V, K, dtype=torch.float64), torch.randn(V, dtype=torch.float64)
    mu = torch.rand(K, dtype=torch.float64)
    errors = []
    for scale in (0.2, 0.1):
        U = U0 * scale
        z = b + U @ mu
        pi = torch.softmax(z, 0)
        m1 = pi @ U
        d = m1 + (0.5 - mu) * (pi @ (U * U) - m1 * m1)
        exact = torch.stack([torch.logsumexp(z + (1 - mu[k]) * U[:, k], 0) - torch.logsumexp(z - mu[k] * U[:, k], 0)
                             for k in range(K)])
        errors.append((d - exact).abs().max().item())
    assert errors[0] < 1e-2 and errors[1] < errors[0] / 6  # third order: halving the scale divides by ~8


def test_training_is_the_same_and_only_the_fitted_q_changes():
    """The network f is trained by NVIL alone: the same seed gives the same parameters with and
    without the updates; the fitted q differs, and its bound on the training documents is tighter."""
    torch.set_num_threads(1)
    X = planted_counts()
    plain = SBNTopicModel(n_units=4, max_epochs=15, random_state=0, mean_field_steps=0).fit(X)
    updated = SBNTopicModel(n_units=4, max_epochs=15, random_state=0, mean_field_steps=5).fit(X)
    for a, b in zip(plain.nets_.model.parameters(), updated.nets_.model.parameters()):
        assert torch.equal(a, b)
    for a, b in zip(plain.nets_.encoder.parameters(), updated.nets_.encoder.parameters()):
        assert torch.equal(a, b)
    assert [h["val_perplexity_bound"] for h in plain.history_] == [h["val_perplexity_bound"] for h in updated.history_]
    assert not np.allclose(plain.transform(X), updated.transform(X))
    assert updated.perplexity(X, random_state=2) < plain.perplexity(X, random_state=2)


def test_flip_keeps_q_with_mean_field_steps():
    nets = dyadic_networks((4,), mean_field_steps=2)
    x = torch.tensor([3.0, 0, 1, 0, 0, 2, 1, 0, 5], dtype=torch.float64)
    flip = torch.tensor([True, False, True, False])
    states = [h[:, None, :] for h in enumerate_layers((4,))]
    flipped = [states[0].clone()]
    flipped[0][..., flip] = 1.0 - flipped[0][..., flip]
    before = exact_terms(nets.model, nets.encoder, x, states)
    elbo = exact_elbo(nets.model, nets.encoder, x)
    flip_units(nets, flip)
    after = exact_terms(nets.model, nets.encoder, x, flipped)
    for b, a in zip(before[0] + before[1], after[0] + after[1]):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-9)
    torch.testing.assert_close(exact_elbo(nets.model, nets.encoder, x), elbo, rtol=0, atol=1e-9)
    assert exact_elbo(nets.model, nets.encoder, x) <= exact_log_px(nets.model, nets.encoder, x)


@pytest.mark.parametrize("options", [
    {"layers": (4, 3)}, {"prior": "autoregressive"}, {"inference": "autoregressive"},
], ids=["two-layers", "fdarn", "ar-q"])
def test_mean_field_steps_are_refused_where_they_are_not_defined(options):
    with pytest.raises(ModelError, match="mean_field_steps needs a one-layer model with a factorial prior"):
        SBNConfig(n_words=5, mean_field_steps=2, **options)
    with pytest.raises(ModelError, match=r"mean_field_steps must be in \[0, 50\]"):
        SBNConfig(n_words=5, mean_field_steps=-1)
    model, encoder, _ = tiny_networks((4,), mean_field_steps=1)
    with pytest.raises(ModelError, match="pass model="):
        encoder.first_logits(_doc()[None])
    X = planted_counts(n_docs=60)
    with pytest.raises(ModelError, match="mean_field_steps needs a one-layer model"):
        SBNTopicModel(n_units=3, max_epochs=1, mean_field_steps=1, **({"layers": (3, 2)} if "layers" in options else options)).fit(X)


@pytest.mark.parametrize("options, steps", [
    ({}, MEAN_FIELD_STEPS), ({"layers": (4, 3)}, 0), ({"prior": "autoregressive"}, 0), ({"inference": "autoregressive"}, 0),
], ids=["one-layer", "two-layers", "fdarn", "ar-q"])
def test_the_default_gives_the_updates_wherever_they_apply_and_none_elsewhere(tmp_path, options, steps):
    torch.set_num_threads(1)
    X = planted_counts(n_docs=60)
    model = SBNTopicModel(n_units=4, max_epochs=2, random_state=0, **options).fit(X)
    assert model.mean_field_steps == "auto"  # the parameter stays as given (scikit-learn's contract)
    assert model.config_.mean_field_steps == model.nets_.encoder.mean_field_steps == steps
    model.save(tmp_path / "m")
    assert SBNTopicModel.load(tmp_path / "m").nets_.encoder.mean_field_steps == steps
    if steps:
        assert model.set_mean_field_steps(0).nets_.encoder.mean_field_steps == 0
        assert model.set_mean_field_steps("auto").nets_.encoder.mean_field_steps == steps
    for bad in ("five", 2.5, True):
        with pytest.raises(ModelError, match="mean_field_steps must be 'auto' or a whole number"):
            SBNTopicModel(n_units=4, mean_field_steps=bad).fit(X)


def test_a_model_saved_without_the_parameter_keeps_the_q_it_was_scored_with():
    """Models saved before the updates existed have no ``mean_field_steps``: they load with none."""
    torch.set_num_threads(1)
    X = planted_counts(n_docs=60)
    model = SBNTopicModel(n_units=4, max_epochs=2, random_state=0, mean_field_steps=0).fit(X)
    data = payload(model)
    del data["config"]["params"]["mean_field_steps"], data["config"]["architecture"]["mean_field_steps"]
    back = SBNTopicModel.from_checkpoint(data)
    assert back.mean_field_steps == back.nets_.encoder.mean_field_steps == 0
    np.testing.assert_array_equal(back.transform(X), model.transform(X))


@pytest.mark.parametrize("algorithm", ["nvil", "wake-sleep", "relaxed"])
def test_estimator_trains_scores_and_saves_with_mean_field_steps(tmp_path, algorithm):
    torch.set_num_threads(1)
    X = planted_counts()
    # Without the coherence and overlap terms (tested in test_coherence_prior.py): on this 20-word
    # toy wake-sleep's 30 epochs move the bound by hundredths, and the terms' pull decides the sign.
    model = SBNTopicModel(n_units=4, max_epochs=30, random_state=0, mean_field_steps=2, algorithm=algorithm,
                          coherence_weight=0.0, overlap_weight=0.0).fit(X)
    history = [h["val_perplexity_bound"] for h in model.history_]
    assert history[-1] < history[0]
    q = model.transform(X)
    assert q.shape == (X.shape[0], 4) and np.all((q >= 0) & (q <= 1))
    assert np.all((q > 0.5).mean(axis=0) <= 0.5)  # units still presented by their rarer state
    bound = model.log_likelihood_bound(X[:40], random_state=1)
    assert np.all(bound <= 0) and np.isfinite(model.perplexity(X[:40], estimator="is"))
    model.save(tmp_path / "m")
    back = SBNTopicModel.load(tmp_path / "m")
    assert back.mean_field_steps == 2 and back.nets_.encoder.mean_field_steps == 2
    np.testing.assert_array_equal(back.transform(X[:20]), model.transform(X[:20]))
    np.testing.assert_array_equal(back.log_likelihood_bound(X[:40], random_state=1), bound)


def test_cli_trains_with_and_evaluates_with_mean_field_steps(tmp_path, capsys):
    """``docmodel train --mean-field-steps`` keeps them with the model; ``docmodel evaluate
    --mean-field-steps`` scores a saved model's q with another number of them, and names the
    problem for another kind or an impossible number."""
    X = planted_counts(n_docs=200)
    vocab = tuple(f"w{i}" for i in range(X.shape[1]))
    ids = [f"d{i}" for i in range(200)]
    Dataset(Corpus(X[:160], Vocabulary(vocab), ids[:160]), Corpus(X[160:], Vocabulary(vocab), ids[160:])).save(tmp_path / "corpus")
    assert main(["train", str(tmp_path / "corpus"), "--units", "4", "--epochs", "5", "--val-docs", "20",
                 "--mean-field-steps", "3", "-o", str(tmp_path / "model")]) == 0
    assert SBNTopicModel.load(tmp_path / "model").mean_field_steps == 3
    figures = {}
    for steps in ("0", "3"):
        assert main(["evaluate", str(tmp_path / "model"), str(tmp_path / "corpus"), "--samples", "10",
                     "--mean-field-steps", steps, "--json", str(tmp_path / f"{steps}.json")]) == 0
        figures[steps] = json.loads((tmp_path / f"{steps}.json").read_text())
    assert (figures["0"]["mean_field_steps"], figures["3"]["mean_field_steps"]) == (0, 3)
    assert figures["3"]["perplexity_bound"] < figures["0"]["perplexity_bound"]
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "model"), str(tmp_path / "corpus"), "--mean-field-steps", "99"]) == 2
    assert "mean_field_steps must be in [0, 50]" in capsys.readouterr().err
    LDATopicModel(2, max_iter=2).fit(X, vocabulary=Vocabulary(vocab)).save(tmp_path / "lda")
    assert main(["evaluate", str(tmp_path / "lda"), str(tmp_path / "corpus"), "--mean-field-steps", "2"]) == 2
    assert "--mean-field-steps applies to SBN models" in capsys.readouterr().err
