"""The registry of model kinds (docmodel.models): each record agrees with its estimator, and
checkpoints, compare, the CLI and the app read it; one source of defaults and the presets."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import docmodel
from docmodel.checkpoint import load_model
from docmodel.cli import build_parser
from docmodel.cli_commands.train import build_model
from docmodel.compare import (
    DEFAULT_MODELS,
    MODEL_NAMES,
    TRAIN_ORDER,
    CompareSettings,
    device_params,
)
from docmodel.compare import build_model as compare_model
from docmodel.errors import ModelError
from docmodel.models import REGISTRY, VARIANTS, model_kind, variant
from docmodel.models.sbn import PRESETS


@pytest.mark.parametrize("kind", list(REGISTRY))
def test_each_record_agrees_with_its_estimator(kind):
    record = REGISTRY[kind]
    cls = record.estimator()
    assert (cls.kind, cls.unit_name, cls.active_threshold) == (record.kind, record.unit_name, record.active_threshold)
    assert getattr(docmodel, cls.__name__) is cls  # "from docmodel import SBNTopicModel"
    assert model_kind(cls()) is record and model_kind(kind) is record
    assert record.defaults() == {
        name: p.default for name, p in inspect.signature(cls).parameters.items() if p.default is not p.empty
    }
    for v in record.variants:
        assert variant(v.name) == (v, record)


def test_unknown_kinds_and_variants_are_refused_by_name():
    with pytest.raises(ModelError, match="unknown model kind 'nade'.*sbn, lda"):
        model_kind("nade")
    with pytest.raises(ModelError, match="unknown model 'nade'.*sbn_nvil"):
        CompareSettings(models=("nade",))


def test_compare_builds_every_variant_from_the_registry():
    assert set(MODEL_NAMES) == set(VARIANTS) and TRAIN_ORDER[0] == "lda"
    settings = CompareSettings(n_units=7, seed=3, sbn_params={"patience": 4}, nvil_params={"encoder_dreams": 0.5})
    nvil, ws, lda = (compare_model(name, settings, 60.0) for name in ("sbn_nvil", "sbn_wake_sleep", "lda"))
    assert (nvil.algorithm, nvil.encoder_dreams, nvil.patience, nvil.max_epochs) == ("nvil", 0.5, 4, 100_000)
    assert (ws.algorithm, ws.encoder_dreams, ws.patience) == ("wake-sleep", 0.0, 4)
    assert (lda.n_units, lda.patience, lda.random_state, lda.max_seconds) == (7, settings.lda_patience, 3, 60.0)
    # Per-model parameters reach that model only; a variant's defining parameters still win.
    settings = CompareSettings(model_params={"sbn_wake_sleep": {"patience": 9, "algorithm": "nvil"}, "lda": {"max_iter": 4}})
    ws, nvil, lda = (compare_model(name, settings, None) for name in ("sbn_wake_sleep", "sbn_nvil", "lda"))
    assert (ws.patience, ws.algorithm, nvil.patience == REGISTRY["sbn"].defaults()["patience"]) == (9, "wake-sleep", True)
    assert lda.max_iter == 4 and CompareSettings.from_dict(settings.to_dict()) == settings
    assert CompareSettings().models == DEFAULT_MODELS == ("sbn_nvil", "sbn_wake_sleep", "lda")
    # --device goes to every chosen model with a device, the SBNs through their own settings.
    params = device_params(MODEL_NAMES, "cuda")
    assert all(VARIANTS[n][1].kind != "sbn" and "device" in VARIANTS[n][1].defaults() for n in params)
    assert "lda" not in params and all(p == {"device": "cuda"} for p in params.values())


def _args(*argv):
    return build_parser().parse_args(["train", "corpus", "-o", "out", *argv])


@pytest.mark.parametrize("kind", list(REGISTRY))
def test_the_cli_passes_only_what_the_user_gave(kind):
    model = build_model(_args("--model", kind))
    fresh = REGISTRY[kind].estimator()()
    differs = {k for k, v in model.get_params().items() if fresh.get_params()[k] != v}
    assert differs <= {"distributed"}, differs  # every other default is the estimator's own


def test_the_cli_help_shows_the_estimators_defaults():
    help_text = " ".join(build_parser()._subparsers._group_actions[0].choices["train"].format_help().split())
    defaults = REGISTRY["sbn"].defaults()
    assert f"SBN model learning rate (default {defaults['learning_rate']:g})" in help_text
    assert f"(default {defaults['n_samples']})" in help_text
    assert "(default 0.999)" in help_text and "(default nvil)" in help_text


def test_the_presets_the_defaults_and_what_overrides_them():
    # readable is what the defaults are; perplexity is the paper's model.
    defaults = REGISTRY["sbn"].defaults()
    assert {k: defaults[k] for k in PRESETS["readable"]} == PRESETS["readable"]
    est = docmodel.SBNTopicModel.preset("perplexity", n_units=8)
    assert (est.nonnegative, est.prior_logit, est.n_units) == (False, None, 8)
    assert docmodel.SBNTopicModel.preset("readable", prior_logit=-1.0).prior_logit == -1.0
    with pytest.raises(ModelError, match="unknown preset 'tidy'"):
        docmodel.SBNTopicModel.preset("tidy")
    cli = build_model(_args("--preset", "perplexity", "--prior-logit", "-3"))
    assert (cli.nonnegative, cli.prior_logit) == (False, -3.0)
    cli = build_model(_args("--prior-logit", "learned", "--no-nonnegative"))
    assert (cli.nonnegative, cli.prior_logit) == (False, None)
    assert (build_model(_args()).nonnegative, build_model(_args()).prior_logit) == (True, defaults["prior_logit"])
    cli = build_model(_args("--preset", "perplexity"))
    assert (cli.coherence_weight, cli.overlap_weight) == (0.0, 0.0)
    cli = build_model(_args("--preset", "perplexity", "--coherence-weight", "2", "--overlap-weight", "50"))
    assert (cli.coherence_weight, cli.overlap_weight) == (2.0, 50.0)
    assert (build_model(_args()).coherence_weight, build_model(_args()).overlap_weight) == (
        defaults["coherence_weight"], defaults["overlap_weight"])


def test_checkpoints_are_loaded_through_the_registry(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.poisson(1.0, (40, 12))
    model = REGISTRY["lda"].estimator()(3, max_iter=2).fit(X)
    loaded = load_model(model.save(tmp_path / "m"))
    assert type(loaded) is type(model)
    np.testing.assert_allclose(loaded.transform(X), model.transform(X))


def test_the_cli_builds_any_kind_and_refuses_options_it_does_not_take():
    from corpora.errors import CorpusError

    model = build_model(_args("--model", "mixture", "--units", "7", "--max-minutes", "1", "--seed", "3"))
    assert (model.n_units, model.max_epochs, model.max_seconds, model.random_state) == (7, 100_000, 60.0, 3)
    assert build_model(_args("--model", "mixture", "--epochs", "5")).max_epochs == 5
    for argv, flags in [
        (("--learning-rate", "0.1"), "--learning-rate does"),
        (("--layers", "4,4", "--no-variance-norm"), "--layers, --no-variance-norm do"),
        (("--preset", "readable"), "--preset does"),
        (("--algorithm", "wake-sleep"), "--algorithm does"),
        (("--encoder-dropout", "0.2"), "--encoder-dropout does"),
    ]:
        with pytest.raises(CorpusError, match=f"{flags} not apply to --model mixture"):
            build_model(_args("--model", "mixture", *argv))
    # An option of the SBN that another kind also has reaches that kind's estimator.
    assert build_model(_args("--model", "nvdm", "--encoder-dropout", "0.3")).encoder_dropout == 0.3
