"""Contrastive divergence for the Replicated Softmax (Hinton 2002; Salakhutdinov & Hinton 2009).

The gradient of a document's log-likelihood is ``E_data[v h^T] - E_model[v h^T]`` for W (and the
like for b and D a). CD-k replaces the model expectation by k steps of block Gibbs sampling
started at the data: h ~ p(h | v), then D tokens ~ softmax(b + W h) (a multinomial draw,
:mod:`docmodel.models.rsm.sampling`), then h again. Both phases use p(h | v) rather than a
sample of h (a lower-variance estimate of the same expectation). The minibatch gradient is the
mean over its documents; the optimiser is Adam with decoupled weight decay on W (AdamW).
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp
import torch

from docmodel.models.epochs import Clock
from docmodel.models.rsm.network import RSM
from docmodel.models.rsm.sampling import draw_counts


def cd_gradients(net: RSM, x: torch.Tensor, cd_steps: int, generator: torch.Generator) -> float:
    """Set ``.grad`` of ``net``'s parameters to minus the CD-k estimate of the gradient of the
    mean log-likelihood of the documents ``x`` (B, V); returns the mean squared difference between
    the data's and the reconstruction's word frequencies (a training diagnostic, not a likelihood).
    """
    lengths = x.sum(-1)  # B
    with torch.no_grad():
        h_data = torch.sigmoid(net.hidden_logits(x))  # B,F
        h = h_data
        v = x
        for _ in range(cd_steps):
            h = (torch.rand(h.shape, generator=generator, dtype=h.dtype, device=h.device) < h).to(h.dtype)
            v = draw_counts(net.word_logits(h), lengths.long(), generator)  # B,V
            h = torch.sigmoid(net.hidden_logits(v))
        n = x.shape[0]
        net.weight.grad = -(x.t() @ h_data - v.t() @ h) / n
        net.word_bias.grad = -(x - v).sum(0) / n
        net.unit_bias.grad = -(lengths @ (h_data - h)) / n
        freq = (x - v) / lengths[:, None]
        return float((freq * freq).sum(-1).mean())


def train_epoch(net: RSM, optimizer: torch.optim.Optimizer, X: sp.csr_matrix, *, batch_size: int, cd_steps: int,
                generator: torch.Generator, clock: Clock, device: torch.device | str = "cpu") -> dict:
    """One pass over the training documents ``X`` in shuffled minibatches (stops early when the
    clock says so); returns ``docs_per_second`` and ``train_reconstruction_error``."""
    start = time.perf_counter()
    order = torch.randperm(X.shape[0], generator=generator, device=generator.device).cpu().numpy()
    errors, done = [], 0
    for lo in range(0, len(order), batch_size):
        rows = order[lo:lo + batch_size]
        x = torch.from_numpy(X[rows].toarray()).to(device)
        errors.append(cd_gradients(net, x, cd_steps, generator))
        optimizer.step()
        done += len(rows)
        if clock.step(done / len(order)):
            break
    return {"docs_per_second": done / max(time.perf_counter() - start, 1e-9),
            "train_reconstruction_error": float(np.mean(errors)) if errors else float("nan")}


def make_optimizer(net: RSM, learning_rate: float, weight_decay: float) -> torch.optim.Optimizer:
    """AdamW: decoupled weight decay on W only (the biases are not shrunk)."""
    return torch.optim.AdamW(
        [{"params": [net.weight], "weight_decay": weight_decay},
         {"params": [net.word_bias, net.unit_bias], "weight_decay": 0.0}],
        lr=learning_rate,
    )
