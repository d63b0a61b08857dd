"""The operator's side of workspaces: list them, remove one, prune those left unused.

A workspace with a live training run (queued or running in a server that still runs) is never
removed: ``remove`` refuses it and ``prune`` skips it. Removal renames the folder out of the way
under the workspace's lock, then deletes it, so the app never sees half a workspace.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass

from docmodel.workspace.files import tree_bytes
from docmodel.workspace.runs import live_runs
from docmodel.workspace.store import Store, Workspace, WorkspaceError, new_key, valid_id

DAY = 86_400.0


class WorkspaceBusy(WorkspaceError):
    """The workspace has a training run going on."""


@dataclass(frozen=True)
class Summary:
    """What ``docmodel workspaces list`` shows of one workspace."""

    id: str
    created: float
    touched: float
    bytes: int
    corpus: str
    n_models: int
    live_runs: int
    problem: str = ""

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def summarise(ws: Workspace) -> Summary:
    try:
        data = ws.index()
    except WorkspaceError as exc:
        return Summary(ws.id, 0.0, 0.0, tree_bytes(ws.path), "", 0, 0, str(exc))
    corpus = data.get("corpus") if isinstance(data.get("corpus"), dict) else {}
    return Summary(
        id=ws.id,
        created=float(data.get("created") or 0.0),
        touched=float(data.get("touched") or 0.0),
        bytes=tree_bytes(ws.path),
        corpus=str(corpus.get("name", "")),
        n_models=len(ws.models()),
        live_runs=len(live_runs(ws)),
    )


def summaries(store: Store) -> list[Summary]:
    """Every workspace, most recently touched first."""
    return sorted((summarise(ws) for ws in store.workspaces()), key=lambda s: -s.touched)


def remove(store: Store, ws_id: str) -> Summary:
    """Delete workspace ``ws_id``; returns what it held.

    Raises
    ------
    WorkspaceError
        ``ws_id`` is malformed or names no workspace.
    WorkspaceBusy
        A training run is queued or running in it.
    """
    if not valid_id(ws_id):
        raise WorkspaceError(f"{ws_id!r} is not a workspace id (22 letters, digits, '-' or '_')")
    ws = store.open(ws_id)
    if ws is None:
        raise WorkspaceError(f"no workspace {ws_id} in {store.folder}")
    with ws.lock():
        summary = summarise(ws)
        if summary.live_runs:
            raise WorkspaceBusy(
                f"workspace {ws_id} has a training run going on; cancel it on the app's Train page (or stop the "
                "app) and try again"
            )
        trash = store.folder / f".removed-{ws_id}-{new_key()}"
        os.rename(ws.path, trash)
    shutil.rmtree(trash, ignore_errors=True)
    return summary


def prune(store: Store, older_than_days: float, *, dry_run: bool = False, now: float | None = None):
    """Remove the workspaces untouched (neither opened nor changed) for ``older_than_days``.

    Returns
    -------
    removed : list of Summary
        Those removed (or, with ``dry_run``, those that would be).
    busy : list of Summary
        Old enough, but kept for a training run going on.
    """
    if not older_than_days >= 0:
        raise WorkspaceError(f"--older-than must be a number of days >= 0, got {older_than_days}")
    now = time.time() if now is None else now
    removed, busy = [], []
    for summary in summaries(store):
        if summary.problem or now - summary.touched < older_than_days * DAY:
            continue
        if summary.live_runs:
            busy.append(summary)
            continue
        if dry_run:
            removed.append(summary)
            continue
        try:
            removed.append(remove(store, summary.id))
        except WorkspaceBusy:
            busy.append(summary)
        except WorkspaceError:
            continue  # removed meanwhile
    return removed, busy
