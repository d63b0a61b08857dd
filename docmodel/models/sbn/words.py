"""The words of an SBN's units: p(w | unit), the probability a unit adds to the words of the
documents that switch it on (what :mod:`docmodel.topwords` ranks), and p(w), the training word
frequencies, as computed by ``fit`` and read back from checkpoints."""

from __future__ import annotations

import numpy as np
import torch

from docmodel.errors import ModelError
from docmodel.models.sbn import KIND
from docmodel.models.sbn.networks import SBN


def saved_word_distributions(state: dict, model: SBN) -> np.ndarray:
    """p(w | unit) from a checkpoint; older checkpoints without it get what each unit adds to
    the background (the fallback of :func:`added_word_distributions` without documents)."""
    saved = state.get("word_distributions")
    n_words, n_units = model.visible.weight.shape
    if saved is None:
        U = model.visible.weight.detach().double()
        b = model.visible.bias.detach().double()
        return torch.stack([added_to_background(U[:, k], b) for k in range(n_units)]).numpy()
    if not isinstance(saved, torch.Tensor) or tuple(saved.shape) != (n_units, n_words) or not bool(torch.isfinite(saved).all()):
        raise ModelError("checkpoint is malformed: word_distributions must be finite, one row per unit")
    out = saved.double().clamp(min=0)
    return (out / out.sum(1, keepdim=True).clamp(min=1e-300)).numpy()


# Documents per unit that the added word distributions average over (a seeded sample of those
# where the unit is on): enough for a stable average, bounded work on a large corpus.
ADDED_WORDS_MAX_DOCS = 1000

# Elements (documents x words) of the float64 blocks that added_word_distributions works on at
# a time: tens of MB, whatever the vocabulary.
ADDED_WORDS_BLOCK = 2**21


@torch.no_grad()
def added_word_distributions(
    model, X, *, random_state=0, max_docs: int = ADDED_WORDS_MAX_DOCS, block: int = ADDED_WORDS_BLOCK,
) -> np.ndarray:
    """What each unit adds to the word distribution of the documents that switch it on.

    For a document d with units h_d (q(h_k=1|x) > 0.5 for unit k), the words are drawn from
    P_d = softmax(b + U h_d); turning unit k off gives softmax(b + U h_d - U[:, k]). Unit k's
    distribution is the positive part of the difference, averaged over (up to ``max_docs``) of
    the documents where k is on, and normalised: the probability the unit adds to each word,
    which is what a reader of the unit should see. A unit on in no document falls back to what
    it adds to the background (:func:`added_to_background`).

    Parameters
    ----------
    model : fitted SBNTopicModel
    X : sparse or array, shape (n_docs, n_words)
        Documents (the training documents in ``fit``).
    random_state : int
        Seeds which documents are used when a unit is on in more than ``max_docs``.
    max_docs : int
        Documents per unit averaged over at most.
    block : int
        Elements of the (documents x words) blocks worked on at a time, which bounds the memory.

    Returns
    -------
    ndarray, shape (n_units, n_words)
        Rows summing to one.
    """
    H = model.transform(X) > KIND.active_threshold  # n_docs, K
    visible = model.nets_.model.visible
    U = visible.weight.detach().double().cpu()  # V,K
    b = visible.bias.detach().double().cpu()  # V
    n_words, n_units = U.shape
    chosen = _chosen_documents(H, max_docs, random_state)  # n_docs, K
    # With e_k = exp(-U[:, k]), softmax(l - U[:, k]) = P e_k / (P @ e_k): one softmax per document
    # serves all its units. e_k is scaled so its largest entry is 1 (the scale cancels): no overflow.
    E = torch.exp(U.min(0).values - U)  # V,K
    Et = E.T.contiguous()  # K,V
    added = torch.zeros(n_units, n_words, dtype=torch.float64)
    docs = np.flatnonzero(chosen.any(1))
    rows = max(1, block // n_words)
    for start in range(0, len(docs), rows):
        d = docs[start:start + rows]
        P = torch.softmax(torch.from_numpy(H[d].astype(np.float64)) @ U.T + b, 1)  # B,V
        Z = (P @ E).clamp_(min=torch.finfo(torch.float64).tiny)  # B,K (0 only by underflow)
        on = torch.from_numpy(chosen[d])  # B,K
        # What unit k adds to document d is P_d (Z_dk - e_k) / Z_dk where positive: at the words
        # with e_kw < Z_dk. Z_dk, an average of e_k, varies far less between documents than e_k
        # between words: at the words below the least Z_dk of the unit's documents the sum over
        # its documents is S1 - e_k S2, two matrix products for all units together...
        S1 = on.double().T @ P  # K,V
        S2 = (on / torch.where(on, Z, 1.0)).T @ P  # K,V
        lo = torch.where(on, Z, torch.inf).amin(0)[:, None]  # K,1
        hi = torch.where(on, Z, 0.0).amax(0)[:, None]
        added += torch.where(Et < lo, S1 - Et * S2, 0.0)
        # ...and only the words up to the greatest Z_dk need each document on its own.
        band = (Et >= lo) & (Et < hi)  # K,V
        for k in torch.nonzero(band.any(1)).ravel().tolist():
            i, w = torch.nonzero(on[:, k]).ravel(), torch.nonzero(band[k]).ravel()
            z = Z[i, k]  # n
            p_iw = P.take(i[:, None] * n_words + w)  # n,w: P[i][:, w] (a flat gather is the quickest)
            part = torch.sub(z[:, None], Et[k, w]).clamp_(min=0).mul_(p_iw)
            added[k, w] += z.reciprocal() @ part
    out = torch.empty_like(added)
    # A unit with the same weight for every word adds nothing (its difference would be rounding
    # noise); it shows what it keeps, like a unit that only removes words.
    constant = (U.max(0).values == U.min(0).values).numpy()
    for k in range(n_units):
        total = added[k].sum()
        if not chosen[:, k].any():
            out[k] = added_to_background(U[:, k], b)
        elif total > 0 and not constant[k]:
            out[k] = added[k] / total
        else:
            out[k] = torch.softmax(b + U[:, k], 0)
    return out.numpy()


def _chosen_documents(H: np.ndarray, max_docs: int, random_state) -> np.ndarray:
    """The documents each unit's distribution averages over, shape (n_docs, K): those where it is
    on, a seeded sample of ``max_docs`` of them where there are more."""
    rng = np.random.default_rng(random_state)
    chosen = H.copy()
    for k in range(H.shape[1]):
        docs = np.flatnonzero(H[:, k])
        if len(docs) > max_docs:
            chosen[:, k] = False
            chosen[rng.choice(docs, max_docs, replace=False), k] = True
    return chosen


def added_to_background(u: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """What a unit with weights ``u`` (V,) adds to the background softmax(b), normalised; a unit
    that only removes words shows what it keeps, softmax(b + u)."""
    with_unit = torch.softmax(b + u, 0)
    added = (with_unit - torch.softmax(b, 0)).clamp(min=0)
    return added / added.sum() if added.sum() > 0 else with_unit


def saved_word_frequencies(state: dict, model: SBN) -> np.ndarray:
    """p(w) from a checkpoint; older checkpoints without it use softmax(b), the model's word
    distribution with every unit off."""
    freq = state.get("word_frequencies")
    if freq is None:
        return torch.softmax(model.visible.bias.detach().double(), 0).numpy()
    if not isinstance(freq, torch.Tensor) or tuple(freq.shape) != (model.config.n_words,) or not bool((freq > 0).all()):
        raise ModelError("checkpoint is malformed: word_frequencies must be positive, one per word")
    return freq.double().numpy()
