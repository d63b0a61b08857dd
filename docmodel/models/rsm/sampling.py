"""Drawing a document's tokens given the hidden units: the negative phase of contrastive
divergence (:mod:`docmodel.models.rsm.training`).

Given h, the D tokens of an RSM document are independent draws from one softmax over the
vocabulary, so the counts are Multinomial(D, softmax(b + W h)). Documents of a minibatch have
different lengths: every token of every row is drawn at once by inverting the rows' cumulative
distributions laid end to end (row r's in (r, r + 1]), one ``searchsorted`` over them.
"""

from __future__ import annotations

import torch

# Rows whose cumulative distributions are searched at once: float64 keeps (r + u) exact enough
# to tell the words of row r apart (|r| < 2^12, V * 2^12 doubles = 64 MiB for V = 2,000).
_ROWS_PER_CHUNK = 4096


def draw_counts(logits: torch.Tensor, lengths: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Word counts of ``lengths[r]`` tokens drawn from ``softmax(logits[r])`` for every row.

    Parameters
    ----------
    logits : Tensor, shape (B, V)
    lengths : Tensor of int64, shape (B,)
        Tokens to draw per row (0 gives a row of zeros).
    generator : torch.Generator or None

    Returns
    -------
    Tensor, shape (B, V)
        Counts in ``logits``' dtype; row r sums to ``lengths[r]``.
    """
    B, V = logits.shape
    counts = torch.zeros(B * V, dtype=logits.dtype, device=logits.device)
    lengths = lengths.to(device=logits.device, dtype=torch.int64)
    for lo in range(0, B, _ROWS_PER_CHUNK):
        hi = min(lo + _ROWS_PER_CHUNK, B)
        n = lengths[lo:hi]
        if int(n.sum()) == 0:
            continue
        rows = torch.arange(hi - lo, device=logits.device)
        cdf = torch.softmax(logits[lo:hi].double(), dim=-1).cumsum_(-1)
        cdf[:, -1] = 1.0  # rounding must not leave a gap above the last word
        cdf.add_(rows.double()[:, None])
        row = torch.repeat_interleave(rows, n)  # T
        u = torch.rand(row.shape[0], generator=generator, dtype=torch.float64, device=logits.device)
        flat = torch.searchsorted(cdf.view(-1), u.add_(row), right=True)  # T, index into (b, V)
        flat.clamp_(max=(hi - lo) * V - 1)
        counts.index_add_(0, flat + lo * V, torch.ones_like(flat, dtype=logits.dtype))
    return counts.view(B, V)
