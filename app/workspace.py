"""The session's side of workspaces: the server's settings, the workspace a browser session works
in (named by the page's URL), and what the sidebar says about it.

``docmodel app`` passes its settings in environment variables (``APP_ENV``), read here with the
defaults of :mod:`docmodel.workspace`. The workspace id travels in the URL as
``?workspace=<id>``: a reload, another tab or a later visit with the same address opens the same
workspace (a new browser session reads it once; the app keeps it in the URL); an address with a malformed or unknown id opens a new one, with a notice saying so.
The id is only ever looked up through :meth:`docmodel.workspace.Store.open`, which refuses
anything but the id's strict form, so no address can reach another folder.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from app.jobs import SCHEDULER, recover
from corpora import CorpusError
from docmodel.workspace import (
    APP_ENV,
    DEFAULT_KEEP_DAYS,
    DEFAULT_MAX_JOBS,
    DEFAULT_QUOTA_MB,
    Store,
    Workspace,
    default_data_dir,
    prune,
    valid_id,
)
from docmodel.workspace.files import fmt_bytes

log = logging.getLogger(__name__)

PARAM = "workspace"
ENV = APP_ENV
PRUNE_EVERY_SECONDS = 6 * 3600.0


@dataclass(frozen=True)
class Config:
    """The server's workspace settings.

    Attributes
    ----------
    data_dir : Path
    max_jobs : int
        Training jobs at once on this server (the others wait in a queue).
    quota_mb : float
        Disk quota per workspace (0: none).
    keep_days : float
        Workspaces untouched this long are removed (0: kept for ever).
    state_every_seconds : float or None
        How often a running SBN saves its resume state (None: the estimator's default).
    """

    data_dir: Path
    max_jobs: int = DEFAULT_MAX_JOBS
    quota_mb: float = DEFAULT_QUOTA_MB
    keep_days: float = DEFAULT_KEEP_DAYS
    state_every_seconds: float | None = None

    @classmethod
    def from_env(cls, environ=os.environ) -> Config:
        def number(key: str, kind, default, least):
            name = ENV[key]
            text = environ.get(name, "").strip()
            if not text:
                return default
            try:
                value = kind(text)
            except ValueError:
                raise CorpusError(f"{name} must be a number, got {text!r}") from None
            if not value >= least:
                raise CorpusError(f"{name} must be at least {least}, got {text!r}")
            return value

        return cls(
            data_dir=default_data_dir(environ),
            max_jobs=number("max_jobs", int, DEFAULT_MAX_JOBS, 1),
            quota_mb=number("quota_mb", float, DEFAULT_QUOTA_MB, 0),
            keep_days=number("keep_days", float, DEFAULT_KEEP_DAYS, 0),
            state_every_seconds=number("state_every_seconds", float, None, 0.1),
        )


def config() -> Config:
    return Config.from_env()


@st.cache_resource(show_spinner=False)
def _server(data_dir: str, quota_mb: float, keep_days: float, state_every_seconds: float | None) -> Store:
    """Once per server and data directory: the store, the jobs a stopped server left behind taken
    over (:func:`app.jobs.recover`), and the pruning of unused workspaces every few hours."""
    store = Store(data_dir, quota_mb)
    store.folder.mkdir(parents=True, exist_ok=True)
    recover(store, SCHEDULER, state_every_seconds)
    if keep_days:
        threading.Thread(target=_prune_forever, args=(store, keep_days), name="docmodel-prune", daemon=True).start()
    return store


def _prune_forever(store: Store, keep_days: float) -> None:
    while True:
        try:
            removed, _ = prune(store, keep_days)
            if removed:
                log.info("removed %d workspaces unused for %g days", len(removed), keep_days)
        except Exception:  # housekeeping must never stop the server
            log.exception("pruning the workspaces failed")
        time.sleep(PRUNE_EVERY_SECONDS)


def store() -> Store:
    cfg = config()
    SCHEDULER.configure(cfg.max_jobs)
    return _server(str(cfg.data_dir), cfg.quota_mb, cfg.keep_days, cfg.state_every_seconds)


def use_the_router(first_run: bool) -> None:
    """Make Streamlit run the router (``app/main.py``) from now on; on a session's first run,
    run again through it.

    A server whose very first request is a page's address (``/train?workspace=...``, from a
    bookmark or a reload after a restart) runs that page file on its own, in Streamlit's older
    "pages folder" mode (the app's pages sit in ``app/pages``), and stays in that mode for its
    whole life: no router, no sidebar. ``st.navigation`` ends that mode only once it has run, so
    a page that finds itself running alone ends it, and on the session's first run (when no
    widget event can be lost) reruns: the router then runs the same page (pages are known by
    their URL path in both modes). Guarded, in case Streamlit drops the flag."""
    from streamlit.runtime.pages_manager import PagesManager

    if getattr(PagesManager, "uses_pages_directory", None):
        PagesManager.uses_pages_directory = False
        if first_run:
            st.rerun()


def attach(current: Workspace | None) -> tuple[Workspace, str]:
    """The workspace of this run and a notice for the user ("" when there is nothing to say).

    A session keeps the workspace it has (within a session only the app changes the URL; a
    reload or an address typed in is a new session): else the URL's, else a new one. The URL is
    set to the workspace's id."""
    s = store()
    wanted = st.query_params.get(PARAM)
    notice = ""
    if current is not None:
        ws = current
        if not current.exists():
            ws = s.create()
            notice = (f"The workspace you were using was removed from this server (unused for "
                      f"{_days(config().keep_days)}, or by its operator). This is a new, empty workspace.")
    elif wanted is None:
        ws = s.create()
    elif not valid_id(wanted):
        ws = s.create()
        notice = ("The address does not hold a valid workspace id (22 letters, digits, '-' or '_'), so this is a "
                  "new, empty workspace. Bookmark this page to come back to it.")
    else:
        found = s.open(wanted)
        if found is None:
            ws = s.create()
            notice = (f"There is no workspace {wanted[:6]}... on this server (it may have been removed after "
                      f"{_days(config().keep_days)} without use, or the address is mistyped). This is a new, empty "
                      "workspace. Bookmark this page to come back to it.")
        else:
            ws = found
            ws.touch()
    if st.query_params.get(PARAM) != ws.id:
        st.query_params[PARAM] = ws.id
    return ws, notice


def new_workspace() -> Workspace:
    """A fresh workspace, put in the URL (the previous one stays reachable by its own address)."""
    ws = store().create()
    st.query_params[PARAM] = ws.id
    return ws


def _days(days: float) -> str:
    return f"{days:g} days" if days else "a long time"


def sidebar_note(ws: Workspace) -> str:
    """The truth about this workspace, for the sidebar."""
    cfg = config()
    kept = (f"Workspaces unused for {cfg.keep_days:g} days are removed." if cfg.keep_days else
            "Workspaces are kept until the server's operator removes them.")
    used = fmt_bytes(ws.usage())
    quota = f"{used} of {fmt_bytes(cfg.quota_mb * 1024 * 1024)} used" if cfg.quota_mb else f"{used} used"
    return (f"Your corpus, models and figures are kept on this server in this workspace, and training goes on "
            f"when the page is closed. **Bookmark this page's address** to come back to it (from another tab, "
            f"another day, or after a restart); anyone with the address can open it. {kept} ({quota}.)")
