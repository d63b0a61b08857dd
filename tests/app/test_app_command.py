"""``docmodel app`` as a real process: stopping it stops its Streamlit server.

Before the fix a SIGTERM (or SIGHUP) to ``docmodel app`` killed only the parent and left the
``streamlit run`` child serving, re-parented to init; this test failed on that code (the parent
died by the signal, status -15, and the child survived). Linux only: descendants are read from
``/proc``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="needs Linux /proc")

# Generous, only so that a broken build fails instead of hanging; nothing here asserts a timing.
DEADLINE_S = 180


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def process_table() -> dict[int, tuple[int, int, str]]:
    """pid -> (parent pid, start time in clock ticks, state) for every process now in /proc."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # it exited while we looked
            continue
        # The command name (field 2) is in parentheses and may hold spaces; split after it.
        fields = stat[stat.rindex(")") + 2:].split()
        table[int(entry.name)] = (int(fields[1]), int(fields[19]), fields[0])
    return table


def descendants(pid: int) -> dict[int, int]:
    """pid -> start time of every live descendant of ``pid`` (the start time tells a reused pid)."""
    table = process_table()
    found, frontier = {}, [pid]
    while frontier:
        parent = frontier.pop()
        for child, (ppid, started, _) in table.items():
            if ppid == parent and child not in found:
                found[child] = started
                frontier.append(child)
    return found


def survivors(started: dict[int, int]) -> list[int]:
    """Those of ``started`` still running (not exited, not a zombie, not a new process)."""
    table = process_table()
    return [pid for pid, start in started.items()
            if pid in table and table[pid][1] == start and table[pid][2] != "Z"]


def wait_until_serving(proc: subprocess.Popen, port: int, log: Path) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while True:
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.read().strip() == b"ok":
                    return
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"docmodel app did not start:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.3)


STOP_SIGNALS = [name for name in ("SIGTERM", "SIGHUP", "SIGINT") if hasattr(signal, name)]


@pytest.mark.parametrize("signal_name", STOP_SIGNALS)
def test_stopping_docmodel_app_stops_its_streamlit_server(tmp_path, signal_name):
    signum = getattr(signal, signal_name)
    port, log = free_port(), tmp_path / "app.log"
    with open(log, "wb") as out:
        # Its own session, so that the signal reaches only the parent (as from a harness or
        # `kill PID`) and so that the clean-up below can reach anything it left behind.
        # SIGINT at its default: a shell starting the tests in the background passes it ignored,
        # and Python then never turns it into KeyboardInterrupt.
        proc = subprocess.Popen([sys.executable, "-m", "docmodel", "app", "--port", str(port)],
                                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        wait_until_serving(proc, port, log)
        children = descendants(proc.pid)
        assert children, "docmodel app started no Streamlit process"
        proc.send_signal(signum)
        status = proc.wait(timeout=DEADLINE_S)
        # The parent reaps its child before it exits, so there is nothing to wait for here.
        assert survivors(children) == [], f"still running after docmodel app exited: {survivors(children)}"
        assert status == 128 + signum, log.read_text(errors="replace")[-3000:]
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=DEADLINE_S)
