"""log Z_D of a Replicated Softmax by annealed importance sampling (Neal 2001; Salakhutdinov &
Murray, ICML 2008), for every document length D asked for.

Two annealing paths. Both start where Z is known and give, per chain, a weight whose mean over
chains is an unbiased estimate of Z_D; its logarithm is biased low (``E[log Z_hat] <= log Z_D``
by Jensen), so log-likelihoods built on it are optimistic in expectation.

* ``"length"`` (the default): the document length is the inverse temperature. With the tokens
  summed out (:mod:`docmodel.models.rsm.network`) ``Z_beta = sum_h exp(beta g(h))`` is the
  partition function of an RSM "of length beta": ``Z_0 = 2^F`` (no tokens, h uniform) and Z_D
  for every integer D on the way. One set of ``n_runs`` chains anneals from 0 to the longest
  length asked for; the running weight on reaching beta is an unbiased estimate of
  ``Z_beta / Z_0``, so every length D is read off the same chains (an extra temperature at D
  with the identity transition) and the cost does not grow with the number of distinct lengths.
  Temperatures are evenly spaced in ``log(1 + beta)``. The transition at each temperature is a
  sweep of single-unit heat-bath (Gibbs) updates of h under ``exp(beta g(h))``, preceded, for
  1 <= beta <= 256, by a block move through the tokens: ``floor(beta)`` tokens drawn given h and
  all of h drawn given them (the paper's Gibbs step on (h, v), with a Metropolis correction for
  the fractional part of beta).

  Long documents make ``exp(D g(h))`` so peaked that Z_D is essentially the mass of the few
  states of highest g, which annealed chains often miss (the estimate then falls short by D
  times the gap in g). So the mass of a set of searched states (local maxima of g found by
  steepest ascent from random starts and iterated local search, and the states one or two unit
  flips from the best of them; found with a random stream of their own) is counted exactly,
  and AIS estimates the rest: the chains whose state at D is in the set are dropped,
  ``Z_hat = sum_{h in set} exp(D g(h)) + Z_0 mean_s(w_s [h_s not in set])``.
  As the set does not depend on the chains, this is still unbiased for Z_D (AIS weights with
  the final state give unbiased estimates of ``sum_h exp(D g(h)) f(h)`` for any f), and it is
  never below the exact mass of the set. The set is used only when it holds at most a
  sixteenth of the 2^F states (with few hidden units it would leave few chains to estimate the
  rest at short lengths, where plain AIS is accurate anyway).
* ``"base-rate"`` (the paper's, its section 3): for each distinct length separately, from the
  base-rate model (tokens from ``softmax(b0)``, ``b0`` the log training word frequencies, h
  uniform: ``Z = 2^F (sum_k exp b0_k)^D``) to the RSM through
  ``p*_beta(v) = exp((1 - beta) b0 . v + beta b . v) prod_j (1 + exp(beta (D a_j + W[:, j] . v)))``
  with beta evenly spaced in [0, 1] and Gibbs transitions on (h, v). Each temperature draws D
  tokens per chain and length: ``n_runs`` times the sum of the distinct lengths, far more work
  than the length path on real corpora; plain AIS (no searched states).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from docmodel.errors import ModelError
from docmodel.models.rsm.network import RSM
from docmodel.models.rsm.sampling import draw_counts

PATHS = ("length", "base-rate")
# Largest |W| for which the length path's sweep works in float32 (exp(40) * V stays far from overflow).
_FLOAT32_MAX_WEIGHT = 40.0
# Largest inverse temperature (length) at which the length path also makes token block moves: they
# cost beta tokens per chain, and at longer lengths the searched states hold nearly all the mass.
_BLOCK_MAX_LENGTH = 256.0
# The search for states of high g(h) (:func:`searched_states`): random starts, rounds of
# iterated local search from the best modes, copies of each, and the most states the best modes'
# neighbourhoods may hold.
_SEARCH_STARTS = 512
_SEARCH_ROUNDS = 6
_SEARCH_MODES = 32
_SEARCH_KICKS = 16
_NEIGHBOURHOOD_MODES = 16
_NEIGHBOURHOOD_STATES = 40_000
_ROWS_AT_ONCE = 4096
# The searched states are used when they are at most 1 / _SET_SHARE of the 2^F hidden states.
_SET_SHARE = 16
# Chains (runs x lengths) of the base-rate path held at once: their counts are (rows, V) doubles.
_BASE_RATE_ROWS = 2048


def log_partition(net: RSM, lengths, *, n_runs: int, n_steps: int, generator: torch.Generator,
                  path: str = "length", base_bias: torch.Tensor | None = None, search: bool = True) -> dict[int, float]:
    """AIS estimates of log Z_D for each distinct positive length in ``lengths``.

    Parameters
    ----------
    net : RSM
    lengths : array-like of int
        Document lengths (repeats and zeros allowed; ``log Z_0 = F log 2`` exactly).
    n_runs : int
        AIS runs (chains).
    n_steps : int
        Temperatures after the start, beta_1 .. beta_T (the paper's K); one Gibbs transition at
        each (the length path) or at each but the last (the base-rate path).
    generator : torch.Generator
    path : {"length", "base-rate"}
    base_bias : Tensor, shape (V,)
        The base-rate model's word logits (``"base-rate"`` only).
    search : bool
        Count the mass of searched states of high g(h) exactly (``"length"`` only; see the module
        docstring). False: plain AIS.

    Returns
    -------
    dict
        Length -> estimate of log Z_D.
    """
    distinct = np.unique(np.asarray(lengths, dtype=np.int64))
    out = {0: net.config.n_units * math.log(2.0)} if 0 in distinct else {}
    distinct = distinct[distinct > 0]
    if len(distinct) == 0:
        return out
    with torch.no_grad():
        if path == "length":
            log_z = _length_path(net, distinct, n_runs, n_steps, generator, search)
        elif path == "base-rate":
            if base_bias is None:
                raise ModelError("the base-rate AIS path needs the base-rate word biases")
            log_z = _base_rate_path(net, distinct, n_runs, n_steps, generator, base_bias)
        else:
            raise ModelError(f"ais_path must be one of {', '.join(PATHS)}; got {path!r}")
    out.update(zip(distinct.tolist(), log_z.tolist()))
    return out


def length_temperatures(max_length: float, n_steps: int) -> torch.Tensor:
    """0 = beta_0 < ... < beta_T = ``max_length``, evenly spaced in log(1 + beta), shape (T + 1,)."""
    t = torch.linspace(0.0, 1.0, n_steps + 1, dtype=torch.float64)
    return torch.expm1(t * math.log1p(max_length))


def _length_path(net: RSM, distinct: np.ndarray, n_runs: int, n_steps: int, generator, search: bool) -> torch.Tensor:
    """log Z_D for the sorted positive lengths ``distinct`` along the length path."""
    W = net.weight.detach().double()  # V,F
    b, a = net.word_bias.detach().double(), net.unit_bias.detach().double()
    n_units, dev = W.shape[1], W.device
    # float32 for the sweep's passes over (S, V) unless exp(|W|) could overflow it
    dtype = torch.float32 if float(W.abs().max()) < _FLOAT32_MAX_WEIGHT else torch.float64
    exp_w = torch.stack([W.t().exp(), (-W.t()).exp()], dim=1).to(dtype).contiguous()  # F,2,V: a flip's factor per word
    betas = length_temperatures(float(distinct[-1]), n_steps).to(dev)
    d = torch.as_tensor(distinct, dtype=torch.float64, device=dev)
    read = torch.searchsorted(betas, d, right=True) - 1  # D in [beta_t, beta_t+1) is read at step t
    to_read = set(read.tolist())
    # The searched states come from a stream of their own: independent of the chains. They are
    # used only where they are a small part of the 2^F states: otherwise few chains stay outside
    # the set at short lengths (where plain AIS is accurate) and the rest's estimate is noisy.
    search_seed = int(torch.randint(2**62, (1,), generator=generator, device=dev))
    search = search and 2.0**n_units >= _SET_SHARE * (1 + n_units)
    if search:
        states = searched_states(W, b, a, torch.Generator(device=dev).manual_seed(search_seed))
        search = 2.0**n_units >= _SET_SHARE * len(states)
    state_keys = set(_row_keys(states)) if search else set()

    h = (torch.rand(n_runs, n_units, generator=generator, dtype=torch.float64, device=dev) < 0.5).double()  # beta 0
    log_w = torch.zeros(n_runs, dtype=torch.float64, device=dev)
    cum = torch.zeros(n_steps + 1, n_runs, dtype=torch.float64, device=dev)  # log weight on reaching beta_t
    g_at = torch.empty(n_steps + 1, n_runs, dtype=torch.float64, device=dev)  # g(h) after the transition at beta_t
    in_set = torch.zeros(n_steps + 1, n_runs, dtype=torch.bool, device=dev)  # h in the searched set (read steps)
    g_at[0] = token_log_weight(h, W, b, a)
    for t in range(n_steps + 1):
        if t > 0:
            log_w += (betas[t] - betas[t - 1]) * g_at[t - 1]
            cum[t] = log_w
            beta = float(betas[t])
            if 1.0 <= beta <= _BLOCK_MAX_LENGTH:
                token_block_move(h, W, b, a, beta, generator)
            g_at[t] = heat_bath_sweep(h, W, b, a, exp_w, beta, generator)
        if t in to_read and state_keys:
            in_set[t] = torch.tensor([k in state_keys for k in _row_keys(h)], device=dev)
    # One more increment from the state at beta_t to D; chains in the searched set drop out, as
    # that set's mass is added exactly.
    log_w_d = cum[read] + (d - betas[read])[:, None] * g_at[read]  # D,S
    log_w_d = log_w_d.masked_fill(in_set[read], -math.inf)
    log_rest = n_units * math.log(2.0) + torch.logsumexp(log_w_d, dim=1) - math.log(n_runs)
    if not search:
        return log_rest.cpu()
    log_set = torch.logsumexp(d[:, None] * token_log_weight(states, W, b, a)[None, :], dim=1)
    return torch.logaddexp(log_set, log_rest).cpu()


def token_log_weight(h, W, b, a) -> torch.Tensor:
    """g(h) = a . h + logsumexp(b + W h) for the rows of ``h`` (K, F), in ``W``'s dtype, taken a few
    thousand rows at a time, shape (K,)."""
    out = torch.empty(len(h), dtype=W.dtype, device=W.device)
    for lo in range(0, len(h), _ROWS_AT_ONCE):
        hc = h[lo:lo + _ROWS_AT_ONCE]
        out[lo:lo + len(hc)] = hc @ a + torch.logsumexp(torch.addmm(b, hc, W.t()), dim=1)
    return out


def searched_states(W, b, a, generator) -> torch.Tensor:
    """Distinct hidden states of high g(h), shape (K, F).

    Local maxima of g under single-unit flips: steepest ascent from ``_SEARCH_STARTS`` random
    states, then ``_SEARCH_ROUNDS`` rounds of iterated local search (the best ``_SEARCH_MODES``
    maxima so far, each copied ``_SEARCH_KICKS`` times with 2 to 5 random units flipped, climbed
    again), with every state one or two flips away from the best ``_NEIGHBOURHOOD_MODES`` of
    them (one flip only where two would exceed ``_NEIGHBOURHOOD_STATES`` states).
    """
    n_units = W.shape[1]
    exp_w = torch.cat([W.exp(), (-W).exp()], dim=1)  # V,2F
    start = torch.rand(_SEARCH_STARTS, n_units, generator=generator, dtype=W.dtype, device=W.device) < 0.5
    modes = torch.unique(_ascend(start.to(W.dtype), W, b, a, exp_w), dim=0)
    for _ in range(_SEARCH_ROUNDS):
        best = modes[token_log_weight(modes, W, b, a).argsort(descending=True)[:_SEARCH_MODES]]
        kicked = best.repeat_interleave(_SEARCH_KICKS, dim=0)
        n_flips = torch.randint(2, 6, (len(kicked), 1), generator=generator, device=W.device)
        ranks = torch.rand(kicked.shape, generator=generator, device=W.device).argsort(dim=1)
        kicked = (kicked - (ranks < n_flips).to(W.dtype)).abs()  # XOR: flip n_flips random units
        modes = torch.unique(torch.cat([modes, _ascend(kicked, W, b, a, exp_w)]), dim=0)
    modes = modes[token_log_weight(modes, W, b, a).argsort(descending=True)]
    units = torch.arange(n_units, device=W.device)
    pairs = torch.combinations(units, 2)  # P,2
    if 1 + n_units + len(pairs) > _NEIGHBOURHOOD_STATES:
        pairs = pairs[:0]
    per_mode = 1 + n_units + len(pairs)
    flips = torch.zeros(per_mode, n_units, dtype=W.dtype, device=W.device)  # rows: none, each unit, each pair
    flips[1 + units, units] = 1.0
    flips[1 + n_units + torch.arange(len(pairs), device=W.device)[:, None], pairs] = 1.0
    n_top = max(1, min(_NEIGHBOURHOOD_MODES, _NEIGHBOURHOOD_STATES // per_mode))
    near = (modes[:n_top, None, :] - flips[None]).abs().reshape(-1, n_units)  # XOR
    return torch.unique(torch.cat([modes, near]), dim=0)


def _ascend(H, W, b, a, exp_w) -> torch.Tensor:
    """Steepest ascent of g from each row of ``H`` (n, F), flipping the best unit until none
    improves g: local maxima under single flips, in place and returned."""
    n_units = H.shape[1]
    active = torch.arange(len(H), device=H.device)
    while len(active):
        Ha = H[active]
        ratio = torch.softmax(torch.addmm(b, Ha, W.t()), dim=1) @ exp_w  # n,2F: sum_k p_k exp(+-W_kj)
        on = Ha > 0
        gain = torch.where(on, -a, a) + torch.where(on, ratio[:, n_units:], ratio[:, :n_units]).log()
        best_gain, best = gain.max(dim=1)
        up = best_gain > 1e-12
        rows, cols = active[up], best[up]
        H[rows, cols] = 1.0 - H[rows, cols]
        active = rows
    return H


def _row_keys(h) -> list[tuple]:
    """Each 0/1 row of ``h`` as a tuple of ints (62 units per int), for exact set membership."""
    n, n_units = h.shape
    pad = (-n_units) % 62
    bits = F.pad(h.long(), (0, pad)).view(n, -1, 62)
    weights = torch.ones(62, dtype=torch.int64, device=h.device).bitwise_left_shift(torch.arange(62, device=h.device))
    return [tuple(row) for row in (bits * weights).sum(-1).tolist()]


def token_block_move(h, W, b, a, beta, generator) -> None:
    """In place, a move on h that leaves exp(beta g(h)) invariant: n = floor(beta) tokens v | h,
    then h' ~ p(h | v) = prod_j Bernoulli(sigmoid(beta a_j + W[:, j] . v)), accepted with
    probability min(1, (S(h') / S(h))^(beta - n)), S(h) = sum_k exp(b_k + W[k] . h): the block
    Gibbs step on (h, v) of an RSM of length n (always accepted when beta is an integer)."""
    n = math.floor(beta)
    frac = beta - n
    logits = torch.addmm(b, h, W.t())  # S,V
    v = draw_counts(logits, torch.full((h.shape[0],), n, dtype=torch.int64, device=h.device), generator)
    act = torch.addmm(beta * a, v, W)  # S,F
    u = torch.rand(h.shape, generator=generator, dtype=torch.float64, device=h.device)
    proposal = (u < torch.sigmoid(act)).double()
    if frac > 0:
        log_accept = frac * (torch.logsumexp(torch.addmm(b, proposal, W.t()), 1) - torch.logsumexp(logits, 1))
        u = torch.rand(h.shape[0], generator=generator, dtype=torch.float64, device=h.device)
        proposal = torch.where((u.log() < log_accept)[:, None], proposal, h)
    h.copy_(proposal)


def _softmax_parts(h, W, b, dtype):
    """softmax(b + W h) (S, V) and logsumexp(b + W h) (S,), computed in float64, returned in ``dtype``."""
    logits = torch.addmm(b, h, W.t())  # S,V
    lse = torch.logsumexp(logits, dim=1)
    return torch.exp(logits - lse[:, None]).to(dtype), lse.to(dtype)


def heat_bath_sweep(h, W, b, a, exp_w, beta, generator) -> torch.Tensor:
    """One in-place Gibbs sweep over the units of ``h`` (S, F) under exp(beta g(h)); returns g(h).

    Unit j's conditional needs logsumexp(b + W h) with h_j on and off. Keeping p = softmax(b + W h)
    it is ``lse + log(p . exp(+-W[:, j]))``: one pass over p per unit, and one more to rescale p
    when a chain flips. p and lse are recomputed from h (in float64) at the start of every sweep,
    so rounding in ``exp_w``'s dtype (float32 unless the weights are large) does not accumulate,
    and g(h) is returned in float64. ``exp_w[j]`` is (exp(W[:, j]), exp(-W[:, j])), shape (2, V).
    """
    dtype = exp_w.dtype
    p, lse = _softmax_parts(h, W, b, dtype)
    a_ = a.to(dtype)
    noise = torch.rand(h.shape, generator=generator, dtype=torch.float64, device=h.device).to(dtype)
    hd = h.to(dtype)
    for j in range(h.shape[1]):
        on = hd[:, j]  # S, 0/1
        # sum_k p_k exp(+W_kj) (turning j on) and exp(-W_kj) (turning it off)
        both = p @ exp_w[j].t()  # S,2
        ratio = torch.lerp(both[:, 0], both[:, 1], on)
        delta = ratio.log()  # lse(flipped) - lse(current)
        # log odds of h_j = 1: beta (a_j + lse(on) - lse(off))
        log_odds = beta * (a_[j] + (1.0 - 2.0 * on) * delta)
        new = (noise[:, j] < torch.sigmoid(log_odds)).to(dtype)
        flip = (new - on).abs()  # S, 0/1
        if not bool(flip.any()):  # the common case once the chains have settled
            continue
        # p <- p * exp(+-W[:, j]) / ratio in the chains that flip, unchanged elsewhere
        coef = torch.stack([flip * (1.0 - on), flip * on], dim=1) / ratio[:, None]  # S,2
        p.mul_(torch.addmm((1.0 - flip)[:, None], coef, exp_w[j]))
        lse += flip * delta
        hd[:, j] = new
    h.copy_(hd)
    return token_log_weight(h, W, b, a)


def _base_rate_path(net: RSM, distinct: np.ndarray, n_runs: int, n_steps: int, generator,
                    base_bias: torch.Tensor) -> torch.Tensor:
    """log Z_D for each length in ``distinct``, the paper's AIS (chains of one length in a row)."""
    W = net.weight.detach().double()
    b, a = net.word_bias.detach().double(), net.unit_bias.detach().double()
    b0 = base_bias.detach().double()
    dev = W.device
    betas = torch.linspace(0.0, 1.0, n_steps + 1, dtype=torch.float64).tolist()
    lengths = torch.as_tensor(distinct, dtype=torch.int64, device=dev).repeat_interleave(n_runs)  # rows: D-major
    log_w = torch.empty(len(lengths), dtype=torch.float64, device=dev)
    for lo in range(0, len(lengths), _BASE_RATE_ROWS):
        n = lengths[lo:lo + _BASE_RATE_ROWS]
        length_bias = n.double()[:, None] * a  # D a, rows x F
        v = draw_counts(b0.expand(len(n), -1), n, generator)  # exact draw from the base-rate model
        lw = torch.zeros(len(n), dtype=torch.float64, device=dev)
        for t in range(1, n_steps + 1):
            act = torch.addmm(length_bias, v, W)  # D a + v W
            lw += (betas[t] - betas[t - 1]) * (v @ (b - b0)) + (
                F.softplus(betas[t] * act) - F.softplus(betas[t - 1] * act)).sum(1)
            if t < n_steps:  # Gibbs at beta_t: h | v, then the D tokens | h
                h = (torch.rand(act.shape, generator=generator, dtype=torch.float64, device=dev)
                     < torch.sigmoid(betas[t] * act)).double()
                v = draw_counts((1.0 - betas[t]) * b0 + betas[t] * torch.addmm(b, h, W.t()), n, generator)
        log_w[lo:lo + len(n)] = lw
    log_z0 = W.shape[1] * math.log(2.0) + torch.as_tensor(distinct, dtype=torch.float64) * float(torch.logsumexp(b0, 0))
    return log_z0 + torch.logsumexp(log_w.view(len(distinct), n_runs), dim=1).cpu() - math.log(n_runs)

