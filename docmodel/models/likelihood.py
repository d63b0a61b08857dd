"""The word layer's log-likelihood, sum_w x_w log softmax(h W^T + b)_w, computed fast (the softmax
word layer of the SBNs and of NVDM).

One function, :func:`word_log_likelihood`, with routes that agree to float32 rounding: fused
autograd functions for training (one pass of exp over the (S, B, V) logits, the closed-form
backward; with several samples per document, cache-sized chunks and a backward made of matrix
products alone), cache-sized chunks without gradients (evaluation), and the plain autograd
expression for anything else.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

# Logits (S * B * V elements) handled at once when no gradient is needed. On a CPU, 4 MB of
# float32 keeps the block in the caches between the passes of the log-sum-exp while the
# (S * b, K) x (K, V) product stays large enough to run at full speed; a GPU wants big launches.
EVAL_CHUNK_ELEMENTS = {"cpu": 2**20, "cuda": 2**26}
# The same for the logits of a training step with several samples per document (they are kept
# for the backward pass, so the block size only sets how long each stays in cache).
TRAIN_CHUNK_ELEMENTS = {"cpu": 2**19, "cuda": 2**30}
# From this many samples per document on, x . a_s is computed as (x U) . h_s + x . b: one
# (B, V) x (V, K) product instead of a multiply-and-sum pass over the (S, B, V) logits.
_XU_MIN_SAMPLES = 16
# From this many samples per document on, training takes :class:`_ChunkedWordLogLikelihood`:
# the (S, B, V) logits no longer fit in the caches, and the extra (B, V) x (V, K) products its
# closed forms need cost less than the passes over the logits they save (the default step on
# 20news_nvdm, minibatch 512: 0.40 -> 0.60 of its floor on one thread, benchmarks/throughput.py).
# With one sample the logits are S times smaller and stay in cache, and the plain fused function
# is the faster.
PRODUCTS_MIN_SAMPLES = 2
_LOG2E = 1.4426950408889634


def _word_terms(x: torch.Tensor, h: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor):
    """x . a and the pieces of logsumexp(a) for a = h W^T + b, with one pass of exp.

    Returns ``(x_dot_a, e, s, m)`` with ``e = exp(a - m)`` (shape (..., V)), ``s = sum(e)`` and
    ``m = max(a)`` over the vocabulary, so that ``logsumexp(a) = m + log(s)`` and
    ``softmax(a) = e / s``.
    """
    a = F.linear(h, weight, bias)  # S,B,V
    x_dot_a = (a * x).sum(-1)  # S,B
    m = a.amax(-1, keepdim=True)
    e = a.sub_(m).exp_()  # in place: a is not needed again
    return x_dot_a, e, e.sum(-1), m.squeeze(-1)


class _WordLogLikelihood(torch.autograd.Function):
    """sum_w x_w log softmax(h W^T + b)_w with a hand-written backward.

    Autograd through ``logsumexp`` keeps the logits and recomputes their exponential in the
    backward pass; here the forward keeps ``exp(a - max)`` and the backward is the closed form
    d/da [x . a - L logsumexp(a)] = x - L softmax(a), so one step makes a single pass of exp
    over the (S, B, V) logits. Gradients reach ``weight``, ``bias`` and ``h`` (relaxed units
    depend on the parameters; binary samples do not ask for one), not ``x`` (data).
    """

    @staticmethod
    def forward(ctx, x, h, weight, bias):
        x_dot_a, e, s, m = _word_terms(x, h, weight, bias)
        length = x.sum(-1)
        ctx.save_for_backward(x, h, weight, e, s, length)
        return x_dot_a - length * (m + s.log())

    @staticmethod
    def backward(ctx, grad):
        x, h, weight, e, s, length = ctx.saved_tensors
        # g * (x - L e / s), the gradient in the logits a, flattened to (S * B, V).
        grad_a = torch.addcmul(grad[..., None] * x, e, (-grad * length / s)[..., None])
        grad_a = grad_a.reshape(-1, grad_a.shape[-1])
        grad_h = (grad_a @ weight).reshape(h.shape) if ctx.needs_input_grad[1] else None
        grad_weight = grad_a.t() @ h.reshape(-1, h.shape[-1]) if ctx.needs_input_grad[2] else None
        grad_bias = grad_a.sum(0) if ctx.needs_input_grad[3] else None
        return None, grad_h, grad_weight, grad_bias


class _ChunkedWordLogLikelihood(torch.autograd.Function):
    """The same function and gradients as :class:`_WordLogLikelihood` for x (B, V) and h (S, B, K)
    with several samples per document, with less memory traffic.

    Forward: ``x . a_s = (x W) . h_s + x . b`` (one (B, V) x (V, K) product instead of a pass over
    the logits), and the logits are made ``TRAIN_CHUNK_ELEMENTS`` at a time (a few hundred rows
    of (S B, V) on a CPU), each block's max, exp and sum taken while it is in cache; only
    exp(a - max) is kept. Backward: the gradient in the logits, g x - c e with c = g L / s, is
    never formed. Its products with h and with ones are products of x and e with small matrices:

        dW = x^T (sum_s g_s h_s) - e^T (c h),    db = x^T (sum_s g_s) - e^T c,

    one pass over the kept e inside a single (V, S B) x (S B, K + 1) product. The exponential is
    taken as exp2((a - max) log2 e), as in evaluation.
    """

    @staticmethod
    def forward(ctx, x, h, weight, bias):
        S, B, K = h.shape
        V, N = weight.shape[0], S * B
        rows = h.reshape(N, K)
        x_weight = x @ weight  # B,K
        x_dot_a = (h * x_weight).sum(-1) + x @ bias  # S,B
        e = torch.empty(N, V, dtype=torch.result_type(h, weight), device=h.device)
        m = torch.empty(N, dtype=e.dtype, device=e.device)
        s = torch.empty(N, dtype=e.dtype, device=e.device)
        per_chunk = TRAIN_CHUNK_ELEMENTS.get(h.device.type, TRAIN_CHUNK_ELEMENTS["cpu"])
        step = max(1, per_chunk // max(1, V))
        weight_t = weight.t()
        for lo in range(0, N, step):
            hi = min(lo + step, N)
            block = torch.addmm(bias, rows[lo:hi], weight_t, out=e[lo:hi])
            block_max = block.amax(-1, keepdim=True)
            torch.sum(block.sub_(block_max).mul_(_LOG2E).exp2_(), -1, out=s[lo:hi])
            m[lo:hi] = block_max.squeeze(-1)
        length = x.sum(-1)
        s, m = s.view(S, B), m.view(S, B)
        ctx.save_for_backward(x, h, weight, e, s, length, x_weight)
        return x_dot_a - length * (m + s.log())

    @staticmethod
    def backward(ctx, grad):
        x, h, weight, e, s, length, x_weight = ctx.saved_tensors
        S, B, K = h.shape
        c = grad * length / s  # S,B
        grad_h = grad_weight = grad_bias = None
        if ctx.needs_input_grad[2] or ctx.needs_input_grad[3]:
            from_e = torch.cat([c[..., None] * h, c[..., None]], -1).reshape(S * B, K + 1)
            from_x = torch.cat([(grad[..., None] * h).sum(0), grad.sum(0)[:, None]], -1)  # B,K+1
            both = torch.addmm(x.t() @ from_x, e.t(), from_e, alpha=-1.0)  # V,K+1
            grad_weight = both[:, :K] if ctx.needs_input_grad[2] else None
            grad_bias = both[:, K] if ctx.needs_input_grad[3] else None
        if ctx.needs_input_grad[1]:
            grad_h = grad[..., None] * x_weight - c[..., None] * (e @ weight).view(S, B, K)
        return None, grad_h, grad_weight, grad_bias


def word_log_likelihood(x: torch.Tensor, h: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """sum_w x_w log softmax(h W^T + b)_w, the same function however it is computed.

    Parameters
    ----------
    x : Tensor, shape (B, V)
    h : Tensor, shape (S, B, K)
    weight : Tensor, shape (V, K)
    bias : Tensor, shape (V,)

    Returns
    -------
    Tensor, shape (S, B)

    Without gradients the documents are taken in chunks whose logits fit in the CPU caches
    (``EVAL_CHUNK_ELEMENTS``); with gradients for the weights or h (training, h relaxed units
    in :mod:`docmodel.models.sbn.relaxed`) the fused :class:`_WordLogLikelihood` runs; anything
    else (gradients for x, or shapes where h does not cover x) takes the plain autograd
    expression.
    """
    fused_shape = h.shape[:-1] == torch.broadcast_shapes(h.shape[:-1], x.shape[:-1])
    if not fused_shape or x.requires_grad:
        a = F.linear(h, weight, bias)
        # x . log_softmax(a) = x . a - L * logsumexp(a): avoids materialising log_softmax.
        return (a * x).sum(-1) - x.sum(-1) * torch.logsumexp(a, dim=-1)
    if torch.is_grad_enabled() and (weight.requires_grad or bias.requires_grad or h.requires_grad):
        if h.dim() == 3 and x.dim() == 2 and h.shape[0] >= PRODUCTS_MIN_SAMPLES and x.shape[0] == h.shape[1]:
            return _ChunkedWordLogLikelihood.apply(x, h, weight, bias)
        return _WordLogLikelihood.apply(x, h, weight, bias)
    if h.dim() != 3 or x.dim() != 2 or x.shape[0] != h.shape[1]:
        x_dot_a, _, s, m = _word_terms(x, h, weight, bias)
        return x_dot_a - x.sum(-1) * (m + s.log())
    return _word_log_likelihood_chunked(x, h, weight, bias)


def _word_log_likelihood_chunked(x, h, weight, bias) -> torch.Tensor:
    """The no-gradient path of :func:`word_log_likelihood` for x (B, V) and h (S, B, K).

    Documents are taken a few at a time so that their (S, b, V) logits stay in cache for the
    max, exp and sum passes. The exponential is taken as exp2((a - max) log2 e), which agrees
    with exp to float32 rounding and is about three times faster on CPUs; training keeps exp.
    """
    S, B = h.shape[0], h.shape[1]
    V = weight.shape[0]
    per_chunk = EVAL_CHUNK_ELEMENTS.get(h.device.type, EVAL_CHUNK_ELEMENTS["cpu"])
    step = max(1, per_chunk // max(1, S * V))
    lengths = x.sum(-1)  # B
    x_weight = x @ weight if S >= _XU_MIN_SAMPLES else None  # B,K
    x_bias = x @ bias if S >= _XU_MIN_SAMPLES else None  # B
    out = torch.empty(S, B, dtype=torch.result_type(h, weight), device=h.device)
    for lo in range(0, B, step):
        hi = min(lo + step, B)
        hc = h[:, lo:hi]
        a = F.linear(hc, weight, bias)  # S,b,V
        if x_weight is None:
            x_dot_a = (a * x[lo:hi]).sum(-1)
        else:
            x_dot_a = (hc * x_weight[lo:hi]).sum(-1) + x_bias[lo:hi]
        m = a.amax(-1, keepdim=True)
        s = a.sub_(m).mul_(_LOG2E).exp2_().sum(-1)
        out[:, lo:hi] = x_dot_a - lengths[lo:hi] * (m.squeeze(-1) + s.log())
    return out
