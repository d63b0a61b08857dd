"""Per-document noise for the sampled estimates of log p(x) (the SBN's and the NVDM's bound,
importance-sampled estimate and document completion): every number a document's estimate draws
is a function of the document, the seed and the draw alone, so that a document scores the same
alone or among others, in any order and in evaluation batches of any size.

A document's key is a keyed BLAKE2b hash (RFC 7693) of its canonical content (sorted word ids
and their counts) under the seed, the same in every process. Its noise is SplitMix64 (Steele, Lea
& Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014): a counter hashed by the
generator's output function, run from a stream seed that mixes the key with the draw's number.
Identical documents share their noise, which changes no expectation.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Iterable, Iterator

import numpy as np
import scipy.sparse as sp
import torch

# SplitMix64's increment (the golden ratio's 64-bit fraction) and its output function's multipliers.
_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)

# Elements mixed at a time: the array and its scratch stay in cache through the mixer's passes
# (about three times faster than whole-array passes).
_CHUNK = 1 << 16


def _mix(z: np.ndarray, scratch: np.ndarray) -> None:
    """SplitMix64's output function, in place on a uint64 array, ``scratch`` an array of its
    shape (NumPy's uint64 arithmetic wraps modulo 2^64, as the generator requires)."""
    np.right_shift(z, np.uint64(30), out=scratch)
    z ^= scratch
    z *= _MIX1
    np.right_shift(z, np.uint64(27), out=scratch)
    z ^= scratch
    z *= _MIX2
    np.right_shift(z, np.uint64(31), out=scratch)
    z ^= scratch


def document_keys(X: sp.csr_matrix, random_state: int) -> np.ndarray:
    """One 64-bit key per document: the 8-byte BLAKE2b digest of its word ids (little-endian int64)
    followed by their counts (little-endian float64), with the seed's decimal digits as the key.

    Parameters
    ----------
    X : csr_matrix, shape (n_docs, n_words)
        Word counts; duplicate entries are summed and stored zeros ignored, so a document's key
        depends on its counts only, not on how the matrix stores them.
    random_state : int

    Returns
    -------
    ndarray of uint64, shape (n_docs,)
    """
    X = sp.csr_matrix(X, copy=True)
    X.sum_duplicates()
    X.eliminate_zeros()
    ids, counts = X.indices.astype("<i8"), X.data.astype("<f8")
    seed = str(int(random_state)).encode()
    digests = b"".join(
        hashlib.blake2b(ids[lo:hi].tobytes() + counts[lo:hi].tobytes(), digest_size=8, key=seed).digest()
        for lo, hi in zip(X.indptr[:-1], X.indptr[1:])
    )
    return np.frombuffer(digests, dtype="<u8").astype(np.uint64)


class DocumentNoise:
    """The noise of one batch of documents, as a noise callable ``(shape, dtype, device) ->
    uniforms`` (:func:`docmodel.models.sbn.networks.sample_bernoulli` takes one in place of a
    generator) and :meth:`normal`.

    Every call is one draw, numbered in call order. Shapes are (..., B, K), the documents on the
    second last axis: element [s, b, k] of draw d is SplitMix64's output at counter s * K + k + 1
    of the stream seeded by (key_b, d), s counting over the leading axes. A document's first
    samples are thus the same whatever number of samples is asked for.

    Parameters
    ----------
    keys : ndarray of uint64, shape (B,)
        The batch's documents' keys (:func:`document_keys`).
    """

    def __init__(self, keys: np.ndarray):
        self.keys = np.asarray(keys, dtype=np.uint64)
        self.draws = 0

    def __call__(self, shape, dtype: torch.dtype, device) -> torch.Tensor:
        """U(0, 1) noise, strictly inside (0, 1): (m + 1/2) / 2^p from the top p bits m of the
        draw's 64, p the dtype's stored mantissa bits (23 for float32, 52 for float64), so that
        every value is exact."""
        shape = tuple(int(n) for n in shape)
        if len(shape) < 2 or shape[-2] != len(self.keys):
            raise ValueError(f"noise of shape {shape} asked for a batch of {len(self.keys)} documents")
        self.draws += 1
        stream = _streams(self.keys, self.draws)  # B
        n_lead, K = math.prod(shape[:-2]), shape[-1]
        counter = (np.arange(1, n_lead * K + 1, dtype=np.uint64) * _GAMMA).reshape(n_lead, 1, K)
        z = (counter + stream[:, None]).reshape(-1)  # the generator's states, S,B,K flattened
        p = round(-math.log2(torch.finfo(dtype).eps))  # stored mantissa bits
        u = np.empty(z.shape, dtype=np.float32 if dtype == torch.float32 else np.float64)
        scratch = np.empty(min(len(z), _CHUNK), dtype=np.uint64)
        for lo in range(0, len(z), _CHUNK):
            chunk, out = z[lo : lo + _CHUNK], u[lo : lo + _CHUNK]
            _mix(chunk, scratch[: len(chunk)])
            chunk >>= np.uint64(64 - p)
            out[:] = chunk  # below 2^p: exact in the float type
            out += 0.5
            out *= 2.0**-p
        return torch.from_numpy(u.reshape(shape)).to(device=device, dtype=dtype)

    def normal(self, shape, dtype: torch.dtype, device) -> torch.Tensor:
        """N(0, 1) noise: the inverse normal CDF sqrt(2) erfinv(2u - 1) of float64 uniforms u
        (2u - 1 is exact; tails to about 8.2 sd), taken on ``device``, then cast to ``dtype``."""
        u = self(shape, torch.float64, device)
        return u.mul_(2.0).sub_(1.0).erfinv_().mul_(math.sqrt(2.0)).to(dtype)


def _streams(keys: np.ndarray, tag: int) -> np.ndarray:
    """The stream seed of each key for use ``tag`` (a draw's number, or another use's tag): the
    key xor the mixed tag, mixed."""
    mark = np.array([tag], dtype=np.uint64) * _GAMMA
    _mix(mark, np.empty_like(mark))
    stream = keys ^ mark
    _mix(stream, np.empty_like(stream))
    return stream


def hashed(keys: np.ndarray, counters: np.ndarray, tag: int) -> np.ndarray:
    """64 random bits for each (key, counter) pair: SplitMix64's output at ``counter + 1`` of the
    stream seeded by the key mixed with ``tag`` (a use other than :class:`DocumentNoise`'s draws,
    which number from 1: pass a tag no draw reaches, such as 2**63 + k).

    Parameters
    ----------
    keys : ndarray of uint64, shape (n,)
    counters : ndarray of int, shape (n,)
        Non-negative.
    tag : int

    Returns
    -------
    ndarray of uint64, shape (n,)
    """
    z = _streams(np.asarray(keys, dtype=np.uint64), tag) + (np.asarray(counters, dtype=np.uint64) + np.uint64(1)) * _GAMMA
    _mix(z, np.empty_like(z))
    return z


def batch_noise(X: sp.csr_matrix, random_state: int, batch_size: int) -> Iterator[DocumentNoise]:
    """The noise of each batch of ``batch_size`` consecutive documents of ``X``, in order."""
    keys = document_keys(X, random_state)
    for lo in range(0, len(keys), batch_size):
        yield DocumentNoise(keys[lo : lo + batch_size])


def per_batch(noise: torch.Generator | Iterable | None) -> Iterator:
    """The noise each batch draws from: a ``torch.Generator`` (or None) is one stream that every
    batch continues (training's validation, which reuses the same documents and seed); an iterable
    gives each batch its own noise (:func:`batch_noise`)."""
    if noise is None or isinstance(noise, torch.Generator):
        return itertools.repeat(noise)
    return iter(noise)
