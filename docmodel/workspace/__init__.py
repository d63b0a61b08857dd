"""Workspaces: what the app keeps for each user on disk, so that no work is lost to a reload, a
closed tab or a server restart (:mod:`.store`: folders, index, corpus, models, evaluations;
:mod:`.runs`: training runs and what resumes them; :mod:`.housekeeping`: list, remove, prune;
:mod:`.files`: atomic writes and locks). The ``docmodel workspaces`` command and the app share it.
Plain files only (JSON, SciPy ``.npz``, the project's checkpoints): no database server.
"""

from docmodel.workspace.housekeeping import Summary, WorkspaceBusy, prune, remove, summaries
from docmodel.workspace.store import (
    APP_ENV,
    DEFAULT_KEEP_DAYS,
    DEFAULT_MAX_JOBS,
    DEFAULT_QUOTA_MB,
    QuotaExceeded,
    Store,
    Workspace,
    WorkspaceError,
    WorkspaceGone,
    default_data_dir,
    valid_id,
)

__all__ = [
    "APP_ENV",
    "DEFAULT_KEEP_DAYS",
    "DEFAULT_MAX_JOBS",
    "DEFAULT_QUOTA_MB",
    "QuotaExceeded",
    "Store",
    "Summary",
    "Workspace",
    "WorkspaceBusy",
    "WorkspaceError",
    "WorkspaceGone",
    "default_data_dir",
    "prune",
    "remove",
    "summaries",
    "valid_id",
]
