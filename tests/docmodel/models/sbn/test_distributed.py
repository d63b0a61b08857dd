"""Data-parallel training: two CPU workers started by torchrun (gloo) follow a single-process run
with the same global minibatch, up to floating-point reordering."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from corpora import Corpus, Dataset
from docmodel.checkpoint import load_model
from docmodel.cli import main
from docmodel.models.sbn.distributed import shard_bounds
from tests.docmodel.models.sbn.test_sbn_estimator import planted_corpus

# 600 documents, 44 held out: 556 = 37 * 15 + 1 training documents, so every global minibatch
# of 15 splits unevenly (8 + 7) and the last one leaves the second worker without documents.
_ARGS = ["--units", "6", "--epochs", "5", "--patience", "1000", "--val-docs", "44", "--batch-size", "15",
         "--seed", "3", "--checkpoint-every", "0", "--preset", "perplexity"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("ddp") / "corpus"
    X, vocab = planted_corpus(n_docs=600, n_blocks=8, words_per_block=25, length=60)
    Dataset(Corpus(X, vocab, [f"d{i}" for i in range(X.shape[0])])).save(path)
    return path


def _run(cmd):
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
    env["OMP_NUM_THREADS"] = "1"
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def _torchrun(*args, workers: int = 2):
    # --standalone: a rendezvous on localhost at a free port, so parallel test runs never collide.
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(workers),
            "-m", "docmodel", *args]


@pytest.mark.parametrize(
    ("n_global", "world", "expected"),
    [(15, 2, [(0, 8), (8, 15)]), (16, 2, [(0, 8), (8, 16)]), (1, 2, [(0, 1), (1, 1)]), (5, 3, [(0, 2), (2, 4), (4, 5)])],
)
def test_shards_cover_the_minibatch_once(n_global, world, expected):
    assert [shard_bounds(n_global, world, r) for r in range(world)] == expected


def _compare_with_one_process(corpus, tmp_path, extra=(), workers=2):
    single, ddp = tmp_path / "single", tmp_path / "ddp"
    _run([sys.executable, "-m", "docmodel", "train", str(corpus), *_ARGS, *extra, "-o", str(single)])
    done = _run(_torchrun("train", str(corpus), *_ARGS, *extra, "--distributed", "-o", str(ddp), workers=workers))
    assert done.stdout.count("saved ") == 1, done.stdout  # only rank 0 writes the model
    a, b = load_model(single), load_model(ddp)
    assert [h["step"] for h in b.history_] == [h["step"] for h in a.history_]
    # Tolerances: the workers' smaller products round differently, and where a Bernoulli draw's
    # uniform lies within that rounding of its probability one sample flips and the runs part a
    # little. On an AMD EPYC CPU no draw flipped (unit-word weights equal to 1.3e-7); on an Intel
    # Xeon one did: validation bound 1.7e-4 relative, weights 0.014. The errors these bounds exist
    # to catch were measured too: running statistics not all-reduced 0.11 and 0.45, shards
    # weighted equally instead of by their share 3.8e-3 and 0.13.
    np.testing.assert_allclose(
        [h["val_perplexity_bound"] for h in b.history_], [h["val_perplexity_bound"] for h in a.history_], rtol=6e-4
    )
    np.testing.assert_allclose(
        [h["train_elbo"] for h in b.history_], [h["train_elbo"] for h in a.history_], rtol=2e-4
    )
    np.testing.assert_allclose(b.unit_word(), a.unit_word(), atol=0.04)
    # Training moved the model: the comparison is not between two untrained networks.
    assert a.history_[-1]["val_perplexity_bound"] < 0.9 * a.history_[0]["val_perplexity_bound"]


@pytest.mark.parametrize("workers", [2, 1])
def test_workers_match_one_process(corpus, tmp_path, workers):
    # One worker under torchrun (a machine with one GPU, say) runs the same distributed code.
    _compare_with_one_process(corpus, tmp_path, workers=workers)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU in this session")
def test_nccl_workers_match_one_process(corpus, tmp_path):
    # One worker per GPU (NCCL refuses two ranks on one device); with a single GPU this still runs
    # the NCCL process group, DDP's gradient all-reduce and the all-reduced NVIL statistics.
    _compare_with_one_process(corpus, tmp_path, ["--device", "cuda"], workers=torch.cuda.device_count())


@pytest.mark.slow
@pytest.mark.parametrize("option", [["--algorithm", "reinforce"], ["--sample-baseline"]], ids=["reinforce", "loo"])
def test_two_workers_without_baseline_networks(corpus, tmp_path, option):
    # Plain REINFORCE and the leave-one-out baseline leave the baseline network unused, which DDP
    # must be told about.
    args = [*_ARGS[:3], "2", *_ARGS[4:], *option]
    _run([sys.executable, "-m", "docmodel", "train", str(corpus), *args, "-o", str(tmp_path / "single")])
    _run(_torchrun("train", str(corpus), *args, "-o", str(tmp_path / "ddp")))
    a, b = load_model(tmp_path / "single"), load_model(tmp_path / "ddp")
    np.testing.assert_allclose(b.unit_word(), a.unit_word(), atol=0.04)  # see _compare_with_one_process


def test_distributed_without_torchrun_is_one_line(corpus, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    code = main(["train", str(corpus), *_ARGS, "--distributed", "-o", str(tmp_path / "m")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "torchrun" in err[0], err


def test_distributed_lda_is_refused(corpus, tmp_path, capsys):
    code = main(["train", str(corpus), "--model", "lda", "--distributed", "-o", str(tmp_path / "m")])
    assert code == 2 and "SBN training only" in capsys.readouterr().err


def test_distributed_dreams_are_refused(corpus, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
    env["OMP_NUM_THREADS"] = "1"
    cmd = _torchrun("train", str(corpus), *_ARGS, "--encoder-dreams", "1", "-o", str(tmp_path / "m"))
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode != 0 and "does not support encoder_dreams" in done.stdout + done.stderr
    assert not (tmp_path / "m").exists() or not any((tmp_path / "m").iterdir()), list((tmp_path / "m").iterdir())
