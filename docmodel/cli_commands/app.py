"""``docmodel app [--port N] [--data-dir DIR]``: start the Streamlit app (``app/main.py``) in a
subprocess.

The app's settings (upload limit, XSRF protection, no usage statistics, headless) are passed on
the command line as well as kept in ``.streamlit/config.toml``, so they hold whatever directory
the command is started from. The workspace settings (data directory, concurrent training jobs,
quota, days kept: :mod:`docmodel.workspace`) reach the app in the environment variables it reads
(``docmodel.workspace.APP_ENV``). Streamlit itself is not imported here: ``docmodel`` never imports the app's layer.
Stopping the command (Ctrl-C, SIGTERM, SIGHUP) stops the server with it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import subprocess
import sys
from pathlib import Path

from corpora.errors import CorpusError
from docmodel.workspace import APP_ENV as ENV
from docmodel.workspace import (
    DEFAULT_KEEP_DAYS,
    DEFAULT_MAX_JOBS,
    DEFAULT_QUOTA_MB,
    default_data_dir,
)

SERVER_OPTIONS = {
    "server.headless": "true",
    "server.maxUploadSize": "200",
    "server.enableXsrfProtection": "true",
    "server.enableCORS": "true",
    "server.fileWatcherType": "none",
    "server.runOnSave": "false",
    "browser.gatherUsageStats": "false",
    "client.showErrorDetails": "none",
    "client.toolbarMode": "minimal",
    "runner.magicEnabled": "false",
    "runner.postScriptGC": "false",
}


def add_arguments(p) -> None:
    p.add_argument("--port", type=int, default=8501, help="port to serve on (default 8501)")
    p.add_argument(
        "--address",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1, this machine only; 0.0.0.0 for every interface)",
    )
    p.add_argument("--max-upload-mb", type=int, default=200, help="largest upload in MB (default 200)")
    p.add_argument(
        "--data-dir",
        help=f"where the users' workspaces are kept, created on first use (default: $DOCMODEL_DATA_DIR, else the "
             f"per-user data folder; here {default_data_dir()})",
    )
    p.add_argument("--max-jobs", type=int, default=DEFAULT_MAX_JOBS,
                   help=f"training jobs run at once; more wait in a queue (default {DEFAULT_MAX_JOBS})")
    p.add_argument("--quota-mb", type=float, default=DEFAULT_QUOTA_MB,
                   help=f"disk quota of each workspace in MB, 0 for none (default {DEFAULT_QUOTA_MB})")
    p.add_argument("--keep-days", type=float, default=DEFAULT_KEEP_DAYS,
                   help=f"remove workspaces unused for this many days, 0 to keep them (default {DEFAULT_KEEP_DAYS})")
    p.add_argument("--checkpoint-every", type=float, default=None, metavar="SECONDS",
                   help="how often a training SBN saves the state it resumes from after a restart "
                        "(default: the estimator's, 30 s)")



def workspace_env(data_dir: str | None, max_jobs: int = DEFAULT_MAX_JOBS, quota_mb: float = DEFAULT_QUOTA_MB,
                  keep_days: float = DEFAULT_KEEP_DAYS, checkpoint_every: float | None = None) -> dict[str, str]:
    """The app's workspace settings as environment variables, checked; the data directory is
    created (and must be writable)."""
    if max_jobs < 1:
        raise CorpusError(f"--max-jobs must be at least 1, got {max_jobs}")
    if not quota_mb >= 0:
        raise CorpusError(f"--quota-mb must be 0 (no quota) or more, got {quota_mb:g}")
    if not keep_days >= 0:
        raise CorpusError(f"--keep-days must be 0 (keep) or more, got {keep_days:g}")
    if checkpoint_every is not None and not checkpoint_every > 0:
        raise CorpusError(f"--checkpoint-every must be a positive number of seconds, got {checkpoint_every:g}")
    folder = Path(data_dir).expanduser() if data_dir else default_data_dir()
    try:
        (folder / "workspaces").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CorpusError(f"cannot create the data directory {folder}: {exc.strerror or exc}") from None
    if not os.access(folder / "workspaces", os.W_OK):
        raise CorpusError(f"the data directory {folder} is not writable; choose another with --data-dir")
    env = {ENV["data_dir"]: str(folder.resolve()), ENV["max_jobs"]: str(max_jobs), ENV["quota_mb"]: f"{quota_mb:g}",
           ENV["keep_days"]: f"{keep_days:g}"}
    if checkpoint_every is not None:
        env[ENV["state_every_seconds"]] = f"{checkpoint_every:g}"
    return env


def app_script() -> Path:
    """Where ``app/main.py`` is: beside this package in a checkout or an installed tree."""
    candidate = Path(__file__).resolve().parents[2] / "app" / "main.py"
    if candidate.is_file():
        return candidate
    spec = importlib.util.find_spec("app")
    if spec is not None and spec.submodule_search_locations:
        found = Path(next(iter(spec.submodule_search_locations))) / "main.py"
        if found.is_file():
            return found
    raise CorpusError("cannot find the app (app/main.py); reinstall docmodel with 'make install'")


def command(port: int, address: str, max_upload_mb: int = 200) -> list[str]:
    """The ``streamlit run`` command line for the app."""
    if not 1 <= port <= 65535:
        raise CorpusError(f"--port must be between 1 and 65535, got {port}")
    if max_upload_mb < 1:
        raise CorpusError(f"--max-upload-mb must be at least 1, got {max_upload_mb}")
    options = dict(SERVER_OPTIONS, **{"server.maxUploadSize": str(max_upload_mb)})
    flags = [f"--{name}={value}" for name, value in options.items()]
    return [sys.executable, "-m", "streamlit", "run", str(app_script()), f"--server.port={port}",
            f"--server.address={address}", *flags]


# Signals that stop the command besides SIGINT (which Python already raises as KeyboardInterrupt);
# a platform without one (SIGHUP on Windows) simply has nothing to handle.
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


class _Stopped(Exception):
    """Raised in the waiting parent by a stop signal; ``signum`` is its number."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _raise_stopped(signum, frame):
    # Ignore a second signal from now on: it must not interrupt the clean-up the first one starts.
    for other in STOP_SIGNALS:
        signal.signal(other, signal.SIG_IGN)
    raise _Stopped(signum)


@contextlib.contextmanager
def _stop_signals_raise():
    """Within the block SIGTERM and SIGHUP raise ``_Stopped``; the previous handlers come back after."""
    previous = {signum: signal.signal(signum, _raise_stopped) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def run(args) -> int:
    cmd = command(args.port, args.address, args.max_upload_mb)
    settings = workspace_env(args.data_dir, args.max_jobs, args.quota_mb, args.keep_days, args.checkpoint_every)
    root = app_script().parents[1]
    host = "localhost" if args.address in ("127.0.0.1", "0.0.0.0") else args.address
    print(f"docmodel app: serving on http://{host}:{args.port} (Ctrl-C to stop); workspaces in "
          f"{settings[ENV['data_dir']]}", file=sys.stderr)
    env = dict(os.environ, STREAMLIT_BROWSER_GATHER_USAGE_STATS="false", **settings)
    # Streamlit runs as a child, not by exec (os.execv is no real exec on Windows: the parent would
    # exit at once), so a stop signal to this process must end the child too; by default SIGTERM
    # and SIGHUP killed only the parent and left the server running. Turning them into an exception
    # is enough: subprocess.call kills and reaps its child when anything is raised while it waits,
    # as it already did for SIGINT's KeyboardInterrupt (after a short wait for a child that got the
    # terminal's SIGINT too). The kill skips Streamlit's clean shutdown, which loses nothing: the
    # workspaces are on disk, written atomically, and a training job cut short is resumed (or
    # marked interrupted) when the app starts again on the same data directory (app.jobs.recover).
    try:
        with _stop_signals_raise():
            return subprocess.call(cmd, cwd=root, env=env)
    except _Stopped as stop:
        print(f"docmodel app: stopped by {signal.Signals(stop.signum).name}", file=sys.stderr)
        return 128 + stop.signum
    except KeyboardInterrupt:
        return 130
