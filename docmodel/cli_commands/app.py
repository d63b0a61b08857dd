"""``docmodel app [--port N]``: start the Streamlit app (``app/main.py``) in a subprocess.

The app's settings (upload limit, XSRF protection, no usage statistics, headless) are passed on
the command line as well as kept in ``.streamlit/config.toml``, so they hold whatever directory
the command is started from. Streamlit itself is not imported here: ``docmodel`` never imports
the app's layer. Stopping the command (Ctrl-C, SIGTERM, SIGHUP) stops the server with it.
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
}


def add_arguments(p) -> None:
    p.add_argument("--port", type=int, default=8501, help="port to serve on (default 8501)")
    p.add_argument(
        "--address",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1, this machine only; 0.0.0.0 for every interface)",
    )
    p.add_argument("--max-upload-mb", type=int, default=200, help="largest upload in MB (default 200)")


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
    root = app_script().parents[1]
    host = "localhost" if args.address in ("127.0.0.1", "0.0.0.0") else args.address
    print(f"docmodel app: serving on http://{host}:{args.port} (Ctrl-C to stop)", file=sys.stderr)
    env = dict(os.environ, STREAMLIT_BROWSER_GATHER_USAGE_STATS="false")
    # Streamlit runs as a child, not by exec (os.execv is no real exec on Windows: the parent would
    # exit at once), so a stop signal to this process must end the child too; by default SIGTERM
    # and SIGHUP killed only the parent and left the server running. Turning them into an exception
    # is enough: subprocess.call kills and reaps its child when anything is raised while it waits,
    # as it already did for SIGINT's KeyboardInterrupt (after a short wait for a child that got the
    # terminal's SIGINT too). The kill skips Streamlit's clean shutdown, which loses nothing: the
    # server keeps its sessions and training threads (daemons) in memory only.
    try:
        with _stop_signals_raise():
            return subprocess.call(cmd, cwd=root, env=env)
    except _Stopped as stop:
        print(f"docmodel app: stopped by {signal.Signals(stop.signum).name}", file=sys.stderr)
        return 128 + stop.signum
    except KeyboardInterrupt:
        return 130
