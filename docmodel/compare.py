"""``docmodel compare``: any of the registered models (SBNs trained with NVIL, wake-sleep or a
relaxation, fDARN, DocNADE, the Replicated Softmax, NVDM, the mixture, LDA) trained on one
split, measured by one evaluation, written up as a report.

Every model gets the same number of latent units, the same training documents and the same 100
validation documents (held out from the training split, as the NVIL paper does for early
stopping; LDA records its validation curve on them and stops early on them too). All models are
then scored on the test split by :func:`docmodel.evaluation.evaluate` and the measures of
:mod:`docmodel.quality`, with the same seeds. The figures of a report can be recomputed from the
saved models (:func:`recompute_report`), which is how a test checks that no number in a report
was produced by anything but this code.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from docmodel.base import TopicModel
from docmodel.counts import n_validation_docs
from docmodel.errors import ModelError
from docmodel.models import VARIANTS, variant
from docmodel.topwords import DEFAULT_RELEVANCE, RULE_TEXT

logger = logging.getLogger(__name__)

MODEL_NAMES = tuple(VARIANTS)
DEFAULT_MODELS = ("sbn_nvil", "sbn_wake_sleep", "lda")
"""What a comparison trains unless told otherwise (the paper's NVIL against its rivals of the
same family and LDA); ``docmodel compare --models all`` trains every model."""
MODEL_LABELS = {name: v.label for name, (v, _) in VARIANTS.items()}
# Training order: models that usually stop early (LDA) first, leaving their unused time to the others.
TRAIN_ORDER = tuple(sorted(VARIANTS, key=lambda name: VARIANTS[name][0].train_rank))
N_TOP_NPMI = 10
N_TOP_DIVERSITY = 25
EVALUATION_KEYS = (
    "perplexity_bound", "perplexity_is", "perplexity_completion",
    "perplexity_bound_per_word", "perplexity_is_per_word", "perplexity_completion_per_word",
    "elbo_per_doc", "n_docs", "n_tokens", "n_docs_completion", "exact",
)


@dataclass(frozen=True)
class CompareSettings:
    """What ``docmodel compare`` trains and how it measures.

    Attributes
    ----------
    n_units : int
        Latent units (SBN), topics (LDA), components or hidden units, the same for every model.
    max_minutes : float or None
        Training time for all models together. Each model gets an equal share of what is left
        when it starts (LDA is trained first; time it does not use goes to the SBNs).
        Evaluation comes on top. None: every model stops by its own rule.
    seed : int
        Seeds the validation split, every model and every estimate.
    n_samples : int
        Importance samples per document (IS and completion).
    n_val_docs : int
        Training documents held out for validation and early stopping.
    lda_patience : int
        LDA early stopping: validation measurements without improvement.
    models : tuple of str
        Which models to train: names of :data:`docmodel.models.VARIANTS`.
    sbn_params, lda_params : mapping
        Further estimator parameters (for example a small ``max_epochs`` for quick runs).
    nvil_params : mapping
        Parameters of the NVIL-trained SBN only, on top of ``sbn_params`` (for example
        ``encoder_dreams``, which wake-sleep does not take).
    model_params : mapping
        Model name -> parameters of that model only, on top of the above (for example
        ``{"docnade": {"max_epochs": 5}}``); a variant's own defining parameters still win.
    """

    n_units: int = 50
    max_minutes: float | None = None
    seed: int = 0
    n_samples: int = 100
    n_val_docs: int = 100
    lda_patience: int = 10
    models: tuple[str, ...] = DEFAULT_MODELS
    sbn_params: Mapping = field(default_factory=dict)
    lda_params: Mapping = field(default_factory=dict)
    nvil_params: Mapping = field(default_factory=dict)
    model_params: Mapping = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "models", tuple(self.models))
        for name in self.models:
            variant(name)
        if not self.models or len(set(self.models)) != len(self.models):
            raise ModelError(f"models must name each model once, at least one; got {', '.join(self.models) or 'none'}")
        for name in ("n_units", "n_samples", "n_val_docs", "lda_patience"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ModelError(f"{name} must be a positive integer, got {value!r}")
        unknown = [name for name in self.model_params if name not in VARIANTS]
        if unknown:
            raise ModelError(f"model_params names unknown models: {', '.join(unknown)}")
        if self.max_minutes is not None and not self.max_minutes > 0:
            raise ModelError(f"max_minutes must be positive, got {self.max_minutes!r}")

    def to_dict(self) -> dict:
        out = asdict(self)
        out["models"] = list(self.models)
        out["sbn_params"], out["lda_params"] = dict(self.sbn_params), dict(self.lda_params)
        out["nvil_params"] = dict(self.nvil_params)
        out["model_params"] = {name: dict(params) for name, params in self.model_params.items()}
        return out

    @classmethod
    def from_dict(cls, data: Mapping) -> CompareSettings:
        names = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in names})


def model_label(name: str, model: TopicModel) -> str:
    """Display name of a model in the report."""
    return variant(name)[0].label_of(model)


def build_model(name: str, settings: CompareSettings, max_seconds: float | None) -> TopicModel:
    """The estimator ``name`` (a variant in :data:`docmodel.models.VARIANTS`) with the settings'
    units, seed and a time budget in seconds."""
    spec, kind = variant(name)
    params = {param: getattr(settings, attribute) for param, attribute in spec.settings_values.items()}
    for attribute in spec.settings_params:
        params.update(getattr(settings, attribute))
    params.update(settings.model_params.get(name, {}))
    params.update(spec.params)
    if max_seconds is not None and kind.budget_epochs_param is not None:
        # The budget, not an epoch count, ends a timed run (early stopping still applies).
        params.setdefault(kind.budget_epochs_param, 100_000)
    return kind.estimator()(settings.n_units, max_seconds=max_seconds, random_state=settings.seed, **params)


def device_params(models, device: str) -> dict:
    """``model_params`` giving ``device`` to the ``models`` other than the SBNs (which take it with
    ``sbn_params``) whose estimator has a device."""
    out = {}
    for name in models:
        spec, kind = variant(name)
        if "sbn_params" not in spec.settings_params and "device" in kind.defaults():
            out[name] = {"device": device}
    return out


def validation_split(n_docs: int, n_val: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the training and validation documents: a seeded random subset of ``n_val``
    documents, at most a tenth of the split (see :func:`docmodel.counts.n_validation_docs`)."""
    n_val = n_validation_docs(n_docs, n_val)
    if n_docs <= n_val:
        raise ModelError(
            f"the training split has {n_docs} non-empty documents; at least {n_val + 1} are needed to hold "
            f"out {n_val} for validation (lower the number of validation documents)"
        )
    perm = np.random.default_rng(seed).permutation(n_docs)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def model_figures(model: TopicModel, dataset, settings: CompareSettings) -> tuple[dict, dict]:
    """Every figure of the report for one model, and its per-document bound perplexities.

    Parameters
    ----------
    model : TopicModel
        A fitted model.
    dataset : corpora.Dataset
        With a test split; NPMI counts co-occurrence on the whole training split.
    settings : CompareSettings

    Returns
    -------
    figures : dict
        JSON-ready numbers: evaluation figures, ``npmi`` (mean) and ``npmi_per_unit``,
        ``diversity``, ``label_accuracy`` (None without labels), ``train_seconds``, training
        curve, top words; ``sklearn_perplexity_per_word`` for LDA.
    per_document : dict
        ``doc_index`` (test rows) and ``doc_perplexity_bound``, arrays of shape (n_docs,).
    """
    from docmodel.evaluation import evaluate
    from docmodel.quality import label_accuracy, npmi_coherence, topic_diversity

    test = dataset.test
    result = evaluate(model, test.X, n_samples=settings.n_samples, random_state=settings.seed, per_document=True)
    figures = {key: _plain(result[key]) for key in EVALUATION_KEYS}
    top = model.top_word_ids(max(N_TOP_NPMI, N_TOP_DIVERSITY))
    npmi = npmi_coherence(top[:, :N_TOP_NPMI], dataset.train.X, n_top=N_TOP_NPMI)
    figures["npmi"] = float(np.nanmean(npmi))
    figures["npmi_per_unit"] = [float(v) for v in npmi]
    figures["diversity"] = topic_diversity(top[:, :N_TOP_DIVERSITY].tolist(), N_TOP_DIVERSITY)
    figures["label_accuracy"] = (
        label_accuracy(model.transform(test.X), test.labels, random_state=settings.seed) if test.has_labels else None
    )
    if hasattr(model, "sklearn_perplexity"):
        figures["sklearn_perplexity_per_word"] = model.sklearn_perplexity(test.X)
    figures["train_seconds"] = float(model.train_seconds_)
    figures["n_units"] = int(model.n_units_)
    figures["kind"] = model.kind
    # History entries come every few epochs when epochs are short; the last one names the epoch.
    figures["epochs"] = int(model.history_[-1]["epoch"]) if model.history_ else 0
    figures["stopped"] = getattr(model, "stopped_", None)
    figures["best_val_perplexity_bound"] = _plain(getattr(model, "best_val_perplexity_bound_", None))
    figures["curve"] = {
        "seconds": [float(h["seconds"]) for h in model.history_ if h.get("val_perplexity_bound") is not None],
        "val_perplexity_bound": [
            float(h["val_perplexity_bound"]) for h in model.history_ if h.get("val_perplexity_bound") is not None
        ],
    }
    figures["top_words"] = model.top_words(N_TOP_NPMI, dataset.vocabulary)
    per_document = {"doc_index": result["doc_index"], "doc_perplexity_bound": result["doc_perplexity_bound"]}
    return figures, per_document


def run_compare(
    dataset,
    report_dir: str | Path,
    settings: CompareSettings,
    *,
    corpus_dir: str | Path | None = None,
    callback_factory: Callable[[str], Callable | None] | None = None,
) -> dict:
    """Train, save, evaluate and report every model of ``settings``.

    Parameters
    ----------
    dataset : corpora.Dataset
        Must have a test split.
    report_dir : str or Path
        Written: ``report.json``, ``report.md``, ``per_document.csv``, the PNG plots and
        ``models/<name>/`` (each model's checkpoint).
    settings : CompareSettings
    corpus_dir : str or Path, optional
        Recorded in the report.
    callback_factory : callable, optional
        ``callback_factory(name)`` gives the training callback of model ``name``.

    Returns
    -------
    dict
        The report (as written to ``report.json``).
    """
    import time

    from docmodel.report import write_report

    if dataset.test is None or dataset.test.n_docs == 0:
        raise ModelError("compare needs a corpus with a test split; prepare it with a test split (--test-fraction)")
    report_dir = Path(report_dir)
    train, n_empty = dataset.train.drop_empty()
    train_rows, val_rows = validation_split(train.n_docs, settings.n_val_docs, settings.seed)
    X_train, X_val = train.X[train_rows], train.X[val_rows]
    budget = settings.max_minutes * 60.0 if settings.max_minutes else None
    order = [m for m in TRAIN_ORDER if m in settings.models]
    started = time.perf_counter()
    models, shares = {}, {}
    for i, name in enumerate(order):
        share = None
        if budget is not None:
            # An equal share of what is left; at least a second so every model trains a little.
            share = max((budget - (time.perf_counter() - started)) / (len(order) - i), 1.0)
        logger.info("training %s (%s)", name, f"{share:.0f} s budget" if share else "no time budget")
        shares[name] = share
        model = build_model(name, settings, share)
        callback = callback_factory(name) if callback_factory else None
        model.fit(X_train, vocabulary=dataset.vocabulary, X_val=X_val, callback=callback)
        model.save(report_dir / "models" / name)
        models[name] = model
    figures, per_document = {}, {}
    for name in settings.models:
        logger.info("evaluating %s", name)
        figures[name], per_document[name] = model_figures(models[name], dataset, settings)
        figures[name]["label"] = model_label(name, models[name])
        figures[name]["budget_seconds"] = shares[name]
    report = {
        "models": figures,
        "corpus": {
            "path": None if corpus_dir is None else str(corpus_dir),
            "n_words": len(dataset.vocabulary),
            "n_docs_train": int(len(train_rows)),
            "n_docs_val": int(len(val_rows)),
            "n_docs_train_empty_dropped": int(n_empty),
            "n_docs_test": int(dataset.test.n_docs),
            "n_tokens_test": int(dataset.test.n_tokens),
            "has_labels": bool(dataset.test.has_labels),
        },
        "settings": {
            **settings.to_dict(),
            "train_order": order,
            "budget_rule": "equal share of the remaining training time, models in train_order"
            if budget is not None else "none: each model stops by its own rule",
            "npmi_top_words": N_TOP_NPMI,
            "diversity_top_words": N_TOP_DIVERSITY,
            "top_words_rule": RULE_TEXT.format(lam=DEFAULT_RELEVANCE),
            "label_accuracy": "5-fold stratified CV, logistic regression on standardised transform(test)",
        },
    }
    write_report(report_dir, report, per_document, doc_ids=dataset.test.doc_ids)
    return report


def recompute_report(report_dir: str | Path, corpus_dir: str | Path) -> dict:
    """Reload the models of a report and recompute every figure from scratch.

    Parameters
    ----------
    report_dir : str or Path
        A directory written by :func:`run_compare`.
    corpus_dir : str or Path
        The prepared corpus the report was made from.

    Returns
    -------
    dict
        ``{"models": {name: figures}}``, figures as :func:`model_figures` computes them.
    """
    from corpora.corpus import Dataset
    from docmodel.checkpoint import load_model

    report_dir = Path(report_dir)
    try:
        report = json.loads((report_dir / "report.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"{report_dir} holds no report.json; make one with 'docmodel compare'") from None
    settings = CompareSettings.from_dict(report["settings"])
    dataset = Dataset.load(corpus_dir)
    out = {}
    for name in settings.models:
        model = load_model(report_dir / "models" / name)
        vocab = model.vocabulary_
        if vocab is not None and tuple(vocab.words) != tuple(dataset.vocabulary.words):
            raise ModelError(
                f"model {name} was trained on another vocabulary than the corpus in {corpus_dir}; "
                "pass the corpus the report was made from"
            )
        out[name], _ = model_figures(model, dataset, settings)
    return {"models": out}


def _plain(value):
    """numpy scalars -> Python numbers (JSON)."""
    return value.item() if isinstance(value, np.generic) else value
