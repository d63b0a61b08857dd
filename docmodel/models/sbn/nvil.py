"""Neural variational inference and learning (NVIL) as a pure function.

Mnih & Gregor, "Neural Variational Inference and Learning in Belief Networks", ICML 2014.
The bound L(x) = E_q[log p(x,h) - log q(h|x)] is maximised in both the model and the inference
network:

- model gradient: E_q[grad log p(x,h)], from samples h ~ q(h|x);
- inference-network gradient: E_q[l(x,h) grad log q(h|x)] with learning signal
  l = log p(x,h) - log q(h|x). It is usable only with variance reduction: subtract an
  input-dependent baseline C(x) (the paper's ``C_psi(x)``, trained by squared error to predict
  the centred signal) and a running global baseline c, then divide by max(1, sqrt(v)) with v the
  running variance of l - C(x). For a layered q, each layer's parameters get a *local* signal:
  only the terms of l that depend on that layer's sample (section 3.3).

The same estimator serves fDARN's autoregressive prior and an autoregressive q
(:mod:`.autoregressive`): log p(x, h) and log q(h|x) are then the autoregressive layers'
log-probabilities, each layer's local signal is unchanged (the terms that depend on the layer's
sample given the layers below it), and the baselines still see only x or the layer below.

:func:`nvil_estimate` takes the networks, a minibatch and the running statistics and returns the
reported bound, the surrogate loss whose gradient is the estimator, the baseline regression loss
and the new running statistics. Nothing is hidden in globals. Each variance-reduction component
can be switched off (``VarianceReduction``), which gives plain REINFORCE when all are off.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from docmodel.errors import ModelError
from docmodel.models.sbn.networks import SBN, Baselines, InferenceNetwork


@dataclass(frozen=True)
class VarianceReduction:
    """Which of the paper's variance-reduction components are on (all on by default).

    ``smoothing`` is the paper's alpha = 0.8 for the running mean and variance.
    ``mean_field_term`` adds to the first layer's input-dependent baseline the current model's
    log p(x | h_1 = E_q[h_1]): the word log-likelihood at the mean of q, a deterministic function
    of x (no sample enters it), so the estimate stays unbiased. It follows the learning signal as
    the model changes, which a network trained to chase it cannot; the networks of C(x) then only
    learn what remains. It needs ``input_baseline``.

    ``length_reference`` > 0 weighs each document's signal for the inference network by
    ``length_reference / N_d`` (N_d its number of tokens): q then maximises sum_d L(x_d) / N_d, each
    document's bound per word, which is what the per-document perplexity averages, so short
    documents are not left to the mercy of long ones, whose signals are larger. The weight is a
    function of x, so the estimate stays unbiased for that objective; the model's gradient is
    untouched. 0 (the default) weighs every document's bound alike, as the paper does.

    ``sample_baseline`` (with S >= 2 samples per document) replaces the input-dependent baseline
    by a leave-one-out one: sample s of a document is centred by the mean learning signal of that
    document's other S - 1 samples (per layer), which are independent of sample s, so the
    estimate stays unbiased (the RLOO estimator, Kool et al. 2019; the same objective as NVIL's,
    not a multi-sample bound such as VIMCO's). It tracks each document's current expected signal
    exactly up to sampling noise, where C(x) is a network chasing it; the global baseline and the
    variance normalisation still apply to what remains. ``input_baseline`` and
    ``mean_field_term`` are then unused.
    """

    global_baseline: bool = True
    input_baseline: bool = True
    variance_norm: bool = True
    local_signals: bool = True
    mean_field_term: bool = True
    length_reference: float = 0.0
    smoothing: float = 0.8
    sample_baseline: bool = False

    @property
    def trains_baseline_networks(self) -> bool:
        """Whether C(x) is used and trained (not with plain REINFORCE or the leave-one-out baseline)."""
        return self.input_baseline and not self.sample_baseline

    @classmethod
    def none(cls) -> VarianceReduction:
        """Plain REINFORCE: the raw learning signal."""
        return cls(global_baseline=False, input_baseline=False, variance_norm=False, local_signals=False, mean_field_term=False)


@dataclass(frozen=True)
class RunningStats:
    """Running mean (the paper's ``c``) and variance ``v`` of l - C(x), one entry per layer.

    ``count`` is the number of minibatches seen; before the first, the first minibatch's own
    statistics are used.
    """

    mean: torch.Tensor
    var: torch.Tensor
    count: int = 0

    @classmethod
    def initial(cls, n_layers: int) -> RunningStats:
        return cls(torch.zeros(n_layers, dtype=torch.float64), torch.ones(n_layers, dtype=torch.float64), 0)

    def updated(self, batch_mean: torch.Tensor, batch_var: torch.Tensor, smoothing: float) -> RunningStats:
        if self.count == 0:
            return RunningStats(batch_mean.clone(), batch_var.clone(), 1)
        a = smoothing
        return RunningStats(
            a * self.mean + (1 - a) * batch_mean, a * self.var + (1 - a) * batch_var, self.count + 1
        )

    def to_dict(self) -> dict:
        return {"mean": self.mean.tolist(), "var": self.var.tolist(), "count": self.count}

    @classmethod
    def from_dict(cls, d: dict) -> RunningStats:
        return cls(torch.tensor(d["mean"], dtype=torch.float64), torch.tensor(d["var"], dtype=torch.float64), int(d["count"]))


@dataclass
class NVILResult:
    """Output of one NVIL estimate on a minibatch.

    Attributes
    ----------
    elbo : Tensor, shape (S, B)
        Single-sample bounds log p(x,h_s) - log q(h_s|x) (detached): what is reported.
    surrogate : Tensor, scalar
        Minimise it: its gradient is minus the NVIL estimate of grad L for the model and the
        inference network, averaged over documents and samples.
    baseline_loss : Tensor, scalar
        Squared error of the input-dependent baselines (gradient only reaches the baselines).
    stats : RunningStats
        The running statistics after this minibatch.
    signals : Tensor, shape (L, S, B)
        Raw (local) learning signals, detached, for diagnostics.
    """

    elbo: torch.Tensor
    surrogate: torch.Tensor
    baseline_loss: torch.Tensor
    stats: RunningStats
    signals: torch.Tensor


def joint_terms(model: SBN, x: torch.Tensor, hs: list[torch.Tensor]) -> list[torch.Tensor]:
    """log p(h_{l-1} | h_l) for l = 1..L+1 with h_0 = x and the last term the prior.

    Returns a list of L + 1 tensors of shape (S, B): [log p(x|h_1), log p(h_1|h_2), ..., log p(h_L)].
    """
    return [model.log_p_x_given_h1(x, hs[0])] + model.layer_log_probs(hs)


def learning_signals(log_ps: list[torch.Tensor], log_qs: list[torch.Tensor], local: bool) -> torch.Tensor:
    """Learning signal of each inference layer, shape (L, S, B).

    The full signal is sum(log_ps) - sum(log_qs). Layer i's local signal keeps only the terms
    that depend on h_i given the layers below it: log p(h_{i-1}|h_i) and everything above,
    minus log q(h_j|h_{j-1}) for j >= i. The dropped terms are constant given h_{<i}, so their
    score-function contribution is zero in expectation and dropping them only removes variance.
    """
    L = len(log_qs)
    if not local:
        full = torch.stack(log_ps).sum(0) - torch.stack(log_qs).sum(0)
        return full.expand(L, *full.shape)
    # Suffix sums: p_terms[i] = sum_{j>=i} log_ps[j], q_terms[i] = sum_{j>=i} log_qs[j].
    p_suffix = torch.stack(log_ps).flip(0).cumsum(0).flip(0)  # L+1,S,B
    q_suffix = torch.stack(log_qs).flip(0).cumsum(0).flip(0)  # L,S,B
    return p_suffix[:L] - q_suffix


def mean_field_baseline_term(model: SBN, encoder: InferenceNetwork, x: torch.Tensor) -> torch.Tensor:
    """log p(x | h_1 = m(x)), the first layer's extra baseline term: (B, V) -> (B,).

    m(x) is :meth:`InferenceNetwork.mean_field`: E_q[h_1] for a factorial q; for an
    autoregressive q (whose mean has no closed form) the deterministic mean-field pass
    m_k = sigmoid(f_k(x) + sum_{j<k} A_kj m_j). Either is a function of x alone, so the baseline
    stays independent of the sample and the estimate unbiased.
    """
    with torch.no_grad():
        mean_h1 = encoder.mean_field(x)[None]  # 1,B,K
        return model.log_p_x_given_h1(x, mean_h1)[0]


def nvil_estimate(
    model: SBN,
    encoder: InferenceNetwork,
    baselines: Baselines,
    x: torch.Tensor,
    stats: RunningStats,
    vr: VarianceReduction = VarianceReduction(),
    n_samples: int = 1,
    generator: torch.Generator | None = None,
    encoder_dropout: float = 0.0,
    encoder_dropout_words: bool = False,
    moments_reduction=None,
) -> NVILResult:
    """The NVIL gradient estimator on one minibatch.

    Parameters
    ----------
    x : Tensor, shape (B, V)
        Word counts of the minibatch (dense).
    stats : RunningStats
        Running mean/variance from earlier minibatches. This minibatch is centred and scaled
        with the statistics *before* it is folded in, so the estimate stays unbiased (the
        statistics do not depend on this minibatch's samples).
    n_samples : int
        Samples h ~ q(h|x) per document (S).
    encoder_dropout : float
        Dropout on the inference network's input (one mask per document, shared by its
        samples): a regulariser of q for training. The estimate is then the gradient of the
        bound averaged over masks; with 0 it is exactly the bound's. ``encoder_dropout_words``:
        the mask removes words from the document instead of zeroing features.
    moments_reduction : callable(mean, var) -> (mean, var), optional
        Turns this minibatch's mean and (population) variance of ``l - C(x)`` per layer into
        those the running statistics take in: in a data-parallel job, the global minibatch's
        (:meth:`docmodel.models.sbn.distributed.DataParallel.moments_reduction`). None: this
        minibatch's own.

    Returns
    -------
    NVILResult
    """
    hs, log_qs = encoder.sample(x, n_samples, generator, encoder_dropout, encoder_dropout_words)  # [S,B,K_l], [S,B]
    log_ps = joint_terms(model, x, hs)  # L+1 x [S,B]
    log_p = torch.stack(log_ps).sum(0)  # S,B
    log_q = torch.stack(log_qs).sum(0)  # S,B

    signals = learning_signals(log_ps, log_qs, vr.local_signals).detach()  # L,S,B  (the one detach)

    L = len(log_qs)
    if vr.sample_baseline:
        if n_samples < 2:
            raise ModelError("a leave-one-out baseline (sample_baseline) needs at least 2 samples per document")
        base = (signals.sum(1, keepdim=True) - signals) / (n_samples - 1)  # L,S,B: the other samples' mean
    elif vr.trains_baseline_networks:
        base = torch.stack(baselines(encoder.features(x), x, [h.detach() for h in hs]))  # L,S,B
        if vr.mean_field_term:
            base = torch.cat([base[:1] + mean_field_baseline_term(model, encoder, x), base[1:]])
    else:
        base = torch.zeros_like(signals)
    residual = signals - base.detach()  # L,S,B
    flat = residual.reshape(L, -1).double()
    moments = flat.mean(1), flat.var(1, unbiased=False)
    if moments_reduction is not None:
        moments = moments_reduction(*moments)
    new_stats = stats.updated(*moments, vr.smoothing)
    use = stats if stats.count > 0 else new_stats
    c = use.mean.to(x)[:, None, None] if vr.global_baseline else torch.zeros(L, 1, 1, dtype=x.dtype, device=x.device)
    scale = use.var.clamp(min=1.0).sqrt().to(x)[:, None, None] if vr.variance_norm else 1.0
    advantage = (residual - c) / scale  # L,S,B
    if vr.length_reference > 0:
        advantage = advantage * (vr.length_reference / x.sum(1).clamp(min=1.0))

    score_term = (advantage * torch.stack(log_qs)).sum(0)  # S,B
    surrogate = -(log_p + score_term).mean()
    if vr.trains_baseline_networks:
        baseline_loss = ((signals - c - base) ** 2).mean()
    else:
        baseline_loss = torch.zeros((), dtype=x.dtype, device=x.device)
    return NVILResult(
        elbo=(log_p - log_q).detach(),
        surrogate=surrogate,
        baseline_loss=baseline_loss,
        stats=new_stats,
        signals=signals,
    )
