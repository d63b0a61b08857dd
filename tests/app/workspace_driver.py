"""A stand-in for the app's server in the recovery tests: ``python -m tests.app.workspace_driver
DATA_DIR SECONDS`` creates a workspace in DATA_DIR, queues an SBN training job in it as the
Train page does (:func:`app.jobs.new_job`, resume state every 0.2 s), prints the workspace id
and the run id, and waits for the job, so that a test can SIGKILL it mid-training."""

from __future__ import annotations

import sys

import numpy as np
import scipy.sparse as sp

from app.jobs import SCHEDULER, new_job
from corpora.vocabulary import Vocabulary
from docmodel.models.sbn.estimator import SBNTopicModel
from docmodel.workspace import Store

N_WORDS = 30


def counts(seed: int = 0) -> sp.csr_matrix:
    """200 documents over 30 words, three planted blocks of ten words."""
    rng = np.random.default_rng(seed)
    rates = np.full((200, N_WORDS), 0.05)
    for d in range(200):
        block = d % 3
        rates[d, 10 * block:10 * block + 10] = 1.0
    return sp.csr_matrix(rng.poisson(rates).astype(np.float64))


def main(data_dir: str, seconds: float) -> None:
    ws = Store(data_dir).create()
    X = counts()
    estimator = SBNTopicModel(n_units=3, max_epochs=100_000, max_seconds=seconds, patience=100_000, random_state=0)
    job = new_job(ws, name="long-sbn", estimator=estimator, X=X[:160], X_val=X[160:],
                  vocabulary=Vocabulary(tuple(f"w{i}" for i in range(N_WORDS))), settings={"kind": "sbn"},
                  max_epochs=100_000, max_seconds=seconds, state_every_seconds=0.2)
    SCHEDULER.submit(job)
    print(ws.id, job.run_id, flush=True)
    job.join()


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]))
