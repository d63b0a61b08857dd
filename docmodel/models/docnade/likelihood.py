"""The exact log-probability of word sequences under DocNADE, computed in bounded memory.

:func:`sequence_log_probs` takes documents laid end to end (:class:`TokenSequences`) and walks
the token stream in runs of at most ``chunk_tokens`` positions, cut anywhere, even inside a
document. Each run is one gather of W rows, one cumulative sum along the run and one batched
output layer (:meth:`DocNADE.hidden`, :meth:`DocNADE.word_log_probs`); a document cut by a run's
start brings the summed W rows of its earlier tokens along (inside the run's graph, so its
gradient reaches them). Memory is that of one run, whatever the documents' lengths. Training
calls it with ``loss_scale``: each run's loss is backpropagated as soon as it is computed, and
the gradients of the runs add up to the minibatch's.
"""

from __future__ import annotations

import numpy as np
import torch

from docmodel.models.docnade.network import DocNADE
from docmodel.models.docnade.sequences import TokenSequences

CHUNK_ELEMENTS = {"cpu": 2**21, "cuda": 2**26}
"""Output-layer elements (positions x words, or positions x tree depth x units) per run: 8 MB of
float32 logits on a CPU keeps a run in cache-friendly sizes; a GPU wants large launches."""


def chunk_tokens(model: DocNADE, device: torch.device) -> int:
    """Positions per run for ``model`` on ``device``."""
    cfg = model.config
    per_token = cfg.n_words if cfg.softmax == "full" else max(1, model.tree_nodes.shape[1]) * cfg.n_units
    elements = CHUNK_ELEMENTS.get(torch.device(device).type, CHUNK_ELEMENTS["cpu"])
    return max(1, elements // max(per_token, cfg.n_units))


def sequence_log_probs(
    model: DocNADE,
    seqs: TokenSequences,
    *,
    chunk: int | None = None,
    loss_scale: float | None = None,
) -> np.ndarray:
    """log p(v) of every document (or, with ``seqs.scored``, the sum of the scored positions'
    log p(v_i | v_<i)).

    Parameters
    ----------
    model : DocNADE
    seqs : TokenSequences
    chunk : int, optional
        Positions per run (default :func:`chunk_tokens`).
    loss_scale : float, optional
        Training: backpropagate ``-loss_scale * sum(log p)`` of every run (gradients accumulate
        in the parameters' ``.grad``). None: no gradients.

    Returns
    -------
    ndarray of float64, shape (n_docs,)
        Natural log; 0 for a document without tokens.
    """
    device = model.W.device
    chunk = chunk or chunk_tokens(model, device)
    out = torch.zeros(seqs.n_docs, dtype=torch.float64, device=device)
    if seqs.n_tokens == 0:
        return out.cpu().numpy()
    doc = seqs.doc
    tokens = torch.from_numpy(seqs.tokens).to(device)
    doc_t = torch.from_numpy(doc).to(device)
    scored = None if seqs.scored is None else torch.from_numpy(seqs.scored).to(device)
    with torch.set_grad_enabled(loss_scale is not None):
        for s in range(0, seqs.n_tokens, chunk):
            e = min(s + chunk, seqs.n_tokens)
            first = torch.from_numpy(np.maximum(seqs.starts[doc[s:e]], s) - s).to(device)
            start = int(seqs.starts[doc[s]])
            prefix, n_prefixed = None, 0
            if start < s:  # the run starts inside a document
                prefix = model.W[tokens[start:s]].double().sum(0)
                n_prefixed = min(e, int(seqs.starts[doc[s] + 1])) - s
            h = model.hidden(tokens[s:e], first, prefix, n_prefixed)  # n,H
            log_p = model.word_log_probs(h, tokens[s:e])  # n
            if scored is not None:
                log_p = log_p * scored[s:e]
            if loss_scale is not None:
                (log_p.sum() * -loss_scale).backward()
            out.index_add_(0, doc_t[s:e], log_p.detach().double())
    return out.cpu().numpy()
