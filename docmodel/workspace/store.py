"""Workspaces on disk: one folder per user of the app, holding its corpus, models, evaluations
and training runs in the project's plain-data formats, listed by a small JSON index.

Layout under the data directory (``docmodel app --data-dir``)::

    workspaces/<id>/index.json                 what the workspace holds (below)
    workspaces/<id>/corpus/<corpus id>/        the corpus, as Dataset.save writes it
    workspaces/<id>/models/<key>/model.pt      each model, as its estimator's save writes it
    workspaces/<id>/evaluations/<key>.json     a model's figures on the corpus
    workspaces/<id>/runs/<run id>/             a training run (see :mod:`.runs`)

Only names made here appear in paths: the workspace id is checked against :data:`ID_PATTERN`
(the 22 characters of ``secrets.token_urlsafe(16)``), corpus ids, model keys and run ids are
hex strings checked when read back from the index; model names chosen by users are kept in the
index, never used as file names. Every file is written atomically and the index is changed under
the workspace's lock (:func:`.files.folder_lock`), so a killed process leaves no file half
written and two writers never lose each other's change.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from corpora.errors import CorpusError
from docmodel.workspace.files import (
    fmt_bytes,
    folder_lock,
    read_json,
    sync_folder,
    tree_bytes,
    write_json,
)

FORMAT = "docmodel-workspace"
FORMAT_VERSION = 1
INDEX = "index.json"
SWEEP = "sweep.json"
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{22}")
KEY_PATTERN = re.compile(r"[0-9a-f]{16}")
CORPUS_PATTERN = re.compile(r"[0-9a-f]{32}")

DEFAULT_QUOTA_MB = 1024
"""Disk quota per workspace: room for dozens of corpora the size of 20 Newsgroups (about 20 MB
with its texts) and hundreds of models, while no single visitor can fill the server's disk."""
DEFAULT_KEEP_DAYS = 30
"""Workspaces untouched for this many days are removed by ``prune`` (and by the app's server)."""
DEFAULT_MAX_JOBS = 2
"""Training jobs the app's server runs at once; more wait in a queue. Concurrent jobs share the
CPUs (:func:`docmodel.threads.shares`), so beyond two each one slows to a crawl on a laptop."""

APP_ENV = {
    "data_dir": "DOCMODEL_DATA_DIR",
    "max_jobs": "DOCMODEL_APP_MAX_JOBS",
    "quota_mb": "DOCMODEL_APP_QUOTA_MB",
    "keep_days": "DOCMODEL_APP_KEEP_DAYS",
    "state_every_seconds": "DOCMODEL_APP_STATE_SECONDS",
}
"""The environment variables ``docmodel app`` passes its workspace settings to the app in."""


class WorkspaceError(CorpusError):
    """A workspace cannot do what was asked; the message says what to do instead."""


class QuotaExceeded(WorkspaceError):
    """Writing this would take the workspace over its disk quota."""


class WorkspaceGone(WorkspaceError):
    """The workspace's folder was removed (by ``docmodel workspaces remove`` or ``prune``)."""


def default_data_dir(environ=os.environ) -> Path:
    """``$DOCMODEL_DATA_DIR`` when set, else the per-user data folder: ``$XDG_DATA_HOME/docmodel``,
    or ``~/.local/share/docmodel`` (``%LOCALAPPDATA%\\docmodel`` on Windows)."""
    if environ.get(APP_ENV["data_dir"], "").strip():
        return Path(environ[APP_ENV["data_dir"]].strip()).expanduser()
    if os.name == "nt" and environ.get("LOCALAPPDATA"):
        return Path(environ["LOCALAPPDATA"]) / "docmodel"
    base = environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "docmodel"


def valid_id(text) -> bool:
    """Whether ``text`` has the form of a workspace id (nothing else may name a folder)."""
    return isinstance(text, str) and ID_PATTERN.fullmatch(text) is not None


def new_key() -> str:
    return secrets.token_hex(8)


class Store:
    """The workspaces under one data directory.

    Parameters
    ----------
    root : path
        The data directory; ``root/workspaces`` is created on first use.
    quota_mb : float or None
        Disk quota of each workspace in MB (None or 0: none).
    """

    def __init__(self, root: str | Path, quota_mb: float | None = DEFAULT_QUOTA_MB):
        self.root = Path(root).expanduser()
        self.folder = self.root / "workspaces"
        self.quota_bytes = int(quota_mb * 1024 * 1024) if quota_mb else None

    def path_of(self, ws_id: str) -> Path:
        """The folder of workspace ``ws_id``; a malformed id raises (it must never reach a path)."""
        if not valid_id(ws_id):
            raise WorkspaceError("not a workspace id: expected 22 letters, digits, '-' or '_'")
        return self.folder / ws_id

    def create(self) -> Workspace:
        """A new, empty workspace with a fresh unguessable id (its folder appears complete or not at all)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        while True:
            ws_id = secrets.token_urlsafe(16)
            # Never a leading "-": the id is typed on command lines, where it would read as an option.
            if valid_id(ws_id) and not ws_id.startswith("-") and not (self.folder / ws_id).exists():
                break
        tmp = Path(tempfile.mkdtemp(prefix=".new-", dir=self.folder))
        now = time.time()
        write_json(tmp / INDEX, {"format": FORMAT, "format_version": FORMAT_VERSION, "id": ws_id, "created": now,
                                 "touched": now, "corpus": None, "models": {}, "evaluations": {}})
        os.rename(tmp, self.folder / ws_id)
        sync_folder(self.folder)
        return Workspace(ws_id, self.folder / ws_id, self.quota_bytes)

    def open(self, ws_id) -> Workspace | None:
        """The workspace ``ws_id``, or None when the id is malformed or no such workspace exists."""
        if not valid_id(ws_id):
            return None
        path = self.folder / ws_id
        if not (path / INDEX).is_file():
            return None
        return Workspace(ws_id, path, self.quota_bytes)

    def ids(self) -> list[str]:
        """Every workspace's id, sorted (folders of other names are ignored)."""
        if not self.folder.is_dir():
            return []
        return sorted(p.name for p in self.folder.iterdir() if valid_id(p.name) and (p / INDEX).is_file())

    def workspaces(self) -> list[Workspace]:
        return [Workspace(i, self.folder / i, self.quota_bytes) for i in self.ids()]


@dataclass(frozen=True)
class Workspace:
    """One workspace's folder. Made by :class:`Store`, which checked ``id``.

    The index (``index.json``) holds ``corpus`` (None, or ``id``, ``name``, ``source`` =
    "saved" or "demo", and for the demo its preparation ``options``), ``models`` (name ->
    ``key``, ``kind``, ``n_units``, ``origin``, ``settings``, ``run``, ``saved``),
    ``evaluations`` (model name -> ``key``, ``corpus``), and the times it was ``created`` and
    last ``touched`` (opened or changed).
    """

    id: str
    path: Path
    quota_bytes: int | None = None

    # ---- index ------------------------------------------------------------------------------
    def exists(self) -> bool:
        return (self.path / INDEX).is_file()

    def lock(self):
        if not self.path.is_dir():
            raise WorkspaceGone(self._gone())
        return folder_lock(self.path)

    def _gone(self) -> str:
        return (f"workspace {self.id[:6]}... was removed from this server (unused for too long, or removed "
                "by its operator)")

    def index(self) -> dict:
        try:
            data = read_json(self.path / INDEX)
        except FileNotFoundError:
            raise WorkspaceGone(self._gone()) from None
        except (OSError, ValueError) as exc:
            raise WorkspaceError(f"the index of workspace {self.id[:6]}... cannot be read ({exc})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("format_version") != FORMAT_VERSION:
            raise WorkspaceError(f"workspace {self.id[:6]}... has an index this docmodel does not read")
        return data

    def update(self, change: Callable[[dict], object]):
        """Apply ``change(index)`` under the lock, write the index, and return what it returned."""
        with self.lock():
            data = self.index()
            out = change(data)
            data["touched"] = time.time()
            write_json(self.path / INDEX, data)
            return out

    def touch(self) -> None:
        self.update(lambda data: None)

    # ---- quota ------------------------------------------------------------------------------
    def usage(self) -> int:
        """Bytes the workspace holds on disk."""
        return tree_bytes(self.path)

    def check_room(self, extra_bytes: int, what: str, freed_bytes: int = 0) -> None:
        """Raise :class:`QuotaExceeded` when ``extra_bytes`` more (``freed_bytes`` less) would
        take the workspace over its quota; ``what`` names the thing refused."""
        if self.quota_bytes is None:
            return
        used = self.usage()
        after = used - freed_bytes + extra_bytes
        if after > self.quota_bytes:
            raise QuotaExceeded(
                f"{what} is refused: this workspace would hold {fmt_bytes(after)}, over its quota of "
                f"{fmt_bytes(self.quota_bytes)} ({fmt_bytes(used)} used now). Remove models on the Models page "
                "or start a new workspace."
            )

    # ---- corpus -----------------------------------------------------------------------------
    def corpus_record(self) -> dict | None:
        record = self.index().get("corpus")
        if not isinstance(record, dict) or not CORPUS_PATTERN.fullmatch(str(record.get("id", ""))):
            return None
        return record

    def set_demo_corpus(self, name: str, options_json: str) -> dict:
        """Make the bundled demo, prepared with ``options_json``, the corpus: only a reference is
        stored, the app prepares it again when it opens the workspace."""
        record = {"id": uuid.uuid4().hex, "name": name, "source": "demo", "options": options_json}
        return self._set_corpus(record)

    def save_corpus(self, dataset, name: str) -> dict:
        """Write ``dataset`` (Dataset.save) as the corpus; refused over the quota."""
        record = {"id": uuid.uuid4().hex, "name": name, "source": "saved"}
        folder = self.path / "corpus"
        folder.mkdir(exist_ok=True)
        target = folder / record["id"]
        dataset.save(target)
        try:
            old = self.corpus_record()
            freed = tree_bytes(folder / old["id"]) if old and old.get("source") == "saved" else 0
            self.check_room(0, "This corpus", freed_bytes=freed)
            return self._set_corpus(record)
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise

    def _set_corpus(self, record: dict) -> dict:
        def change(data):
            old = data.get("corpus")
            data["corpus"] = record
            data["evaluations"] = {}  # figures are of a corpus
            return old

        old = self.update(change)
        if isinstance(old, dict) and CORPUS_PATTERN.fullmatch(str(old.get("id", ""))):
            shutil.rmtree(self.path / "corpus" / old["id"], ignore_errors=True)
        shutil.rmtree(self.path / "evaluations", ignore_errors=True)
        (self.path / SWEEP).unlink(missing_ok=True)  # its figures are of the old corpus too
        return record

    def load_corpus(self, record: dict):
        """The saved corpus of ``record`` (one of this workspace's, from :meth:`corpus_record`)."""
        from corpora import Dataset

        if record.get("source") != "saved" or not CORPUS_PATTERN.fullmatch(str(record.get("id", ""))):
            raise WorkspaceError("this workspace's corpus is not a saved one")
        return Dataset.load(self.path / "corpus" / record["id"])

    # ---- models -----------------------------------------------------------------------------
    def models(self) -> dict[str, dict]:
        """name -> record of each model, in the order they were added (records with a bad key are skipped)."""
        found = self.index().get("models") or {}
        return {n: r for n, r in found.items() if isinstance(r, dict) and KEY_PATTERN.fullmatch(str(r.get("key", "")))}

    def model_folder(self, record: dict) -> Path:
        key = str(record.get("key", ""))
        if not KEY_PATTERN.fullmatch(key):
            raise WorkspaceError("malformed model record in the workspace index")
        return self.path / "models" / key

    def add_model(self, name: str, model, settings: dict, origin: str, run: str | None = None,
                  check_quota: bool = True) -> str:
        """Write fitted ``model`` (its estimator's ``save``) and list it as ``name``, or as
        ``name-2``, ``name-3``, ... when the name is taken meanwhile; returns the name used.

        ``check_quota`` False: written even over the quota (a finished training run: its work
        must not be lost; the quota was checked when it started)."""
        key = new_key()
        models = self.path / "models"
        models.mkdir(exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".new-", dir=models))
        try:
            model.save(tmp)
            if check_quota:
                self.check_room(0, f"Model {name}")
            os.rename(tmp, models / key)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        sync_folder(models)
        record = {"key": key, "kind": model.kind, "n_units": int(model.n_units_), "origin": origin,
                  "settings": settings, "run": run, "saved": time.time()}

        def change(data):
            taken = set(data.get("models") or {})
            chosen, i = name, 2
            while chosen in taken:
                chosen, i = f"{name}-{i}", i + 1
            data.setdefault("models", {})[chosen] = record
            return chosen

        try:
            return self.update(change)
        except BaseException:
            shutil.rmtree(models / key, ignore_errors=True)
            raise

    def load_model(self, record: dict):
        from docmodel.checkpoint import load_model

        return load_model(self.model_folder(record) / "model.pt")

    def remove_model(self, name: str) -> None:
        def change(data):
            (data.get("evaluations") or {}).pop(name, None)
            return (data.get("models") or {}).pop(name, None)

        record = self.update(change)
        if isinstance(record, dict) and KEY_PATTERN.fullmatch(str(record.get("key", ""))):
            shutil.rmtree(self.model_folder(record), ignore_errors=True)
            (self.path / "evaluations" / f"{record['key']}.json").unlink(missing_ok=True)

    # ---- evaluations ------------------------------------------------------------------------
    def save_evaluation(self, name: str, result: dict) -> None:
        """Keep the figures ``result`` of model ``name`` on the current corpus (a small JSON file;
        written even over the quota, like every result)."""
        models, corpus = self.models(), self.corpus_record()
        if name not in models or corpus is None:
            return
        key = models[name]["key"]
        write_json(self.path / "evaluations" / f"{key}.json", result)

        def change(data):
            data.setdefault("evaluations", {})[name] = {"key": key, "corpus": corpus["id"]}

        self.update(change)

    def evaluations(self) -> dict[str, dict]:
        """model name -> the result :meth:`save_evaluation` kept, for the models and corpus of now."""
        data = self.index()
        corpus = data.get("corpus") or {}
        models = self.models()
        out = {}
        for name, ref in (data.get("evaluations") or {}).items():
            if not isinstance(ref, dict) or name not in models or ref.get("key") != models[name]["key"]:
                continue
            if ref.get("corpus") != corpus.get("id"):
                continue
            try:
                out[name] = read_json(self.path / "evaluations" / f"{models[name]['key']}.json")
            except (OSError, ValueError):
                continue  # measured again on the Compare page
        return out

    # ---- sweep ------------------------------------------------------------------------------
    def save_sweep(self, sweep: dict) -> None:
        """Keep ``sweep`` (the form of :mod:`docmodel.sweep`'s ``sweep.json``) as the workspace's
        latest sweep over the number of units, replacing the one before; written even over the
        quota, like every result. Dropped when the corpus changes."""
        write_json(self.path / SWEEP, sweep)

    def sweep(self) -> dict | None:
        """The sweep :meth:`save_sweep` kept last, or None (none, or a file that cannot be read)."""
        try:
            data = read_json(self.path / SWEEP)
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) and {"settings", "corpus", "pairs"} <= set(data) else None
