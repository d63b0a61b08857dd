"""Per-document noise (docmodel.noise): a document's key depends on its counts and the seed only,
its noise on the key and the draw only, and the noise is uniform (or standard normal) noise."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from scipy import stats

from docmodel.noise import DocumentNoise, batch_noise, document_keys, per_batch

DOCS = np.array([[3, 0, 1, 2, 0], [0, 1, 4, 0, 0], [1, 1, 1, 1, 1], [0, 0, 0, 0, 0]], dtype=float)


def test_a_documents_key_depends_on_its_counts_and_the_seed_only():
    keys = document_keys(sp.csr_matrix(DOCS), 0)
    assert keys.dtype == np.uint64 and keys.shape == (4,) and len(set(keys.tolist())) == 4
    # The same rows in another company, order and storage: explicit zeros, unsorted duplicate
    # entries, integer counts.
    row0 = sp.csr_matrix((np.array([2, 0, 1, 2, 1]), np.array([3, 1, 2, 0, 0]), np.array([0, 5])), shape=(1, 5))
    assert not row0.has_canonical_format and row0.toarray().tolist() == [DOCS[0].tolist()]
    other = sp.vstack([sp.csr_matrix(DOCS[[2, 1]]), row0, sp.csr_matrix(np.array([[0, 0, 0, 0, 7]]))]).tocsr()
    np.testing.assert_array_equal(document_keys(other, 0)[:3], keys[[2, 1, 0]])
    assert document_keys(other, 0)[3] not in keys
    assert not np.any(document_keys(sp.csr_matrix(DOCS), 1) == keys)
    assert document_keys(sp.csr_matrix((0, 5)), 0).shape == (0,)


def test_a_key_is_the_documents_blake2b_under_the_seed():
    """BLAKE2b has no per-process salt, so every process gives a document the same key. Planted
    bug it catches: a key from Python's ``hash`` (salted per process for strings and bytes)."""
    ids, counts = np.array([0, 2, 3], dtype="<i8"), np.array([3.0, 1.0, 2.0], dtype="<f8")
    digest = hashlib.blake2b(ids.tobytes() + counts.tobytes(), digest_size=8, key=b"7").digest()
    assert document_keys(sp.csr_matrix(DOCS), 7)[0] == int.from_bytes(digest, "little")


@pytest.mark.parametrize(("dtype", "bits"), [(torch.float32, 23), (torch.float64, 52)])
def test_uniforms_lie_strictly_inside_the_unit_interval_on_the_dtypes_grid(dtype, bits):
    u = DocumentNoise(np.arange(40, dtype=np.uint64))((500, 40, 7), dtype, "cpu")
    assert u.dtype == dtype and u.shape == (500, 40, 7)
    assert 0.0 < float(u.min()) and float(u.max()) < 1.0
    m = u.double().numpy() * 2.0**bits - 0.5  # (m + 1/2) / 2^bits with m an integer
    np.testing.assert_array_equal(m, np.round(m))
    assert stats.kstest(u.double().numpy().ravel(), "uniform").pvalue > 1e-3
    # Neighbouring documents, samples and units are not correlated.
    flat = u.double().numpy()
    for a, b in ((flat[:, :-1], flat[:, 1:]), (flat[:-1], flat[1:]), (flat[..., :-1], flat[..., 1:])):
        assert abs(np.corrcoef(a.ravel(), b.ravel())[0, 1]) < 0.02


def test_a_documents_noise_is_its_own_whatever_the_batch_and_the_number_of_samples():
    keys = document_keys(sp.csr_matrix(DOCS), 3)
    together = DocumentNoise(keys)
    first, second = together((6, 4, 5), torch.float32, "cpu"), together((6, 4, 5), torch.float32, "cpu")
    assert not torch.equal(first, second)  # every call is a new draw
    for b in range(4):
        alone = DocumentNoise(keys[b : b + 1])
        torch.testing.assert_close(alone((6, 1, 5), torch.float32, "cpu")[:, 0], first[:, b], rtol=0, atol=0)
        torch.testing.assert_close(alone((6, 1, 5), torch.float32, "cpu")[:, 0], second[:, b], rtol=0, atol=0)
    # A document's first samples do not depend on how many are drawn.
    fewer = DocumentNoise(keys[::-1].copy())((2, 4, 5), torch.float32, "cpu")
    torch.testing.assert_close(fewer, first[:2].flip(1), rtol=0, atol=0)
    # Batches of any size give every document the same noise.
    batched = torch.cat([n((6, len(n.keys), 5), torch.float32, "cpu") for n in batch_noise(sp.csr_matrix(DOCS), 3, 3)], 1)
    torch.testing.assert_close(batched, first, rtol=0, atol=0)


def test_normal_noise_is_standard_normal_and_follows_the_uniforms():
    noise = DocumentNoise(np.arange(50, dtype=np.uint64))
    z = noise.normal((2000, 50, 2), torch.float64, "cpu").numpy()
    assert np.all(np.isfinite(z)) and abs(z.mean()) < 0.01 and abs(z.std() - 1) < 0.01
    assert stats.kstest(z.ravel(), "norm").pvalue > 1e-3
    u = DocumentNoise(np.arange(50, dtype=np.uint64))((2000, 50, 2), torch.float64, "cpu")
    np.testing.assert_allclose(z, stats.norm.ppf(u.numpy()), rtol=1e-12, atol=1e-12)
    z32 = DocumentNoise(np.arange(50, dtype=np.uint64)).normal((2000, 50, 2), torch.float32, "cpu")
    assert z32.dtype == torch.float32 and torch.equal(z32, torch.from_numpy(z).float())


def test_noise_of_the_wrong_batch_is_refused():
    noise = DocumentNoise(np.zeros(3, dtype=np.uint64))
    with pytest.raises(ValueError, match=r"noise of shape \(2, 4, 5\) asked for a batch of 3 documents"):
        noise((2, 4, 5), torch.float32, "cpu")
    with pytest.raises(ValueError, match="batch of 3 documents"):
        noise((3,), torch.float32, "cpu")


def test_a_generator_is_one_stream_for_every_batch():
    gen = torch.Generator()
    streams = per_batch(gen)
    assert next(streams) is gen and next(streams) is gen
    assert next(per_batch(None)) is None
    noises = list(batch_noise(sp.csr_matrix(DOCS), 0, 3))
    assert [len(n.keys) for n in noises] == [3, 1] and next(per_batch(noises)) is noises[0]
