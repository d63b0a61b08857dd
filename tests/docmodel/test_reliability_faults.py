"""Faults: crashes mid-write lose nothing, and numerical blow-ups roll back and carry on.

Writes are made to fail part-way (the serialiser raises after writing half its bytes, the
final rename fails, or the process is SIGKILLed mid-write); the file or corpus directory that
was there before must still load, unchanged, and no temporary file may be left where a crash
in-process could have cleaned it. Numerical faults are injected into the SBN's word
log-likelihood during training (NaN values, NaN gradients, a parameter set to infinity); the
training loop must roll back to its last good parameters, halve the learning rates, log a
warning, and end with finite parameters. The SIGKILL-and-resume test of training itself is
``cli_commands/test_resume.py``. The slow test trains on every corpus in ``../shared/data`` with
five seeds.
"""

from __future__ import annotations

import logging
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from corpora import Corpus, Dataset, Vocabulary
from corpora import corpus as corpus_module
from corpora.bow import read_feat
from corpora.loaders import load_documents
from corpora.prepare import PrepareOptions, prepare
from docmodel import checkpoint
from docmodel.checkpoint import atomic_write_bytes, load_model
from docmodel.cli import main
from docmodel.models.sbn.estimator import SBNTopicModel
from docmodel.models.sbn.networks import SBN
from docmodel.models.sbn.state import load_training_state
from tests.conftest import ROOT, shared_path
from tests.docmodel.models.sbn.test_sbn_estimator import planted_corpus


class Crash(OSError):
    """The injected failure (an OSError, like a full disk)."""


def leftovers(folder: Path) -> list[str]:
    """Hidden temporary files and folders the atomic writers create beside their targets."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.fixture(scope="module")
def two_models():
    """Two different tiny fitted SBNs over one vocabulary."""
    torch.set_num_threads(1)
    X, vocab = planted_corpus(n_docs=120, n_blocks=4, words_per_block=8, length=30)
    return [
        SBNTopicModel(n_units=3, max_epochs=2, n_val_docs=10, random_state=seed).fit(X, vocabulary=vocab)
        for seed in (0, 1)
    ]


def half_then_crash(real_save):
    """A torch.save that writes half of what it would have written, then fails."""

    def save(obj, f, *args, **kwargs):
        import io

        buffer = io.BytesIO()
        real_save(obj, buffer, *args, **kwargs)
        data = buffer.getvalue()
        f.write(data[: len(data) // 2])
        raise Crash("no space left on device (injected)")

    return save


# --- atomic writes: model files ----------------------------------------------------------------
def test_atomic_write_keeps_the_old_file_when_the_writer_fails(tmp_path):
    path = tmp_path / "file.bin"
    path.write_bytes(b"good old contents")

    def writer(f):
        f.write(b"half of the new")
        raise Crash("injected")

    with pytest.raises(Crash):
        atomic_write_bytes(path, writer)
    assert path.read_bytes() == b"good old contents"
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("where", ["torch.save writes half, then fails", "the final rename fails"])
def test_a_crash_while_saving_a_model_keeps_the_previous_one(two_models, tmp_path, monkeypatch, where):
    old, new = two_models
    old.save(tmp_path / "m")
    before = {p.name: p.read_bytes() for p in (tmp_path / "m").iterdir()}
    if where.startswith("torch.save"):
        monkeypatch.setattr(torch, "save", half_then_crash(torch.save))
    else:
        def failing_replace(src, dst):
            raise Crash("rename failed (injected)")

        monkeypatch.setattr(checkpoint.os, "replace", failing_replace)
    with pytest.raises(Crash):
        new.save(tmp_path / "m")
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in (tmp_path / "m").iterdir()} == before
    np.testing.assert_array_equal(load_model(tmp_path / "m").unit_word(), old.unit_word())
    assert leftovers(tmp_path / "m") == []


def test_a_model_save_killed_mid_write_leaves_the_old_file_whole(two_models, tmp_path):
    """SIGKILL cannot be cleaned up after: a hidden temporary file may stay, the model stays."""
    old, _ = two_models
    old.save(tmp_path / "m")
    before = (tmp_path / "m" / "model.pt").read_bytes()
    script = textwrap.dedent(
        f"""
        import io, os, signal, sys, torch
        from docmodel.checkpoint import load_model
        model = load_model({str(tmp_path / "m")!r})
        model.nets_.model.visible.weight.data += 1.0
        real_save = torch.save
        def save(obj, f, *args, **kwargs):
            buffer = io.BytesIO()
            real_save(obj, buffer, *args, **kwargs)
            f.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
            f.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        torch.save = save
        model.save({str(tmp_path / "m")!r})
        """
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, timeout=120)
    assert result.returncode == -signal.SIGKILL, result.stderr.decode()
    assert (tmp_path / "m" / "model.pt").read_bytes() == before
    np.testing.assert_array_equal(load_model(tmp_path / "m").unit_word(), old.unit_word())
    assert all(name.startswith(".model.pt.") for name in leftovers(tmp_path / "m"))


def test_a_crash_while_writing_the_training_state_keeps_the_last_one_to_resume_from(tmp_path, monkeypatch):
    X, vocab = planted_corpus(n_docs=120, n_blocks=4, words_per_block=8, length=30)
    state = tmp_path / "train_state.pt"
    real_save, calls = torch.save, []

    def save_then_crash_on_the_third(obj, f, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            half_then_crash(real_save)(obj, f, *args, **kwargs)
        real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save_then_crash_on_the_third)
    # batch_size=1 makes an epoch 110 steps, so every epoch ends in a validation and a state write.
    settings = dict(n_units=3, max_epochs=4, n_val_docs=10, patience=100, batch_size=1)
    with pytest.raises(Crash):
        SBNTopicModel(**settings).fit(X, state_path=state, state_every_seconds=0)
    monkeypatch.undo()
    assert load_training_state(state)["run"]["epoch"] == 2
    assert leftovers(tmp_path) == []
    resumed = SBNTopicModel(**settings).fit(X, state_path=state, resume=True, state_every_seconds=0)
    full = SBNTopicModel(**settings).fit(X)
    assert len(resumed.history_) == 4
    np.testing.assert_allclose(resumed.unit_word(), full.unit_word(), rtol=1e-5, atol=1e-6)


# --- atomic writes: corpus directories ----------------------------------------------------------
def small_dataset(words: tuple[str, ...], with_test: bool) -> Dataset:
    vocab = Vocabulary(words)
    X = np.arange(1, 4 * len(words) + 1).reshape(4, len(words)) % 3
    train = Corpus(X, vocab, ["a", "b", "c", "d"], texts=("t1", "t2", "t3", "t4"))
    test = Corpus(X[:2], vocab, ["e", "f"]) if with_test else None
    return Dataset(train, test, info={"note": words[0]})


def same(a: Dataset, b: Dataset) -> bool:
    return (
        a.vocabulary == b.vocabulary
        and (a.train.X != b.train.X).nnz == 0
        and a.train.doc_ids == b.train.doc_ids
        and a.info == b.info
        and (a.test is None) == (b.test is None)
    )


CORPUS_FAULTS = ["the Parquet writer writes half, then fails", "renaming the old folder away fails",
                 "renaming the new folder into place fails"]


@pytest.mark.parametrize("fault", CORPUS_FAULTS)
def test_a_crash_while_saving_a_corpus_keeps_the_previous_directory(tmp_path, monkeypatch, fault):
    old = small_dataset(("apple", "banana", "kiwi"), with_test=True)
    new = small_dataset(("x", "y"), with_test=False)
    old.save(tmp_path / "c")
    files_before = sorted(p.name for p in (tmp_path / "c").iterdir())
    if fault.startswith("the Parquet"):
        real = pd.DataFrame.to_parquet

        def to_parquet(self, path, *args, **kwargs):
            real(self, path, *args, **kwargs)
            Path(path).write_bytes(Path(path).read_bytes()[:20])
            raise Crash("injected")

        monkeypatch.setattr(pd.DataFrame, "to_parquet", to_parquet)
    else:
        real_rename, n_calls = corpus_module.os.rename, []
        fail_on = 1 if "old folder" in fault else 2

        def rename(src, dst):
            n_calls.append((src, dst))
            if len(n_calls) == fail_on:
                raise Crash("rename failed (injected)")
            return real_rename(src, dst)

        monkeypatch.setattr(corpus_module.os, "rename", rename)
    with pytest.raises(Crash):
        new.save(tmp_path / "c")
    monkeypatch.undo()
    assert same(Dataset.load(tmp_path / "c"), old)
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == files_before
    assert leftovers(tmp_path) == []


def test_a_first_save_that_crashes_leaves_nothing(tmp_path, monkeypatch):
    def to_parquet(self, path, *args, **kwargs):
        raise Crash("injected")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", to_parquet)
    with pytest.raises(Crash):
        small_dataset(("a", "b"), with_test=False).save(tmp_path / "c")
    assert list(tmp_path.iterdir()) == []


def test_a_replaced_corpus_directory_has_no_stale_files(tmp_path):
    small_dataset(("apple", "banana", "kiwi"), with_test=True).save(tmp_path / "c")
    new = small_dataset(("x", "y"), with_test=False)
    new.save(tmp_path / "c")
    assert same(Dataset.load(tmp_path / "c"), new)
    assert not (tmp_path / "c" / "test.npz").exists() and leftovers(tmp_path) == []


def test_prepare_that_fails_leaves_the_existing_corpus_alone(tmp_path, capsys):
    old = small_dataset(("apple", "banana", "kiwi"), with_test=True)
    old.save(tmp_path / "c")
    (tmp_path / "bad.jsonl").write_text('{"text": "fine"}\n{"text": \n')
    assert main(["prepare", str(tmp_path / "bad.jsonl"), "-o", str(tmp_path / "c")]) == 2
    assert "line 2 of bad.jsonl is not valid JSON" in capsys.readouterr().err
    assert same(Dataset.load(tmp_path / "c"), old) and leftovers(tmp_path) == []


# --- numerical faults ---------------------------------------------------------------------------
class NaNGradient(torch.autograd.Function):
    """Identity going forward; NaN gradients going back (a finite loss with a broken gradient)."""

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        return torch.full_like(grad, float("nan"))


def inject(monkeypatch, fault: str, at_calls: set[int] | None):
    """Make training's word log-likelihood fail at the given calls (None: every call).

    Only calls with gradients enabled count: validation runs without them and stays clean.
    Returns a record with the visible weights seen at the first call and at each call right
    after a fault.
    """
    real = SBN.log_p_x_given_h1
    record = {"calls": 0, "after_fault": []}

    def faulty(self, x, h1):
        if not torch.is_grad_enabled():
            return real(self, x, h1)
        record["calls"] += 1
        n = record["calls"]
        if n == 1:
            record["initial"] = self.visible.weight.detach().clone()
        if at_calls is not None and n - 1 in at_calls:
            record["after_fault"].append(self.visible.weight.detach().clone())
        hit = at_calls is None or n in at_calls
        if hit and fault == "parameter set to inf":
            with torch.no_grad():
                self.visible.weight[0, 0] = float("inf")
        out = real(self, x, h1)
        if hit and fault == "NaN loss":
            return out * float("nan")
        if hit and fault == "NaN gradient":
            return NaNGradient.apply(out)
        return out

    monkeypatch.setattr(SBN, "log_p_x_given_h1", faulty)
    return record


def rollback_messages(caplog) -> list[str]:
    return [
        r.getMessage() for r in caplog.records
        if r.levelno == logging.WARNING and "rolled back to the last good parameters" in r.getMessage()
    ]


def assert_finite(model: SBNTopicModel) -> None:
    for module in (model.nets_.model, model.nets_.encoder, model.nets_.baselines):
        for name, p in module.named_parameters():
            assert torch.isfinite(p).all(), name


@pytest.mark.parametrize(
    "algorithm, fault",
    [
        (algorithm, fault)
        for algorithm in ("nvil", "wake-sleep")
        for fault in ("NaN loss", "NaN gradient", "parameter set to inf")
    ],
)
def test_a_numerical_fault_rolls_back_halves_the_learning_rate_and_carries_on(
    monkeypatch, caplog, algorithm, fault
):
    torch.set_num_threads(1)
    X, vocab = planted_corpus(n_docs=120, n_blocks=4, words_per_block=8, length=30)
    record = inject(monkeypatch, fault, at_calls={3, 7})
    caplog.set_level(logging.WARNING, logger="docmodel.models.sbn.training")
    model = SBNTopicModel(n_units=3, max_epochs=2, n_val_docs=10, batch_size=16, learning_rate=1e-2,
                          algorithm=algorithm).fit(X, vocabulary=vocab)
    messages = rollback_messages(caplog)
    assert len(messages) == 2 and model.train_result_["rollbacks"] == 2
    assert messages[0].startswith("non-finite loss or gradient at epoch 1 step 2;")
    rates = [float(re.search(r"\(now ([0-9.e-]+)\)", m).group(1)) for m in messages]
    assert rates == pytest.approx([5e-3, 2.5e-3])
    # Rolled back to the last good parameters: both faults fall in epoch 1, whose start is the
    # last good state, so the call after each fault sees the weights of call 1 again.
    assert len(record["after_fault"]) == 2
    for weights in record["after_fault"]:
        torch.testing.assert_close(weights, record["initial"], rtol=0, atol=0)
    assert model.stopped_ == "max_epochs" and model.history_[-1]["epoch"] == 2
    assert model.train_result_["steps"] == 2 * 7 - 2  # 110 documents in batches of 16, twice
    assert all(np.isfinite(h["val_perplexity_bound"]) for h in model.history_)
    assert_finite(model)


def test_training_that_never_recovers_stops_as_diverged_with_finite_parameters(monkeypatch, caplog):
    X, vocab = planted_corpus(n_docs=120, n_blocks=4, words_per_block=8, length=30)
    record = inject(monkeypatch, "NaN loss", at_calls=None)
    caplog.set_level(logging.WARNING, logger="docmodel.models.sbn.training")
    model = SBNTopicModel(n_units=3, max_epochs=5, n_val_docs=10, batch_size=16).fit(X, vocabulary=vocab)
    assert model.stopped_ == "diverged" and model.train_result_["rollbacks"] == 21
    assert len(rollback_messages(caplog)) == 21 and model.train_result_["steps"] == 0
    assert_finite(model)
    # The initial parameters, up to the exact flip that shows each unit by its rarer state.
    weight, initial = model.nets_.model.visible.weight, record["initial"]
    same = (weight == initial).all(dim=0)
    flipped = (weight == -initial).all(dim=0)
    assert bool((same | flipped).all()) and int(flipped.sum()) == model.units_flipped_


# --- no NaN on the real corpora -----------------------------------------------------------------
N_DOCS, SEEDS = 2000, range(5)


def feat_corpus(folder: str, name: str) -> Corpus:
    path = shared_path(folder, name)
    return read_feat(path, Vocabulary.from_file(path.with_name("vocab.new"))).corpus


def raw_corpus(*parts: str, **options) -> Corpus:
    loaded = load_documents(shared_path(*parts))
    pick = np.random.default_rng(0).choice(len(loaded), N_DOCS, replace=False)
    docs = [loaded.documents[i] for i in sorted(pick)]
    return prepare(docs, options=PrepareOptions(test_fraction=0, **options)).train


CORPORA = {
    "20news_nvdm": lambda: feat_corpus("20news_nvdm", "train_rebuilt.feat"),
    "20news_prodlda": lambda: feat_corpus("20news_prodlda", "train.feat"),
    "20news_bydate": lambda: raw_corpus("20news_bydate", "20news-bydate.tar.gz", strip_headers="auto"),
    "reuters21578": lambda: raw_corpus("reuters21578"),
}


@pytest.mark.slow
@pytest.mark.shared_data
@pytest.mark.parametrize("name", list(CORPORA))
def test_training_on_every_shared_corpus_with_five_seeds_gives_no_nan(name, caplog):
    torch.set_num_threads(1)
    corpus = CORPORA[name]()
    corpus = corpus.subset(np.random.default_rng(0).permutation(corpus.n_docs)[:N_DOCS])
    caplog.set_level(logging.WARNING, logger="docmodel.models.sbn.training")
    for seed in SEEDS:
        model = SBNTopicModel(n_units=50, max_epochs=2, n_val_docs=200, random_state=seed)
        model.fit(corpus.X[200:], X_val=corpus.X[:200], vocabulary=corpus.vocabulary)
        assert model.train_result_["rollbacks"] == 0, (seed, rollback_messages(caplog))
        assert all(np.isfinite(h["train_elbo"]) and np.isfinite(h["val_perplexity_bound"])
                   for h in model.history_), (seed, model.history_)
        assert_finite(model)
        bound = model.log_likelihood_bound(corpus.X[:200])
        assert np.all(np.isfinite(bound)) and np.all(bound < 0), seed
