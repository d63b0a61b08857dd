"""DocNADE's training run: Adam on the exact log-likelihood, one fresh random order of every
document every epoch, through the shared loop :func:`docmodel.models.epochs.fit_epochs`
(validation after every epoch, early stopping, the best epoch's parameters kept)."""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
import torch

from docmodel.models.docnade.likelihood import chunk_tokens, sequence_log_probs
from docmodel.models.docnade.network import DocNADE
from docmodel.models.docnade.sequences import bag_sequences, doc_lengths
from docmodel.models.epochs import EpochsResult, fit_epochs


def train(
    net: DocNADE,
    X: sp.csr_matrix,
    X_val: sp.csr_matrix,
    *,
    seed: int,
    batch_size: int,
    learning_rate: float,
    max_epochs: int,
    max_seconds: float | None,
    patience: int | None,
    callback=None,
) -> EpochsResult:
    """Train ``net`` in place on whole-token counts ``X`` (non-empty documents), validating on
    ``X_val``.

    Each minibatch of ``batch_size`` documents is read in orders drawn from the epoch's generator
    (``numpy.random.default_rng([seed, epoch])``, which also shuffles the documents); its loss is
    the mean negative log-probability per token. The validation figure is the per-document
    perplexity exp(-mean(log p(v) / length)) of ``X_val``, every document in one fixed order drawn
    from ``default_rng([seed, 0])``, so that epochs are compared on the same sequences.

    Returns
    -------
    EpochsResult
        The history and the reason for stopping; ``net`` holds the best epoch's parameters.
    """
    device = net.W.device
    optimizer = torch.optim.Adam(net.parameters(), lr=learning_rate)
    chunk = chunk_tokens(net, device)
    val_seqs = bag_sequences(X_val, None, np.random.default_rng([seed, 0]))
    val_lengths = doc_lengths(X_val)
    n_docs = X.shape[0]
    n_batches = -(-n_docs // batch_size)

    def train_epoch(epoch, clock):
        rng = np.random.default_rng([seed, epoch])
        order = rng.permutation(n_docs)
        total, n_tokens = 0.0, 0
        for i in range(n_batches):
            seqs = bag_sequences(X, order[i * batch_size : (i + 1) * batch_size], rng)  # fresh orders
            optimizer.zero_grad(set_to_none=True)
            total += float(sequence_log_probs(net, seqs, chunk=chunk, loss_scale=1.0 / seqs.n_tokens).sum())
            optimizer.step()
            n_tokens += seqs.n_tokens
            if clock.step((i + 1) / n_batches):
                break
        return {"train_perplexity_per_word": math.exp(-total / max(n_tokens, 1))}

    def validate():
        log_p = sequence_log_probs(net, val_seqs, chunk=chunk)
        return float(np.exp(-np.mean(log_p / val_lengths)))

    result = fit_epochs(
        train_epoch=train_epoch,
        validate=validate,
        get_state=lambda: {k: v.detach().clone() for k, v in net.state_dict().items()},
        set_state=net.load_state_dict,
        max_epochs=max_epochs,
        max_seconds=max_seconds,
        patience=patience,
        callback=callback,
    )
    net.eval()
    return result
