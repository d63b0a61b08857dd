"""Per-session state: the corpus, the trained models and the work in progress of one browser tab.

Everything lives in ``st.session_state`` under the keys below, so two sessions never share a
corpus or a model. Nothing here is module-global and mutable.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
import weakref
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import streamlit as st

from app.text_view import markdown_escape
from corpora import Corpus, Dataset
from docmodel.compare import CompareSettings
from docmodel.counts import n_validation_docs

DATASET = "dataset"
DATASET_NAME = "dataset_name"
DATASET_ID = "dataset_id"
MODELS = "models"
EVALUATIONS = "evaluations"
TRAINING = "training_run"
FOLDER = "session_folder"
EXPLORE_DOC_REQUEST = "explore_doc_request"
MESSAGES = "flash_messages"
CACHE = "derived_cache"


class SessionFolder:
    """A temporary folder for one session's uploads, removed when the session state is dropped."""

    def __init__(self) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="docmodel-app-"))
        self._cleanup = weakref.finalize(self, shutil.rmtree, str(self.path), True)

    def new_subfolder(self, prefix: str) -> Path:
        path = self.path / f"{prefix}-{uuid.uuid4().hex[:8]}"
        path.mkdir(parents=True)
        return path


@dataclass
class ModelEntry:
    """A trained (or loaded) model of this session.

    Attributes
    ----------
    name : str
        Unique within the session, chosen by the user.
    model : SBNTopicModel or LDATopicModel
        Fitted; never trained further once here.
    settings : dict
        The settings it was trained with, for display.
    origin : str
        "trained" or "uploaded".
    """

    name: str
    model: object
    settings: dict = field(default_factory=dict)
    origin: str = "trained"

    @property
    def kind(self) -> str:
        return self.model.kind

    @property
    def n_units(self) -> int:
        return int(self.model.n_units_)

    def fits(self, dataset: Dataset | None) -> bool:
        """Whether the model's vocabulary is the corpus's (so it can score its documents)."""
        vocab = getattr(self.model, "vocabulary_", None)
        return dataset is not None and vocab is not None and tuple(vocab.words) == dataset.vocabulary.words

    @property
    def kind_label(self) -> str:
        """The kind's display name (``SBN``, ``DocNADE``)."""
        from docmodel.models import REGISTRY

        return REGISTRY[self.kind].label if self.kind in REGISTRY else self.kind.upper()

    def label(self) -> str:
        return f"{self.name} ({self.kind_label}, {self.n_units} units)"


def init() -> None:
    """Create the session's keys on its first run."""
    ss = st.session_state
    ss.setdefault(MODELS, {})
    ss.setdefault(EVALUATIONS, {})
    ss.setdefault(TRAINING, None)
    ss.setdefault(DATASET, None)
    ss.setdefault(DATASET_NAME, "")
    ss.setdefault(DATASET_ID, "")
    ss.setdefault(MESSAGES, [])
    if FOLDER not in ss:
        ss[FOLDER] = SessionFolder()


def dataset() -> Dataset | None:
    return st.session_state.get(DATASET)


def dataset_name() -> str:
    return st.session_state.get(DATASET_NAME, "")


def dataset_id() -> str:
    return st.session_state.get(DATASET_ID, "")


def set_dataset(new: Dataset, name: str) -> None:
    """Make ``new`` the session's corpus; evaluations of the previous one are dropped."""
    st.session_state[DATASET] = new
    st.session_state[DATASET_NAME] = name
    st.session_state[DATASET_ID] = uuid.uuid4().hex
    st.session_state[EVALUATIONS] = {}
    st.session_state[CACHE] = {}
    st.session_state.pop(EXPLORE_DOC_REQUEST, None)


def folder() -> SessionFolder:
    return st.session_state[FOLDER]


def models() -> dict[str, ModelEntry]:
    return st.session_state[MODELS]


def usable_models(kind: str | None = None) -> list[ModelEntry]:
    """Models whose vocabulary matches the current corpus (optionally of one kind)."""
    ds = dataset()
    return [m for m in models().values() if m.fits(ds) and (kind is None or m.kind == kind)]


def add_model(entry: ModelEntry) -> None:
    models()[entry.name] = entry
    st.session_state[EVALUATIONS].pop(entry.name, None)


def remove_model(name: str) -> None:
    models().pop(name, None)
    st.session_state[EVALUATIONS].pop(name, None)
    st.session_state[CACHE] = {k: v for k, v in st.session_state.get(CACHE, {}).items() if name not in k}


def cached(key: tuple, compute, spinner: str | None = None):
    """``compute()`` once per corpus and ``key`` in this session (derived arrays such as a
    model's document-unit matrix); dropped when the corpus changes or the model is removed.
    ``spinner``: a message shown while computing."""
    cache = st.session_state.setdefault(CACHE, {})
    full = (dataset_id(), *key)
    if full not in cache:
        if spinner:
            with st.spinner(spinner):
                cache[full] = compute()
        else:
            cache[full] = compute()
    return cache[full]


def unique_name(base: str) -> str:
    """``base``, or ``base-2``, ``base-3``, ... when taken."""
    taken = set(models())
    run = st.session_state.get(TRAINING)
    if run is not None and not run.finished:
        taken.add(run.name)
    if base not in taken:
        return base
    i = 2
    while f"{base}-{i}" in taken:
        i += 1
    return f"{base}-{i}"


def flash(kind: str, text: str) -> None:
    """A message to show once on the next run (after ``st.rerun``)."""
    st.session_state[MESSAGES].append((kind, text))


def pop_messages() -> list[tuple[str, str]]:
    messages = list(st.session_state.get(MESSAGES, []))
    st.session_state[MESSAGES] = []
    return messages


def validation_rows(n_train: int, seed: int = 0) -> np.ndarray:
    """Positions of the training documents held out for early stopping, sorted.

    The same for every model of a corpus, so that all models are trained on the same documents
    and, when there is no test split, all are measured on the same held-out ones. As many as
    ``docmodel compare`` holds out, by the same rule (:func:`docmodel.counts.n_validation_docs`).
    """
    n_val = n_validation_docs(n_train, CompareSettings.n_val_docs) if n_train >= 2 else 0
    return np.sort(np.random.default_rng(seed).permutation(n_train)[:n_val])


def training_rows(n_train: int, seed: int = 0) -> np.ndarray:
    """Positions of the training documents models learn from (all but :func:`validation_rows`)."""
    keep = np.ones(n_train, dtype=bool)
    keep[validation_rows(n_train, seed)] = False
    return np.flatnonzero(keep)


@dataclass(frozen=True)
class EvaluationDocs:
    """The documents models are measured on: the test split, or held-out training documents."""

    corpus: Corpus
    split: str
    positions: np.ndarray
    description: str


def evaluation_docs(ds: Dataset) -> EvaluationDocs:
    if ds.test is not None and ds.test.n_docs > 0:
        positions = np.arange(ds.test.n_docs)
        return EvaluationDocs(ds.test, "test", positions, f"the test split ({ds.test.n_docs} documents)")
    rows = validation_rows(ds.train.n_docs)
    return EvaluationDocs(
        ds.train.subset(rows),
        "train",
        rows,
        f"{len(rows)} training documents held out from training (this corpus has no test split)",
    )


def split_corpus(ds: Dataset, split: str) -> Corpus:
    if split == "test" and ds.test is not None:
        return ds.test
    return ds.train


def collect_training() -> str | None:
    """Move a finished background run's model into the session's models (once).

    Returns
    -------
    str or None
        The run's final status when it was collected by this call.
    """
    from app.runner import CANCELLED, DONE

    run = st.session_state.get(TRAINING)
    if run is None or run.collected or not run.finished:
        return None
    run.collected = True
    progress = run.snapshot()
    if progress.status in (DONE, CANCELLED):
        settings = dict(run.settings, train_seconds=round(progress.elapsed, 1), epochs=progress.epoch)
        add_model(ModelEntry(run.name, run.estimator, settings, "trained"))
        note = " (cancelled: the best model so far was kept)" if progress.status == CANCELLED else ""
        flash("success", f"Model **{markdown_escape(run.name)}** is trained{note}.")
    else:
        flash("error", f"Training {markdown_escape(run.name)} failed: {markdown_escape(progress.error)}")
    return progress.status
