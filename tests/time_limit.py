"""A hard time limit for one test example: a hang raises TimeoutError instead of stalling the run.

Used by the generated-input tests (``tests/corpora``, ``tests/docmodel/cli_commands``), the model
file tests (``tests/docmodel/test_reliability_models.py``) and the concurrent-load test
(``tests/app/test_reliability_load.py``).
"""

from __future__ import annotations

import contextlib
import signal

EXAMPLE_SECONDS = 30  # hard limit per example: a hang fails instead of stalling the run


@contextlib.contextmanager
def time_limit(seconds: float = EXAMPLE_SECONDS):
    """Raise TimeoutError in the main thread if the block runs longer than ``seconds``."""

    def alarm(signum, frame):
        raise TimeoutError(f"still running after {seconds} s: a hang")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
