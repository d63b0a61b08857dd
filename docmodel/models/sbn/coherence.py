"""A coherence prior on the units' words (``coherence_weight``): each unit's largest weights
should go to words that the training documents use together; and a penalty on units that share
those words (``overlap_weight``), so that units say different things.

For unit k with its ``n_top`` largest weights (30, or the whole of a smaller vocabulary) at words
W_k (by U[:, k]), a = softmax(U[W_k, k]) and C the NPMI between those words (document
co-occurrence in the training documents, the statistic of :func:`docmodel.quality.npmi_coherence`,
zero on the diagonal), the unit's coherence is a^T C a. The training loss carries ``coherence_weight`` times minus the sum over units, per
document: a prior on U, like the L1 penalty, so the NVIL estimator is untouched and the term's
gradient is exact. (Coherence-aware topic models add such a term to the decoder's objective;
Ding, Nallapati & Xiang, "Coherence-Aware Neural Topic Modeling", EMNLP 2018.)

The overlap of unit k is the mean, over the other units j, of a_k . a_j (with each a spread over
the whole vocabulary, zero outside W): the chance that a word drawn from one unit's top-word
weights and a word drawn from the other's are the same. The loss carries ``overlap_weight`` times
the sum over units, per document. Two units with the same 30 words, evenly weighted, overlap by
1/30, and a unit's overlap averages over its 49 others (50 units), so weights of several hundred
to a thousand balance the coherence term.

The words W_k are chosen again at the start of every epoch (the term's gradient flows to the
weights of the chosen words); between choices they stay fixed, so the co-occurrence counts are
computed once an epoch for at most units x ``n_top`` words, whatever the vocabulary.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from docmodel.quality import co_occurrence, npmi_from_counts

# Words per unit whose co-occurrence the prior scores.
COHERENCE_TOP_WORDS = 30


class CoherencePrior:
    """The coherence and overlap terms of the training loss for one training corpus.

    Parameters
    ----------
    X : csr_matrix, shape (n_docs, n_words)
        The training documents (only whether a word occurs in a document matters).
    device : torch.device
    n_top : int
        Words per unit scored (fewer if the vocabulary is smaller).
    """

    def __init__(self, X, device, n_top: int = COHERENCE_TOP_WORDS):
        self.occurs = (sp.csc_matrix(X) > 0).astype(np.float64)
        self.n_docs = X.shape[0]
        self.n_top = min(n_top, X.shape[1])
        self.device = device
        self.words: torch.Tensor | None = None  # (n_top, K) word ids
        self.npmi: torch.Tensor | None = None  # (K, n_top, n_top)
        self.positions: torch.Tensor | None = None
        self.n_chosen = 0

    def choose_words(self, U: torch.Tensor) -> None:
        """Each unit's ``n_top`` largest weights in U (n_words, K), and their words' NPMI."""
        words = torch.topk(U.detach(), self.n_top, dim=0).indices  # n_top, K
        ids = words.T.cpu().numpy()  # K, n_top
        used, where = np.unique(ids, return_inverse=True)
        together = co_occurrence(self.occurs, used)
        where = where.reshape(ids.shape)
        alone = np.diag(together)[where]  # K, n_top: D(i)
        blocks = npmi_from_counts(together[where[:, :, None], where[:, None, :]], alone[:, :, None], alone[:, None, :],
                                  self.n_docs)  # K, n_top, n_top
        blocks[:, np.arange(self.n_top), np.arange(self.n_top)] = 0.0
        self.words = words.to(self.device)
        self.positions = torch.from_numpy(where).to(self.device)  # K, n_top: each word's place among those chosen
        self.n_chosen = len(used)
        self.npmi = torch.from_numpy(blocks).to(self.device, U.dtype)

    def loss(self, U: torch.Tensor, coherence_weight: float, overlap_weight: float) -> torch.Tensor:
        """``coherence_weight`` x :meth:`penalty` + ``overlap_weight`` x :meth:`overlap`, with the
        top-word weights computed once (the training loop's call, every step)."""
        a = self._top_weights(U)
        out = U.new_zeros(())
        if coherence_weight:
            out = out - coherence_weight * torch.einsum("mk,kmn,nk->", a, self.npmi, a)
        if overlap_weight:
            out = out + overlap_weight * self._overlap(a)
        return out

    def penalty(self, U: torch.Tensor) -> torch.Tensor:
        """Minus the units' summed coherence (a scalar, differentiable in U)."""
        a = self._top_weights(U)
        return -torch.einsum("mk,kmn,nk->", a, self.npmi, a)

    def overlap(self, U: torch.Tensor) -> torch.Tensor:
        """The units' summed overlap (a scalar, differentiable in U): for each unit, the mean over
        the other units of the chance that a word drawn from its top-word weights a and one drawn
        from the other's are the same word."""
        return self._overlap(self._top_weights(U))

    def _top_weights(self, U: torch.Tensor) -> torch.Tensor:
        """a: the softmax of each unit's weights at its chosen words, shape (n_top, K)."""
        if self.words is None:
            self.choose_words(U)
        return torch.softmax(torch.gather(U, 0, self.words), 0)

    def _overlap(self, a: torch.Tensor) -> torch.Tensor:
        n_units = a.shape[1]
        if n_units < 2:
            return a.sum() * 0.0
        A = torch.zeros(n_units, self.n_chosen, dtype=a.dtype, device=a.device).scatter(1, self.positions, a.T)
        G = A @ A.T
        return (G.sum() - G.diagonal().sum()) / (n_units - 1)

    def coherence(self, U: torch.Tensor) -> np.ndarray:
        """Each unit's coherence a^T C a for the words chosen last, shape (K,)."""
        with torch.no_grad():
            a = self._top_weights(U)
            return torch.einsum("mk,kmn,nk->k", a, self.npmi, a).cpu().numpy()
