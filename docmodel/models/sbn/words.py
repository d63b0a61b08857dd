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


@torch.no_grad()
def added_word_distributions(model, X, *, random_state=0, max_docs: int = ADDED_WORDS_MAX_DOCS) -> np.ndarray:
    """What each unit adds to the word distribution of the documents that switch it on.

    For a document d with units h_d (q(h_k=1|x) > 0.5 for unit k), the words are drawn from
    softmax(b + U h_d); turning unit k off gives softmax(b + U h_d - U[:, k]). Unit k's
    distribution is the positive part of the difference, averaged over (up to ``max_docs``) of
    the documents where k is on, and normalised: the probability the unit adds to each word,
    which is what a reader of the unit should see. A unit on in no document falls back to what
    it adds to the background (:func:`_added_to_background`).

    Parameters
    ----------
    model : fitted SBNTopicModel
    X : sparse or array, shape (n_docs, n_words)
        Documents (the training documents in ``fit``).
    random_state : int
        Seeds which documents are used when a unit is on in more than ``max_docs``.

    Returns
    -------
    ndarray, shape (n_units, n_words)
        Rows summing to one.
    """
    H = model.transform(X) > KIND.active_threshold  # n_docs, K
    visible = model.nets_.model.visible
    U = visible.weight.detach().double().cpu()  # V,K
    b = visible.bias.detach().double().cpu()  # V
    rng = np.random.default_rng(random_state)
    K = U.shape[1]
    out = torch.zeros(K, U.shape[0], dtype=torch.float64)
    for k in range(K):
        docs = np.flatnonzero(H[:, k])
        if len(docs) > max_docs:
            docs = np.sort(rng.choice(docs, max_docs, replace=False))
        if not len(docs):
            out[k] = added_to_background(U[:, k], b)
            continue
        logits = torch.from_numpy(H[docs].astype(np.float64)) @ U.T + b  # n,V
        added = (torch.softmax(logits, 1) - torch.softmax(logits - U[:, k], 1)).clamp(min=0).mean(0)
        # A unit that only removes words shows what it keeps.
        out[k] = added / added.sum() if added.sum() > 0 else torch.softmax(b + U[:, k], 0)
    return out.numpy()


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
