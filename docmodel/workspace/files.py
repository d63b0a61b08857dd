"""File-level pieces of the workspace store: atomic writes, a lock that holds across threads and
processes, folder sizes, and the identity of the process that owns a training run.

Everything a workspace keeps is written by writing a temporary file beside the target, flushing
it to disk and renaming it over the target (``os.replace`` is atomic on POSIX and Windows), so a
reader, or a process killed mid-write, sees the old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

try:  # POSIX; elsewhere the lock holds between the threads of one process only
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

LOCK_NAME = ".lock"


def atomic_write(path: Path, write: Callable) -> None:
    """Call ``write(binary_file)`` on a temporary file beside ``path``, then rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    sync_folder(path.parent)


def sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX); a no-op where folders cannot be opened."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _plain(value):
    """JSON for what the figures and settings hold besides plain types (NumPy scalars, arrays)."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (set, tuple)):
        return list(value)
    return str(value)


def write_json(path: Path, data) -> None:
    """``data`` as JSON, atomically (NaN and infinities kept, as Python's json reads them)."""
    text = json.dumps(data, indent=1, default=_plain, allow_nan=True).encode("utf-8")
    atomic_write(path, lambda f: f.write(text))


def read_json(path: Path):
    """The JSON in ``path``; raises OSError or ValueError (``json.JSONDecodeError``) when it cannot."""
    return json.loads(path.read_text(encoding="utf-8"))


def tree_bytes(folder: Path) -> int:
    """Bytes of the regular files under ``folder`` (links are not followed)."""
    total = 0
    for root, _dirs, files in os.walk(folder, followlinks=False):
        for name in files:
            with contextlib.suppress(OSError):
                st = os.lstat(os.path.join(root, name))
                total += st.st_size
    return total


def fmt_bytes(n: float) -> str:
    """``1.5 MB``-style sizes (powers of 1024, as quotas are set in MB)."""
    if n < 1024:
        return f"{int(n)} B"
    units = ("KB", "MB", "GB", "TB")
    exp = min(len(units), int(math.log(n, 1024)))
    return f"{n / 1024 ** exp:.1f} {units[exp - 1]}"


_thread_locks: dict[str, threading.RLock] = {}
_thread_locks_guard = threading.Lock()


@contextlib.contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Hold ``folder``'s lock: against other threads of this process (re-entrant) and, on POSIX,
    against other processes (``flock`` on ``folder/.lock``; the app's server and the
    ``docmodel workspaces`` command both take it)."""
    key = str(folder.resolve())
    with _thread_locks_guard:
        lock = _thread_locks.setdefault(key, threading.RLock())
    with lock:
        if fcntl is None:
            yield
            return
        fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the flock


# ---- who owns a run --------------------------------------------------------------------------
def _start_ticks(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot, Linux), or None where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2:].split()[19])


def _boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None


def this_process() -> dict:
    """This process as a run's owner: host, pid, boot and start time (Linux; None elsewhere)."""
    pid = os.getpid()
    return {"host": socket.gethostname(), "pid": pid, "boot": _boot_id(), "start": _start_ticks(pid)}


def is_this_process(owner: dict | None) -> bool:
    return isinstance(owner, dict) and owner == this_process()


def owner_alive(owner: dict | None) -> bool:
    """Whether the process recorded as ``owner`` still runs. A pid reused by another process
    after a restart or a reboot does not count (Linux compares boot id and start time); an owner
    on another host is assumed alive, as nothing here can tell."""
    if not isinstance(owner, dict) or not isinstance(owner.get("pid"), int):
        return False
    if owner.get("host") != socket.gethostname():
        return True
    if owner.get("boot") is not None and _boot_id() is not None and owner["boot"] != _boot_id():
        return False
    try:
        os.kill(owner["pid"], 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    except OSError:
        return False
    started = _start_ticks(owner["pid"])
    return owner.get("start") is None or started is None or started == owner["start"]
