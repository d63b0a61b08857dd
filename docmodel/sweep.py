"""``docmodel sweep``: the models of :mod:`docmodel.compare` trained at several numbers of latent
units (topics), to choose that number on validation documents.

Every (model, size) pair is trained and measured exactly as ``docmodel compare`` trains and
measures a model: the same training documents, the same validation documents (held out from the
training split as the NVIL paper does for early stopping), the same seeds, scored on the test
split by :func:`docmodel.compare.model_figures`. The size is chosen by each model's best
validation bound (``EVALUATION.md``: options are chosen on validation documents, never on the
test split); the test figures are reported as results.

Each finished pair is saved at once (its model, and its figures appended to ``sweep.json``), so
an interrupted sweep keeps what it finished and a rerun with the same settings trains only the
missing pairs. ``sweep.md`` (a table with sizes as rows, a generated reading of the choice) and
the PNG plots (matplotlib, Agg canvas) are made from ``sweep.json`` alone. The pieces of
:func:`run_sweep` (:func:`sweep_data`, :func:`new_sweep`, :func:`train_pair`,
:func:`measure_pair`) let another driver, the app's background sweep, run the same pairs and keep
each model where it likes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from docmodel.compare import (
    CompareSettings,
    build_model,
    model_figures,
    model_label,
    validation_split,
)
from docmodel.errors import ModelError
from docmodel.sweep_report import PLOTS, write_outputs, write_text

logger = logging.getLogger(__name__)

FORMAT = "docmodel-sweep"
FORMAT_VERSION = 1
SWEEP_FILE = "sweep.json"
DEFAULT_UNITS = (10, 20, 50, 100, 200)
DEFAULT_MODELS = ("sbn_nvil", "lda")
"""What a sweep trains unless told otherwise: the paper's NVIL-trained SBN and LDA."""


@dataclass(frozen=True)
class SweepSettings:
    """What ``docmodel sweep`` trains and how it measures.

    Attributes
    ----------
    units : tuple of int
        The sizes tried (latent units / topics), each once; kept in increasing order.
    compare : CompareSettings
        Models, seed, validation documents, importance samples and estimator parameters, as for
        ``docmodel compare``. Its ``max_minutes`` is the training time of EACH (model, size)
        pair (None: each stops by its own rule); its ``n_units`` is replaced by each size.
    """

    units: tuple[int, ...] = DEFAULT_UNITS
    compare: CompareSettings = field(default_factory=lambda: CompareSettings(models=DEFAULT_MODELS))

    def __post_init__(self) -> None:
        units = tuple(self.units)
        bad = [u for u in units if isinstance(u, bool) or not isinstance(u, int) or u < 1]
        if bad or not units:
            raise ModelError(f"units must be positive integers, at least one; got {', '.join(map(repr, units)) or 'none'}")
        if len(set(units)) != len(units):
            raise ModelError(f"units must name each size once; got {', '.join(map(str, units))}")
        object.__setattr__(self, "units", tuple(sorted(units)))

    def at(self, n_units: int) -> CompareSettings:
        """The comparison settings of one size."""
        return replace(self.compare, n_units=n_units)

    @property
    def budget_seconds(self) -> float | None:
        """Training time of each pair."""
        return self.compare.max_minutes * 60.0 if self.compare.max_minutes else None

    def pairs(self) -> list[tuple[str, int]]:
        """Every (model, size), in training order: all models at the smallest size first, so that
        a sweep stopped early has compared the models at the sizes it reached."""
        return [(name, size) for size in self.units for name in self.compare.models]

    def to_dict(self) -> dict:
        out = self.compare.to_dict()
        del out["n_units"]
        out["max_minutes_per_pair"] = out.pop("max_minutes")
        return {"units": list(self.units), **out}

    @classmethod
    def from_dict(cls, data: Mapping) -> SweepSettings:
        """The settings :meth:`to_dict` wrote (as recorded in ``sweep.json``).

        Raises
        ------
        ModelError
            ``data`` is not such a record, or holds values the settings refuse.
        """
        if not isinstance(data, Mapping) or not isinstance(data.get("units"), list):
            raise ModelError("sweep settings must be a mapping with a list of units")
        compare = {k: v for k, v in data.items() if k not in ("units", "max_minutes_per_pair")}
        compare["max_minutes"] = data.get("max_minutes_per_pair")
        return cls(tuple(data["units"]), CompareSettings.from_dict(compare))


def pair_dir(name: str, n_units: int) -> str:
    """Where the model of one pair is saved, relative to the sweep directory."""
    return f"models/{name}-{n_units}"


def corpus_fingerprint(dataset) -> str:
    """A hash of the vocabulary and both splits' counts: a rerun must use the same documents."""
    digest = hashlib.sha256()
    digest.update("\n".join(dataset.vocabulary.words).encode())
    for corpus in (dataset.train, dataset.test):
        X = corpus.X.tocsr()
        for array in (X.indptr, X.indices, X.data):
            digest.update(np.ascontiguousarray(array, dtype=np.int64).tobytes())
    return digest.hexdigest()


def load_sweep(sweep_dir: str | Path) -> dict | None:
    """The sweep recorded in ``sweep_dir/sweep.json``, or None if there is none."""
    path = Path(sweep_dir) / SWEEP_FILE
    try:
        sweep = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read {path} ({exc}); remove it or choose another output directory") from None
    if not isinstance(sweep, dict) or sweep.get("format") != FORMAT or not {"settings", "corpus", "pairs"} <= set(sweep):
        raise ModelError(f"{path} is not a docmodel sweep file; choose another output directory")
    if sweep.get("format_version") != FORMAT_VERSION:
        raise ModelError(
            f"{path} has sweep format version {sweep.get('format_version')!r}, this docmodel reads "
            f"{FORMAT_VERSION}; choose another output directory"
        )
    return sweep


def _differences(old: dict, new: dict) -> list[str]:
    """``key: X there, Y now`` for every setting that differs (values compared as JSON)."""
    def show(value):
        if isinstance(value, list):
            return ",".join(map(str, value)) or "none"
        return json.dumps(value) if isinstance(value, dict) else str(value)

    keys = list(new) + [k for k in old if k not in new]
    return [f"{k}: {show(old.get(k))} there, {show(new.get(k))} now" for k in keys if old.get(k) != new.get(k)]


def _check_same(sweep_dir: Path, recorded: dict, settings: dict, fingerprint: str) -> None:
    differs = _differences(recorded["settings"], settings)
    if recorded["corpus"].get("fingerprint") != fingerprint:
        differs.insert(0, f"corpus: {recorded['corpus'].get('path')} there (other documents or vocabulary)")
    if differs:
        raise ModelError(
            f"{sweep_dir} holds a sweep with other settings ({'; '.join(differs)}); to continue it, rerun "
            "with the options it was started with; to sweep these settings, choose another output directory"
        )


def _write_json(sweep_dir: Path, sweep: dict) -> None:
    write_text(sweep_dir / SWEEP_FILE, json.dumps(sweep, indent=2, allow_nan=True))


@dataclass(frozen=True)
class SweepData:
    """The documents every pair of a sweep learns from: the training split without its empty
    documents, cut as ``docmodel compare`` cuts it (:func:`docmodel.compare.validation_split`).

    Attributes
    ----------
    X_train : scipy.sparse.csr_matrix, shape (n_docs_train, n_words)
    X_val : scipy.sparse.csr_matrix, shape (n_docs_val, n_words)
        Held out for validation and early stopping; the size is chosen on them.
    n_empty : int
        Empty training documents dropped.
    """

    X_train: object
    X_val: object
    n_empty: int


def sweep_data(dataset, settings: SweepSettings) -> SweepData:
    """The training and validation documents of a sweep of ``dataset``.

    Raises
    ------
    ModelError
        No test split, or too few training documents to hold some out.
    """
    if dataset.test is None or dataset.test.n_docs == 0:
        raise ModelError("sweep needs a corpus with a test split; prepare it with a test split (--test-fraction)")
    train, n_empty = dataset.train.drop_empty()
    train_rows, val_rows = validation_split(train.n_docs, settings.compare.n_val_docs, settings.compare.seed)
    return SweepData(train.X[train_rows], train.X[val_rows], int(n_empty))


def new_sweep(dataset, settings: SweepSettings, data: SweepData, corpus_dir: str | Path | None = None) -> dict:
    """A sweep with no pair finished yet, in the form of ``sweep.json``."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "settings": settings.to_dict(),
        "corpus": {
            "path": None if corpus_dir is None else str(corpus_dir),
            "fingerprint": corpus_fingerprint(dataset),
            "n_words": len(dataset.vocabulary),
            "n_docs_train": int(data.X_train.shape[0]),
            "n_docs_val": int(data.X_val.shape[0]),
            "n_docs_train_empty_dropped": data.n_empty,
            "n_docs_test": int(dataset.test.n_docs),
            "n_tokens_test": int(dataset.test.n_tokens),
            "has_labels": bool(dataset.test.has_labels),
        },
        "pairs": [],
    }


def train_pair(dataset, data: SweepData, settings: SweepSettings, name: str, n_units: int,
               callback: Callable | None = None):
    """Train model ``name`` (a name of :data:`docmodel.models.VARIANTS`) with ``n_units`` units,
    with the sweep's seed and time budget per pair; ``callback`` as the estimator's ``fit`` takes
    it (returning True stops training, keeping the best parameters so far)."""
    model = build_model(name, settings.at(n_units), settings.budget_seconds)
    model.fit(data.X_train, vocabulary=dataset.vocabulary, X_val=data.X_val, callback=callback)
    return model


def measure_pair(dataset, settings: SweepSettings, name: str, n_units: int, model,
                 model_dir: str | None = None) -> dict:
    """The entry of a trained pair in ``sweep["pairs"]``: ``model``, ``n_units``, ``label``,
    ``model_dir`` (where it is saved, or None), ``budget_seconds`` and the ``figures`` of
    :func:`docmodel.compare.model_figures` on the test split."""
    figures, _ = model_figures(model, dataset, settings.at(n_units))
    return {
        "model": name,
        "n_units": n_units,
        "label": model_label(name, model),
        "model_dir": model_dir,
        "budget_seconds": settings.budget_seconds,
        "figures": figures,
    }


def run_sweep(
    dataset,
    sweep_dir: str | Path,
    settings: SweepSettings,
    *,
    corpus_dir: str | Path | None = None,
    callback_factory: Callable[[str, int], Callable | None] | None = None,
) -> dict:
    """Train, save and measure every (model, size) of ``settings`` not already in ``sweep_dir``.

    Parameters
    ----------
    dataset : corpora.Dataset
        Must have a test split.
    sweep_dir : str or Path
        Written: ``sweep.json`` (after every pair), ``models/<model>-<size>/``, ``sweep.md`` and
        the PNG plots. A directory holding a sweep with the same settings and corpus is
        continued; one with other settings is refused.
    settings : SweepSettings
    corpus_dir : str or Path, optional
        Recorded in ``sweep.json``.
    callback_factory : callable, optional
        ``callback_factory(name, n_units)`` gives the training callback of that pair.

    Returns
    -------
    dict
        The sweep (as written to ``sweep.json``): ``settings``, ``corpus`` and ``pairs``, a list
        of ``{"model", "n_units", "label", "model_dir", "budget_seconds", "figures"}`` with the
        figures of :func:`docmodel.compare.model_figures`.

    Raises
    ------
    ModelError
        No test split, too few training documents, or ``sweep_dir`` holds another sweep.
    """
    data = sweep_data(dataset, settings)
    sweep_dir = Path(sweep_dir)
    recorded = load_sweep(sweep_dir)
    if recorded is not None:
        # Compared as JSON, the form they were recorded in (tuples become lists).
        _check_same(sweep_dir, recorded, json.loads(json.dumps(settings.to_dict())), corpus_fingerprint(dataset))
        sweep = recorded
    else:
        sweep = new_sweep(dataset, settings, data, corpus_dir)
    done = {(p["model"], p["n_units"]) for p in sweep["pairs"]}
    todo = [pair for pair in settings.pairs() if pair not in done]
    if done:
        logger.info("%d of %d pairs already done in %s", len(done), len(settings.pairs()), sweep_dir)
    budget = settings.budget_seconds
    for name, size in todo:
        logger.info("training %s with %d units (%s)", name, size, f"{budget:.0f} s budget" if budget else "no time budget")
        started = time.perf_counter()
        model = train_pair(dataset, data, settings, name, size, callback_factory(name, size) if callback_factory else None)
        model.save(sweep_dir / pair_dir(name, size))
        sweep["pairs"].append(measure_pair(dataset, settings, name, size, model, pair_dir(name, size)))
        _write_json(sweep_dir, sweep)
        write_outputs(sweep_dir, sweep, plots=False)
        logger.info("%s with %d units done in %.0f s", name, size, time.perf_counter() - started)
    # A finished sweep run again has nothing new to plot.
    missing = any(not (sweep_dir / file_name).exists() for file_name, _, _ in PLOTS)
    write_outputs(sweep_dir, sweep, plots=bool(todo) or missing)
    return sweep
