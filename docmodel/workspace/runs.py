"""Training runs of a workspace on disk: what a run needs to start again after its server died.

``runs/<run id>/`` holds ``run.json`` (the record below), the training and validation counts
(``train.npz``, ``val.npz``, SciPy's format, read without pickle), the vocabulary
(``vocab.json``) and, for estimators whose ``fit`` takes a ``state_path``, the resume state
``train_state.pt`` written while it trains. The record names the estimator's kind and
parameters (``get_params``), the settings shown with the model, the budget, the status
(``queued``, ``running``, then ``done``, ``cancelled``, ``failed`` or ``interrupted``), the
validation history so far, and the process that owns it (:func:`.files.this_process`): a run
recorded as queued or running whose owner is gone was cut short by a server that stopped.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import scipy.sparse as sp

from docmodel.workspace.files import atomic_write, owner_alive, read_json, this_process, write_json
from docmodel.workspace.store import KEY_PATTERN, Workspace, WorkspaceError, new_key

RUN_FORMAT = "docmodel-run"
QUEUED, RUNNING, DONE, CANCELLED, FAILED, INTERRUPTED = "queued", "running", "done", "cancelled", "failed", "interrupted"
ACTIVE = (QUEUED, RUNNING)
TRAIN, SWEEP = "train", "sweep"
"""What a run does (its record's ``job``): train one model, or sweep the number of units
(several models, each kept in the workspace as it finishes; its data stay in the workspace's
corpus, so it has no data files and cannot be started again)."""
STATE_FILE = "train_state.pt"
DATA_FILES = ("train.npz", "val.npz", "vocab.json", STATE_FILE)


def run_folder(ws: Workspace, run_id: str) -> Path:
    if not isinstance(run_id, str) or not KEY_PATTERN.fullmatch(run_id):
        raise WorkspaceError("malformed run id")
    return ws.path / "runs" / run_id


def create_run(ws: Workspace, *, name: str, kind: str | None, params: dict | None, settings: dict, max_epochs: int,
               max_seconds: float | None, X, X_val, words, job: str = TRAIN, corpus: str | None = None) -> dict:
    """Write a new run's data and its record (status ``queued``, owned by this process).

    Parameters
    ----------
    params : dict or None
        The estimator's ``get_params()`` when they are plain JSON (then the run can be started
        again by another process), else None.
    X, X_val : sparse matrices, shape (n_docs, n_words), (n_val, n_words), or None
        None (a sweep): no data files are written.
    words : sequence of str, length n_words
    job : str
        :data:`TRAIN` or :data:`SWEEP`.
    corpus : str, optional
        The id of the workspace corpus the run reads (a sweep, which keeps no copy of its data).
    """
    run_id = new_key()
    folder = run_folder(ws, run_id)
    folder.mkdir(parents=True)
    if X is not None:
        for file_name, matrix in (("train.npz", X), ("val.npz", X_val)):
            atomic_write(folder / file_name, lambda f, m=matrix: sp.save_npz(f, sp.csr_matrix(m), compressed=True))
        write_json(folder / "vocab.json", list(words) if words is not None else None)
    record = {
        "format": RUN_FORMAT, "id": run_id, "job": job, "name": name, "kind": kind, "params": params,
        "settings": settings,
        "max_epochs": int(max_epochs), "max_seconds": max_seconds, "status": QUEUED, "error": "", "note": "",
        "history": [], "owner": this_process(), "created": time.time(), "started": None, "ended": None,
        "resumes": 0, "model": None, "announced": False, "corpus": corpus,
    }
    write_json(folder / "run.json", record)
    return record


def read_run(ws: Workspace, run_id: str) -> dict:
    data = read_json(run_folder(ws, run_id) / "run.json")
    if not isinstance(data, dict) or data.get("format") != RUN_FORMAT or data.get("id") != run_id:
        raise WorkspaceError(f"run {run_id} has a malformed record")
    return data


def update_run(ws: Workspace, run_id: str, change: Callable[[dict], object]) -> dict:
    """Apply ``change(record)`` to a run's record under the workspace's lock; returns the record."""
    with ws.lock():
        record = read_run(ws, run_id)
        change(record)
        write_json(run_folder(ws, run_id) / "run.json", record)
        return record


def list_runs(ws: Workspace) -> list[dict]:
    """The readable run records of ``ws``, oldest first (an unreadable one is skipped)."""
    folder = ws.path / "runs"
    if not folder.is_dir():
        return []
    out = []
    for path in folder.iterdir():
        if KEY_PATTERN.fullmatch(path.name):
            try:
                out.append(read_run(ws, path.name))
            except (OSError, ValueError):
                continue
    return sorted(out, key=lambda r: r.get("created") or 0)


def is_live(record: dict) -> bool:
    """Queued or running, in a process that still runs."""
    return record.get("status") in ACTIVE and owner_alive(record.get("owner"))


def live_runs(ws: Workspace) -> list[dict]:
    return [r for r in list_runs(ws) if is_live(r)]


def load_data(ws: Workspace, run_id: str):
    """The run's training counts, validation counts and vocabulary words (None when it had none)."""
    folder = run_folder(ws, run_id)
    try:
        X = sp.load_npz(folder / "train.npz").tocsr()
        X_val = sp.load_npz(folder / "val.npz").tocsr()
        words = read_json(folder / "vocab.json")
    except (OSError, ValueError) as exc:
        raise WorkspaceError(f"the data of run {run_id} cannot be read ({exc})") from None
    if words is not None and (not isinstance(words, list) or len(words) != X.shape[1]
                              or not all(isinstance(w, str) for w in words)):
        raise WorkspaceError(f"the vocabulary of run {run_id} does not match its counts")
    if X.dtype.kind not in "iuf" or X_val.shape[1] != X.shape[1]:
        raise WorkspaceError(f"the counts of run {run_id} are malformed")
    return X, X_val, words


def state_path(ws: Workspace, run_id: str) -> Path:
    return run_folder(ws, run_id) / STATE_FILE


def drop_data(ws: Workspace, run_id: str) -> None:
    """Remove a finished run's data (the counts and the resume state); the record stays."""
    folder = run_folder(ws, run_id)
    for name in DATA_FILES:
        (folder / name).unlink(missing_ok=True)


def remove_run(ws: Workspace, run_id: str) -> None:
    shutil.rmtree(run_folder(ws, run_id), ignore_errors=True)


def plain_params(params: dict) -> dict | None:
    """``params`` as plain JSON values (tuples become lists), or None when one of them is not
    plain data (an object): such a run cannot be rebuilt by another process."""
    try:
        return json.loads(json.dumps(params, allow_nan=True))
    except (TypeError, ValueError):
        return None
