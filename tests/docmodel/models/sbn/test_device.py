"""Device selection: ``auto`` picks CUDA only when present, ``cuda`` without a GPU is a clear
error, and (where a GPU exists) training and evaluation run there end to end."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from corpora import Corpus, Dataset
from docmodel.cli import main
from docmodel.errors import ModelError
from docmodel.models.batching import CSRRows
from docmodel.models.sbn.estimator import SBNTopicModel, resolve_device
from tests.docmodel.models.sbn.test_sbn_estimator import planted_corpus

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU in this session")


def _small(**kw):
    return SBNTopicModel(n_units=4, max_epochs=3, batch_size=32, n_val_docs=40, patience=10, **kw)


def test_auto_is_cpu_without_a_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")


def test_auto_is_cuda_with_a_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")


def test_auto_matches_this_machine():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected


@pytest.mark.parametrize("name", ["cuda", "cuda:0"])
def test_cuda_without_a_gpu_is_a_model_error(monkeypatch, name):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ModelError, match="no CUDA GPU is available; use --device cpu or auto"):
        resolve_device(name)
    X, _ = planted_corpus(n_docs=100)
    with pytest.raises(ModelError, match="no CUDA GPU"):
        _small(device=name).fit(X)


def test_unknown_device_is_named():
    with pytest.raises(ModelError, match="unknown device 'tpu'"):
        resolve_device("tpu")


def test_cli_cuda_without_a_gpu_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    X, vocab = planted_corpus(n_docs=120)
    Dataset(Corpus(X, vocab, [f"d{i}" for i in range(X.shape[0])])).save(tmp_path / "corpus")
    code = main(["train", str(tmp_path / "corpus"), "--units", "3", "--epochs", "1", "--val-docs", "20",
                 "--device", "cuda", "-o", str(tmp_path / "m")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "no CUDA GPU" in err[0]


def test_dense_batches_equal_scipy_rows():
    X, _ = planted_corpus(n_docs=50)
    X = X.astype(np.float32)
    rows = CSRRows(X)
    pick = np.array([7, 3, 3, 49, 0])
    np.testing.assert_array_equal(rows.rows(pick).numpy(), X[pick].toarray())
    np.testing.assert_array_equal(rows.span(10, 20).numpy(), X[10:20].toarray())
    assert rows.rows(np.array([], dtype=int)).shape == (0, X.shape[1])


def test_duplicate_entries_are_summed_like_scipy():
    import scipy.sparse as sp

    X = sp.csr_matrix((np.array([1.0, 2.0, 3.0]), np.array([1, 1, 0]), np.array([0, 3])), shape=(1, 3))
    assert not X.has_canonical_format
    np.testing.assert_array_equal(CSRRows(X).rows(np.array([0])).numpy(), [[3.0, 3.0, 0.0]])


@needs_cuda
def test_training_and_evaluation_on_cuda():
    from docmodel.evaluation import evaluate

    X, vocab = planted_corpus(n_docs=300)
    model = _small(device="cuda").fit(X, vocabulary=vocab)
    nets = model.nets_
    for module in (nets.model, nets.encoder, nets.baselines):
        assert all(t.device.type == "cuda" for t in module.state_dict().values())
    assert nets.stats.mean.device.type == "cuda"
    figures = evaluate(model, X[:60], n_samples=20)
    assert np.isfinite(figures["perplexity_bound"]) and np.isfinite(figures["perplexity_completion"])
    assert model.transform(X[:5]).shape == (5, 4)
    # The same seed on CPU gives a model of the same quality (the random streams differ).
    cpu = _small(device="cpu").fit(X, vocabulary=vocab)
    assert model.perplexity(X[:60]) == pytest.approx(cpu.perplexity(X[:60]), rel=0.2)


@needs_cuda
def test_cuda_checkpoint_loads_on_cpu(tmp_path):
    from docmodel.checkpoint import load_model

    X, vocab = planted_corpus(n_docs=200)
    model = _small(device="cuda").fit(X, vocabulary=vocab)
    model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    np.testing.assert_allclose(loaded.unit_word(), model.unit_word())
