"""A training run killed with SIGKILL continues with --resume and ends where an uninterrupted
run with the same seed ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from corpora import Corpus, Dataset
from docmodel.checkpoint import load_model
from tests.docmodel.models.sbn.test_sbn_estimator import planted_corpus


def _train_cmd(corpus, out, *extra):
    return [
        sys.executable, "-m", "docmodel", "train", str(corpus), "--units", "6", "--epochs", "40",
        "--patience", "1000", "--val-docs", "50", "--batch-size", "16", "--checkpoint-every", "0",
        "--seed", "3", "-o", str(out), *extra,
    ]


@pytest.mark.slow
def test_sigkill_then_resume_matches_uninterrupted_run(tmp_path):
    X, vocab = planted_corpus(n_docs=3000, n_blocks=8, words_per_block=25, length=60)
    Dataset(Corpus(X, vocab, [f"d{i}" for i in range(X.shape[0])])).save(tmp_path / "corpus")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    subprocess.run(_train_cmd(tmp_path / "corpus", tmp_path / "full"), check=True, env=env, capture_output=True)

    state = tmp_path / "killed" / "train_state.pt"
    proc = subprocess.Popen(_train_cmd(tmp_path / "corpus", tmp_path / "killed"), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    epoch = 0
    while time.time() < deadline and proc.poll() is None:
        if state.exists():
            try:
                epoch = torch.load(state, weights_only=True)["run"]["epoch"]
            except Exception:  # caught mid-rename on a slow disk: look again
                epoch = 0
            if epoch >= 5:
                break
        time.sleep(0.05)
    assert proc.poll() is None, "training finished before it could be killed; make the run longer"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert 5 <= epoch < 40
    assert not (tmp_path / "killed" / "model.pt").exists()

    subprocess.run(_train_cmd(tmp_path / "corpus", tmp_path / "killed", "--resume"), check=True, env=env, capture_output=True)
    full, resumed = load_model(tmp_path / "full"), load_model(tmp_path / "killed")
    np.testing.assert_allclose(resumed.unit_word(), full.unit_word(), rtol=1e-5, atol=1e-6)
    assert len(resumed.history_) == len(full.history_) == 40
    assert resumed.history_[-1]["val_perplexity_bound"] == pytest.approx(full.history_[-1]["val_perplexity_bound"], rel=1e-5)
