"""Per-session state: the workspace a browser tab works in, and the corpus, models and figures
loaded from it.

The workspace (:mod:`docmodel.workspace`, named by the page's URL, see :mod:`app.workspace`)
holds everything on disk; ``st.session_state`` keeps what this session loaded from it under the
keys below and, at the start of every run, catches up with changes made elsewhere (a job that
finished, another tab of the same workspace). Writes go to the workspace first and to the
session after, so a reload or a restart shows what the session showed. Nothing here is
module-global and mutable: the job registry lives in :mod:`app.jobs`.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import uuid
import weakref
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import streamlit as st

from app import workspace as workspaces
from app.jobs import SCHEDULER, new_job
from app.runner import CANCELLED, DONE, INTERRUPTED
from app.sweep_job import announcement, new_sweep_job
from app.text_view import markdown_escape
from corpora import Corpus, CorpusError, Dataset
from docmodel.compare import CompareSettings
from docmodel.counts import n_validation_docs
from docmodel.workspace import Workspace, WorkspaceError, runs

DATASET = "dataset"
DATASET_NAME = "dataset_name"
DATASET_ID = "dataset_id"
MODELS = "models"
EVALUATIONS = "evaluations"
TRAINING = "training_run"
FOLDER = "session_folder"
EXPLORE_DOC_REQUEST = "explore_doc_request"
EXPLORE_MODEL = "explore_model"  # the Explore page's model (other pages open a model there)
MESSAGES = "flash_messages"
CACHE = "derived_cache"
WORKSPACE = "workspace"
LOADED = "workspace_loaded"  # the id of the workspace the session's data came from
UNREADABLE = "unreadable_models"  # model keys that failed to load (reported once)


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
    """A trained (or loaded) model of this workspace.

    Attributes
    ----------
    name : str
        Unique within the workspace, chosen by the user.
    model : SBNTopicModel or LDATopicModel
        Fitted; never trained further once here.
    settings : dict
        The settings it was trained with, for display.
    origin : str
        "trained" or "uploaded".
    key : str
        Its folder in the workspace ("" until it is written there).
    """

    name: str
    model: object
    settings: dict = field(default_factory=dict)
    origin: str = "trained"
    key: str = ""

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
    """Attach the session to its workspace and catch up with it (every run; cheap when nothing
    changed: one small JSON file is read)."""
    ss = st.session_state
    workspaces.use_the_router(first_run=WORKSPACE not in ss)
    ss.setdefault(MESSAGES, [])
    if FOLDER not in ss:
        ss[FOLDER] = SessionFolder()
    try:
        ws, notice = workspaces.attach(ss.get(WORKSPACE))
        if notice:
            flash("warning", markdown_escape(notice))
        _use(ws)
    except WorkspaceError as exc:  # removed meanwhile, or an index that cannot be read
        ss.pop(WORKSPACE, None)
        flash("error", f"{markdown_escape(str(exc))}. This is a new workspace.")
        _use(workspaces.new_workspace())


def _use(ws: Workspace) -> None:
    ss = st.session_state
    ss[WORKSPACE] = ws
    if ss.get(LOADED) != ws.id:  # a new session, or another workspace: start from nothing
        from app.ui import DEMO_OFFERED

        for key, empty in ((MODELS, {}), (EVALUATIONS, {}), (CACHE, {}), (UNREADABLE, set())):
            ss[key] = type(empty)()
        ss[DATASET], ss[DATASET_NAME], ss[DATASET_ID] = None, "", ""
        ss.pop(EXPLORE_DOC_REQUEST, None)
        ss.pop(DEMO_OFFERED, None)
        ss[LOADED] = ws.id
    _sync(ws)
    ss[TRAINING] = SCHEDULER.job_for(ws.id)


def switch_to_new_workspace() -> None:
    """Start afresh in a new workspace (the sidebar's button); the old one keeps its address."""
    _use(workspaces.new_workspace())


def workspace() -> Workspace:
    return st.session_state[WORKSPACE]


def _sync(ws: Workspace) -> None:
    """Load what the workspace holds and the session lacks; drop what it no longer holds."""
    ss = st.session_state
    index = ws.index()
    corpus = ws.corpus_record()
    if corpus is not None and corpus["id"] != ss[DATASET_ID]:
        try:
            ds = _load_corpus(ws, corpus)
        except CorpusError as exc:
            from app.ui import DEMO_OFFERED

            ss[DEMO_OFFERED] = True  # not replaced by the demo: the operator may repair it
            flash("error", f"This workspace's corpus cannot be read: {markdown_escape(str(exc))}")
        else:
            ss[DATASET], ss[DATASET_NAME], ss[DATASET_ID] = ds, corpus.get("name", ""), corpus["id"]
            ss[EVALUATIONS], ss[CACHE] = {}, {}
            ss.pop(EXPLORE_DOC_REQUEST, None)
    records = ws.models()
    for name in [n for n, e in ss[MODELS].items() if n not in records or records[n]["key"] != e.key]:
        _forget(name)
    job = SCHEDULER.job_for(ws.id)
    for name, record in records.items():
        if name in ss[MODELS] or record["key"] in ss[UNREADABLE]:
            continue
        try:
            if job is not None and job.model_name == name and job.run_id == record.get("run"):
                model = job.estimator  # just trained in this process: no need to read it back
            else:
                model = ws.load_model(record)
        except CorpusError as exc:
            ss[UNREADABLE].add(record["key"])
            flash("error", f"Model {markdown_escape(name)} cannot be read: {markdown_escape(str(exc))}")
            continue
        ss[MODELS][name] = ModelEntry(name, model, dict(record.get("settings") or {}), record.get("origin", "trained"),
                                      record["key"])
    if set(index.get("evaluations") or {}) - set(ss[EVALUATIONS]):
        for name, result in ws.evaluations().items():
            per_document = result.get("per_document") or {}
            ss[EVALUATIONS].setdefault(name, {
                "figures": result.get("figures") or {},
                "per_document": {k: np.asarray(v) for k, v in per_document.items()},
            })


def _load_corpus(ws: Workspace, record: dict) -> Dataset:
    if record.get("source") == "demo":
        from app import resources

        return resources.demo_dataset(str(record.get("options", "{}")))
    return ws.load_corpus(record)


def dataset() -> Dataset | None:
    return st.session_state.get(DATASET)


def dataset_name() -> str:
    return st.session_state.get(DATASET_NAME, "")


def dataset_id() -> str:
    return st.session_state.get(DATASET_ID, "")


def set_dataset(new: Dataset, name: str) -> None:
    """Make ``new`` the workspace's corpus (written to disk first; the bundled demo only as a
    reference); figures of the previous corpus are dropped. Raises a CorpusError (over the
    workspace's quota, say) and leaves everything as it was."""
    ws = workspace()
    options = _demo_options(new, name)
    record = ws.set_demo_corpus(name, options) if options is not None else ws.save_corpus(new, name)
    st.session_state[DATASET] = new
    st.session_state[DATASET_NAME] = name
    st.session_state[DATASET_ID] = record["id"]
    st.session_state[EVALUATIONS] = {}
    st.session_state[CACHE] = {}
    st.session_state.pop(EXPLORE_DOC_REQUEST, None)


def _demo_options(ds: Dataset, name: str) -> str | None:
    """The preparation options of ``ds`` when it is the bundled demo (the very object the
    resource cache holds), else None."""
    from app import resources

    options = ds.info.get("options")
    if name != resources.DEMO_NAME or ds.info.get("source") != resources.DEMO_SOURCE or not isinstance(options, dict):
        return None
    # The options it was asked with: its learned phrases are relearned identically from them.
    key = json.dumps({**options, "phrases": None}, sort_keys=True)
    return key if resources.demo_dataset(key) is ds else None


def folder() -> SessionFolder:
    return st.session_state[FOLDER]


def models() -> dict[str, ModelEntry]:
    return st.session_state[MODELS]


def usable_models(kind: str | None = None) -> list[ModelEntry]:
    """Models whose vocabulary matches the current corpus (optionally of one kind)."""
    ds = dataset()
    return [m for m in models().values() if m.fits(ds) and (kind is None or m.kind == kind)]


def add_model(entry: ModelEntry) -> None:
    """Write ``entry``'s model into the workspace (refused over its quota) and show it; its name
    becomes ``name-2``... should another tab have taken the name meanwhile."""
    ws = workspace()
    entry.name = ws.add_model(entry.name, entry.model, entry.settings, entry.origin)
    entry.key = ws.models()[entry.name]["key"]
    models()[entry.name] = entry
    st.session_state[EVALUATIONS].pop(entry.name, None)


def remove_model(name: str) -> None:
    """Delete a model from the workspace (its file and figures) and from the session."""
    workspace().remove_model(name)
    _forget(name)


def _forget(name: str) -> None:
    models().pop(name, None)
    st.session_state[EVALUATIONS].pop(name, None)
    st.session_state[CACHE] = {k: v for k, v in st.session_state.get(CACHE, {}).items() if name not in k}


def model_file(entry: ModelEntry) -> Path | None:
    """The workspace's checkpoint of ``entry`` (None when it has none)."""
    record = workspace().models().get(entry.name)
    if record is None or record["key"] != entry.key:
        return None
    path = workspace().model_folder(record) / "model.pt"
    return path if path.is_file() else None


def set_evaluation(name: str, result: dict) -> None:
    """Keep a model's figures on the current corpus, in the session and in the workspace."""
    st.session_state[EVALUATIONS][name] = result
    workspace().save_evaluation(name, result)


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


def start_training(name: str, estimator, X, X_val, vocabulary, settings: dict, max_epochs: int,
                   max_seconds: float | None):
    """Queue a training job of this workspace (:mod:`app.jobs`); it starts when the server has
    room and writes its model into the workspace itself. Raises a CorpusError when refused (over
    the quota, or a job of this workspace still going)."""
    ws = workspace()
    cfg = workspaces.config()
    return _submit(ws, new_job(ws, name=name, estimator=estimator, X=X, X_val=X_val, vocabulary=vocabulary,
                               settings=settings, max_epochs=max_epochs, max_seconds=max_seconds,
                               state_every_seconds=cfg.state_every_seconds))


def start_sweep(settings):
    """Queue a sweep over the number of units of the corpus (:mod:`app.sweep_job`, settings a
    :class:`docmodel.sweep.SweepSettings`); raises a CorpusError when refused (no test split,
    over the quota, or a job of this workspace still going)."""
    ws = workspace()
    return _submit(ws, new_sweep_job(ws, dataset(), settings))


def _submit(ws: Workspace, job):
    """Queue ``job`` (its run record goes again if the scheduler refuses it); it becomes the
    session's current job."""
    try:
        SCHEDULER.submit(job)
    except BaseException:
        runs.remove_run(ws, job.run_id)
        raise
    st.session_state[TRAINING] = job
    return job


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


def trained_text(record: dict) -> str:
    """", 3 epochs in 12 s" from a finished run's record (nothing for a record without them)."""
    from app.ui import fmt_seconds  # (app.ui imports this module)

    epochs, seconds = record.get("epochs"), record.get("train_seconds")
    if epochs is None or seconds is None:
        return ""
    return f": {epochs} epoch{'' if epochs == 1 else 's'} in {fmt_seconds(seconds)}"


def collect_training() -> str | None:
    """Tell the user, once, about each run of the workspace that has ended (whichever tab or
    server process ran it), and clear its record away; its model is in the workspace already.

    Returns
    -------
    str or None
        The final status of the last run reported by this call.
    """
    ws = workspace()
    status = None
    for record in runs.list_runs(ws):
        if record.get("status") in runs.ACTIVE or record.get("announced"):
            continue
        claimed = runs.update_run(ws, record["id"], lambda r: r.update(announced=True, claimed=not r.get("announced")))
        if not claimed.get("claimed"):
            continue  # another tab told it
        status = record["status"]
        name = markdown_escape(record.get("model") or record.get("name", ""))
        if record.get("job") == runs.SWEEP:
            flash(*announcement(record))
        elif status in (DONE, CANCELLED):
            note = " (cancelled: the best model so far was kept)" if status == CANCELLED else ""
            if status == CANCELLED and not record.get("model"):
                flash("info", f"Training {name} was cancelled before it started.")
            else:
                flash("success", f"Model **{name}** is trained{trained_text(record)}{note}.")
        elif status == INTERRUPTED:
            flash("warning", f"Training {name} was interrupted: {markdown_escape(record.get('error', ''))}")
        else:
            flash("error", f"Training {name} failed: {markdown_escape(record.get('error', ''))}")
        runs.remove_run(ws, record["id"])
    return status
