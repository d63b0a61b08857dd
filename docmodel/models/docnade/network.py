"""The DocNADE network (``nn.Module`` only) and its configuration.

Larochelle & Lauly, "A Neural Autoregressive Topic Model", NIPS 2012. A document is a sequence of
word ids v_1..v_D and

    p(v) = prod_i p(v_i | v_<i),
    h_i = sigmoid(c + sum_{j<i} W[:, v_j]),            (H hidden units)
    p(v_i = w | v_<i) = softmax(b + V h_i)_w           (``softmax="full"``)

or, with ``softmax="tree"``, the product of binary decisions along the path from the root of a
binary tree over the vocabulary to the leaf of w, each decision
p(right at node n | h_i) = sigmoid(b_n + V_n . h_i), as the paper uses for speed. The tree here
is balanced over word ids (:func:`balanced_tree`): each node splits its range of ids into a first
half of ceil(n / 2) ids (left) and the rest (right), so every path has at most ceil(log2 n_words)
nodes. Word frequencies do not shape the tree; they only start the node biases.

Storage differs from the paper's symbols once: ``W`` here is the paper's W transposed, one row per
word (shape (n_words, n_units)), so that a document's columns are a row gather; ``out_weight`` is
the paper's V (shape (n_words, n_units)) for the full softmax and holds one row per internal
node (n_words - 1 of them) for the tree; ``out_bias`` is b (per word or per node).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from docmodel.errors import ModelError

SOFTMAXES = ("full", "tree")


@dataclass(frozen=True)
class DocNADEConfig:
    """Architecture of a DocNADE network.

    Parameters
    ----------
    n_words : int
        Vocabulary size.
    n_units : int
        Hidden units H.
    softmax : {"full", "tree"}
        The output layer: a softmax over the vocabulary, or the balanced binary tree of
        :func:`balanced_tree`.
    """

    n_words: int
    n_units: int = 50
    softmax: str = "full"

    def __post_init__(self) -> None:
        if self.n_words < 1 or self.n_units < 1:
            raise ModelError(f"n_words and n_units must be at least 1, got {self.n_words} and {self.n_units}")
        if self.softmax not in SOFTMAXES:
            raise ModelError(f"softmax must be one of {', '.join(SOFTMAXES)}; got {self.softmax!r}")

    @property
    def n_outputs(self) -> int:
        """Rows of the output layer: words (full softmax) or internal tree nodes."""
        return self.n_words if self.softmax == "full" else self.n_words - 1

    def to_dict(self) -> dict:
        return asdict(self)


def balanced_tree(n_words: int) -> tuple[np.ndarray, np.ndarray]:
    """Paths from the root to every word of a balanced binary tree over word ids.

    The root covers ids ``[0, n_words)``; a node covering ``[lo, hi)`` (two ids or more) sends
    ``[lo, lo + ceil((hi - lo) / 2))`` left and the rest right. Nodes are numbered in the order
    they are created (depth first, left before right), the root 0, n_words - 1 in all.

    Returns
    -------
    nodes : ndarray of int64, shape (n_words, depth)
        The nodes on each word's path, root first; 0 where the path has ended.
    signs : ndarray of float32, shape (n_words, depth)
        +1 where the path turns right, -1 where it turns left, 0 past its end. ``depth`` is
        ceil(log2 n_words) (0 for a one-word vocabulary).
    """
    depth = int(np.ceil(np.log2(n_words))) if n_words > 1 else 0
    nodes = np.zeros((n_words, depth), dtype=np.int64)
    signs = np.zeros((n_words, depth), dtype=np.float32)
    stack, next_node = [(0, n_words, 0)], 0
    while stack:  # n_words - 1 nodes; built once per model, not per token
        lo, hi, level = stack.pop()
        if hi - lo < 2:
            continue
        mid = lo + (hi - lo + 1) // 2
        nodes[lo:hi, level] = next_node
        signs[lo:mid, level] = -1.0
        signs[mid:hi, level] = 1.0
        next_node += 1
        stack.append((mid, hi, level + 1))
        stack.append((lo, mid, level + 1))
    return nodes, signs


class DocNADE(nn.Module):
    """DocNADE's parameters and its per-token computations.

    Attributes
    ----------
    W : Parameter, shape (n_words, n_units)
        Input weights, the paper's W transposed.
    c : Parameter, shape (n_units,)
        Hidden bias.
    out_weight : Parameter, shape (n_outputs, n_units)
        The paper's V (full softmax) or the tree nodes' weights.
    out_bias : Parameter, shape (n_outputs,)
        b, per word or per tree node.
    """

    def __init__(self, config: DocNADEConfig, generator: torch.Generator | None = None):
        super().__init__()
        self.config = config
        V, H, n_out = config.n_words, config.n_units, config.n_outputs
        # Standard deviation 0.1: a document of L random tokens starts with pre-activations of
        # spread 0.1 sqrt(L), not yet saturated for a few hundred tokens; 0.01 left training on
        # a plateau near the unigram model for its first epochs (20news_nvdm validation
        # documents: perplexity 972 against 923 after four epochs of a 3,000-document subset).
        self.W = nn.Parameter(torch.randn(V, H, generator=generator) * 0.1)
        self.c = nn.Parameter(torch.zeros(H))
        self.out_weight = nn.Parameter(torch.randn(n_out, H, generator=generator) * 0.1)
        self.out_bias = nn.Parameter(torch.zeros(n_out))
        if config.softmax == "tree":
            nodes, signs = balanced_tree(V)
            # Derived from n_words alone, so not part of the state dict.
            self.register_buffer("tree_nodes", torch.from_numpy(nodes), persistent=False)
            self.register_buffer("tree_signs", torch.from_numpy(signs), persistent=False)

    @torch.no_grad()
    def init_output_bias(self, word_frequencies: np.ndarray) -> None:
        """Start the output so that an untrained model predicts the word frequencies ``p(w)``
        (shape (n_words,)): b = log p(w) for the full softmax; for the tree, each node's bias
        is the log-odds of the probability mass to its right against that to its left."""
        p = np.asarray(word_frequencies, dtype=np.float64)
        if self.config.softmax == "full":
            bias = np.log(p)
        else:
            nodes, signs = self.tree_nodes.cpu().numpy(), self.tree_signs.cpu().numpy()
            right = np.zeros(self.config.n_outputs)
            left = np.zeros(self.config.n_outputs)
            np.add.at(right, nodes[signs > 0], np.broadcast_to(p[:, None], nodes.shape)[signs > 0])
            np.add.at(left, nodes[signs < 0], np.broadcast_to(p[:, None], nodes.shape)[signs < 0])
            bias = np.log(right) - np.log(left)
        self.out_bias.copy_(torch.from_numpy(bias).to(self.out_bias.dtype))

    def output_logits(self, h: torch.Tensor, targets: torch.Tensor | None = None) -> torch.Tensor:
        """b + V h: (n, H) -> (n, n_words) for the full softmax; for the tree, the logits of
        the nodes on the paths of ``targets`` (n,), shape (n, depth)."""
        if self.config.softmax == "full":
            return F.linear(h, self.out_weight, self.out_bias)
        nodes = self.tree_nodes[targets]  # n,D
        return torch.bmm(self.out_weight[nodes], h.unsqueeze(-1)).squeeze(-1) + self.out_bias[nodes]

    def word_log_probs(self, h: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """log p(v = targets | h), per token.

        Parameters
        ----------
        h : Tensor, shape (n, H)
            Hidden activations h_i.
        targets : Tensor of int64, shape (n,)
            The words v_i.

        Returns
        -------
        Tensor, shape (n,)
        """
        if self.config.softmax == "full":
            return _SoftmaxLogProb.apply(h, self.out_weight, self.out_bias, targets)
        signs = self.tree_signs[targets]  # n,D
        # log sigmoid(+-logit) per decision on the path; padding past the leaf counts 0.
        return (F.logsigmoid(signs * self.output_logits(h, targets)) * (signs != 0)).sum(-1)

    def word_distribution(self, h: torch.Tensor) -> torch.Tensor:
        """p(w | h) for every word: (n, H) -> (n, n_words), rows summing to one."""
        if self.config.softmax == "full":
            return torch.softmax(self.output_logits(h), dim=-1)
        z = F.linear(h, self.out_weight, self.out_bias)  # n, nodes: every node's logit once
        signs = self.tree_signs  # V,D
        log_p = (F.logsigmoid(signs * z[:, self.tree_nodes]) * (signs != 0)).sum(-1)  # n,V
        return log_p.exp()

    def hidden(self, tokens: torch.Tensor, first: torch.Tensor, prefix: torch.Tensor | None = None,
               n_prefixed: int = 0) -> torch.Tensor:
        """h_i for a run of tokens laid end to end, several documents one after another.

        Parameters
        ----------
        tokens : Tensor of int64, shape (n,)
            Word ids, each document's in its order, documents consecutive.
        first : Tensor of int64, shape (n,)
            For every position, the position (in this run) of the first token of its document
            that lies in this run.
        prefix : Tensor, shape (H,), optional
            The summed W rows of the tokens of the run's first document that precede the run
            (a long document cut into pieces); added to its first ``n_prefixed`` positions.

        Returns
        -------
        Tensor, shape (n, H)
            sigmoid(c + sum of W rows of the earlier tokens of the same document).
        """
        rows = self.W[tokens]  # n,H
        # One cumulative sum over the whole run, in float64 so that subtracting the sum at a
        # document's start loses nothing to cancellation; it is cheap (n x H).
        rows64 = rows.double()
        before = rows64.cumsum(0) - rows64  # n,H: sum over earlier positions of the run
        pre = before - before[first]
        if prefix is not None and n_prefixed:
            pre = torch.cat([pre[:n_prefixed] + prefix.double(), pre[n_prefixed:]])
        return torch.sigmoid(self.c + pre.to(rows.dtype))


class _SoftmaxLogProb(torch.autograd.Function):
    """log softmax(h V^T + b)[target] per row, with a closed-form backward.

    Autograd through ``log_softmax`` and ``nll_loss`` makes three passes over the (n, n_words)
    logits in the backward (a zero-filled gradient, the log-softmax backward and its exponential);
    here the forward keeps exp(a - max) and the backward is the closed form
    d log p / d a = onehot(target) - softmax(a): one pass. This is most of a training step's
    arithmetic outside the two matrix products.
    """

    @staticmethod
    def forward(ctx, h, weight, bias, targets):
        a = torch.addmm(bias, h, weight.t())  # n,V
        picked = a.gather(1, targets[:, None]).squeeze(1)
        m = a.amax(1, keepdim=True)
        e = a.sub_(m).exp_()  # in place: a is not needed again
        s = e.sum(1)
        ctx.save_for_backward(h, weight, e, s, targets)
        return picked - m.squeeze(1) - s.log()

    @staticmethod
    def backward(ctx, grad):
        h, weight, e, s, targets = ctx.saved_tensors
        grad_a = e * (-grad / s)[:, None]  # -g softmax(a), a new tensor: e stays as saved
        grad_a.scatter_add_(1, targets[:, None], grad[:, None])  # + g onehot(target)
        grad_h = grad_a @ weight if ctx.needs_input_grad[0] else None
        grad_weight = grad_a.t() @ h if ctx.needs_input_grad[1] else None
        grad_bias = grad_a.sum(0) if ctx.needs_input_grad[2] else None
        return grad_h, grad_weight, grad_bias, None
