"""The SBN's options from the NVIL paper's bench (fDARN's autoregressive prior, the autoregressive
q, the relaxed estimator) through the estimator: training, checkpoints, settings, CLI, compare."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from corpora import Corpus, Dataset
from docmodel.checkpoint import load_checkpoint, load_model
from docmodel.cli import build_parser, main
from docmodel.cli_commands.train import build_model
from docmodel.compare import CompareSettings
from docmodel.compare import build_model as compare_model
from docmodel.errors import ModelError
from docmodel.models import REGISTRY
from docmodel.models.sbn import MEAN_FIELD_STEPS, PRESETS
from docmodel.models.sbn.config import train_config
from docmodel.models.sbn.estimator import SBNTopicModel
from docmodel.models.sbn.persistence import payload
from docmodel.models.sbn.training import train
from tests.docmodel.models.sbn.test_sbn_estimator import planted_corpus, small_model

AR_BOTH = {"prior": "autoregressive", "inference": "autoregressive"}


@pytest.mark.parametrize("options", [
    {"prior": "autoregressive"},
    {"inference": "autoregressive"},
    {**AR_BOTH, "algorithm": "wake-sleep"},
    {"prior": "autoregressive", "encoder_dreams": 0.5},
], ids=["fdarn", "ar-q", "wake-sleep", "fdarn-dreams"])
def test_autoregressive_options_train(options):
    X, _ = planted_corpus(n_docs=300)
    torch.set_num_threads(1)
    model = small_model(max_epochs=20, **options).fit(X)
    history = [h["val_perplexity_bound"] for h in model.history_]
    assert len(history) >= 2 and history[-1] < history[0]
    assert model.perplexity(X[:100]) < 22  # uniform over 32 words: 32
    couplings = model.nets_.model.prior_weight if model.prior == "autoregressive" else model.nets_.encoder.ar_weights[0]
    assert couplings.detach().abs().sum() > 0  # learned from 0
    assert torch.equal(couplings.detach(), torch.tril(couplings.detach(), -1))  # kept lower-triangular


@pytest.fixture(scope="module")
def fitted_ar():
    X, vocab = planted_corpus(n_docs=200)
    torch.set_num_threads(1)
    return small_model(max_epochs=3, algorithm="relaxed", relaxed_temperature=0.7, **AR_BOTH).fit(X, vocabulary=vocab), X


def test_checkpoint_round_trip_keeps_the_options(fitted_ar, tmp_path):
    model, X = fitted_ar
    model.save(tmp_path / "m")
    back = load_model(tmp_path / "m")
    assert (back.prior, back.inference, back.algorithm, back.relaxed_temperature) == ("autoregressive", "autoregressive", "relaxed", 0.7)
    np.testing.assert_array_equal(back.transform(X[:5]), model.transform(X[:5]))
    for name in ("log_likelihood_bound", "log_likelihood_is"):
        np.testing.assert_array_equal(getattr(back, name)(X[:5], random_state=3), getattr(model, name)(X[:5], random_state=3))
    np.testing.assert_array_equal(back.log_likelihood_completion(X[:5], X[5:10], n_samples=7),
                                  model.log_likelihood_completion(X[:5], X[5:10], n_samples=7))


def test_checkpoints_without_the_options_load_as_factorial(tmp_path):
    X, _ = planted_corpus(n_docs=100)
    model = small_model(max_epochs=1).fit(X)
    model.save(tmp_path / "m")
    data = load_checkpoint(tmp_path / "m", kind="sbn")
    for key in ("prior", "inference", "relaxed_temperature"):
        del data["config"]["params"][key]
        data["config"]["architecture"].pop(key, None)
    old = SBNTopicModel.from_checkpoint(data)
    assert (old.prior, old.inference) == ("factorial", "factorial")
    np.testing.assert_array_equal(old.transform(X[:5]), model.transform(X[:5]))
    # Options that ask for weights the checkpoint does not hold: one clear line.
    data["config"]["params"]["inference"] = "autoregressive"
    with pytest.raises(ModelError, match="checkpoint is malformed.*ar_weights"):
        SBNTopicModel.from_checkpoint(data)


def test_checkpoints_without_the_readable_unit_options_load_as_they_were_trained(tmp_path):
    """Models saved before the readable-unit options existed were trained with signed weights and a
    learned prior: they load so, whatever the defaults are now."""
    X, _ = planted_corpus(n_docs=100)
    model = small_model(max_epochs=1, **PRESETS["perplexity"]).fit(X)
    data = payload(model)
    for key in ("prior_logit", "nonnegative", "fixed_background", "weight_l1", "coherence_weight"):
        del data["config"]["params"][key]
        data["config"]["architecture"].pop(key, None)
    old = SBNTopicModel.from_checkpoint(data)
    assert (old.prior_logit, old.nonnegative, old.fixed_background, old.weight_l1, old.coherence_weight) == (
        None, False, False, 0.0, 0.0)
    assert old.nets_.model.prior_logits.requires_grad
    np.testing.assert_array_equal(old.transform(X[:5]), model.transform(X[:5]))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"prior": "darn"}, "prior must be one of factorial, autoregressive; got 'darn'"),
    ({"inference": "made"}, "inference must be one of factorial, autoregressive; got 'made'"),
    ({"algorithm": "relaxed", "relaxed_temperature": float("nan")}, "relaxed_temperature must be in"),
    ({"algorithm": "gumbel"}, "algorithm must be one of nvil, wake-sleep, reinforce, relaxed"),
])
def test_bad_options_are_named_before_any_work(kwargs, message):
    with pytest.raises(ModelError, match=message):
        small_model(**kwargs).fit(np.zeros((1, 3)))  # refused before the data are looked at


def test_distributed_training_refuses_the_relaxed_estimator():
    class TwoWorkers:
        world_size = 2

    X, _ = planted_corpus(n_docs=60)
    est = small_model(algorithm="relaxed")
    nets = est._build(X.shape[1])
    with pytest.raises(ModelError, match="distributed training supports nvil and reinforce, not relaxed"):
        train(nets, X, X[:10], train_config(est, np.ones(50)), parallel=TwoWorkers())


def _args(*argv):
    return build_parser().parse_args(["train", "corpus", "-o", "out", *argv])


def test_cli_options_reach_the_estimator_and_help_shows_their_defaults():
    model = build_model(_args("--prior", "autoregressive", "--inference", "autoregressive", "--algorithm", "relaxed",
                              "--relaxed-temperature", "0.25"))
    assert (model.prior, model.inference, model.algorithm, model.relaxed_temperature) == (
        "autoregressive", "autoregressive", "relaxed", 0.25)
    plain = build_model(_args())
    assert (plain.prior, plain.inference, plain.sample_baseline) == ("factorial", "factorial", False)
    assert build_model(_args("--sample-baseline", "--samples", "3")).sample_baseline is True
    assert (plain.mean_field_steps, build_model(_args("--mean-field-steps", "0")).mean_field_steps) == ("auto", 0)
    assert build_model(_args("--mean-field-steps", "auto")).mean_field_steps == "auto"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "corpus", "-o", "out", "--mean-field-steps", "five"])
    help_text = " ".join(build_parser()._subparsers._group_actions[0].choices["train"].format_help().split())
    default_t = REGISTRY["sbn"].defaults()["relaxed_temperature"]
    assert "fDARN's autoregressive prior (default factorial)" in help_text
    assert f"temperature of the concrete relaxation (default {default_t:g})" in help_text


def test_cli_trains_and_saves_an_autoregressive_model(tmp_path):
    X, vocab = planted_corpus(n_docs=120)
    Dataset(Corpus(X, vocab, [f"d{i}" for i in range(120)])).save(tmp_path / "corpus")
    assert main(["train", str(tmp_path / "corpus"), "--units", "3", "--epochs", "1", "--val-docs", "20",
                 "--prior", "autoregressive", "--inference", "autoregressive", "-o", str(tmp_path / "m")]) == 0
    back = load_model(tmp_path / "m")
    assert (back.prior, back.inference) == ("autoregressive", "autoregressive")


def test_compare_builds_the_new_variants():
    settings = CompareSettings(n_units=7, seed=3, sbn_params={"patience": 4}, nvil_params={"encoder_dreams": 0.5})
    fdarn, ar_q, relaxed = (compare_model(name, settings, 60.0) for name in ("fdarn_nvil", "sbn_nvil_ar", "sbn_relaxed"))
    assert (fdarn.prior, fdarn.inference, fdarn.algorithm, fdarn.encoder_dreams) == ("autoregressive", "factorial", "nvil", 0.5)
    assert (ar_q.prior, ar_q.inference, ar_q.algorithm) == ("factorial", "autoregressive", "nvil")
    net, default = (compare_model(name, settings, 60.0) for name in ("sbn_nvil_net", "sbn_nvil"))
    assert (net.mean_field_steps, net.algorithm, net.encoder_dreams, net.n_units) == (0, "nvil", 0.5, 7)
    assert default._sbn_config(5).mean_field_steps == MEAN_FIELD_STEPS
    # The relaxed estimator takes the SBN settings but not NVIL's (it has no dreams).
    assert (relaxed.algorithm, relaxed.encoder_dreams, relaxed.patience, relaxed.n_units) == ("relaxed", 0.0, 4, 7)


def test_leave_one_out_baseline_trains_and_survives_the_checkpoint(tmp_path):
    X, vocab = planted_corpus(n_docs=300)
    torch.set_num_threads(1)
    model = small_model(max_epochs=20, sample_baseline=True, n_samples=3).fit(X, vocabulary=vocab)
    history = [h["val_perplexity_bound"] for h in model.history_]
    assert len(history) >= 2 and history[-1] < history[0]
    assert model.perplexity(X[:100]) < 22  # uniform over 32 words: 32
    model.save(tmp_path / "m")
    back = load_model(tmp_path / "m")
    assert (back.sample_baseline, back.n_samples) == (True, 3)
    np.testing.assert_array_equal(back.log_likelihood_bound(X[:5], random_state=3), model.log_likelihood_bound(X[:5], random_state=3))
