"""Training an SBN through the concrete (Gumbel-sigmoid) relaxation of its binary units.

Maddison, Mnih & Teh, "The Concrete Distribution" (ICLR 2017); Jang, Gu & Poole, "Categorical
Reparameterization with Gumbel-Softmax" (ICLR 2017). A binary unit with logit ``a`` is replaced
by the relaxed value

    z = sigmoid((a + L) / temperature),    L = log u - log(1 - u),  u ~ U(0, 1)

(L is standard logistic noise). Rounding z gives the binary unit exactly, P(z > 1/2) =
sigmoid(a), and as the temperature goes to 0, z goes to that 0/1 value. Every relaxed unit is a
differentiable function of the parameters and the noise, so the gradient of an expectation over
z is estimated by differentiating the integrand at sampled noise (the reparameterisation trick):
no score function, no baselines.

The objective, per document (``temperature`` written t):

    R_t(x) = E_L[ log p(x | z_1) ] + D(x)

- ``log p(x | z_1) = sum_w x_w log softmax(U z_1 + b_v)_w``: the word layer at the relaxed first
  layer (each z_1 drawn from q's logits, layer by layer and, for an autoregressive q, unit by
  unit, every logit conditioned on the relaxed values before it);
- D(x), the latent layers' part of the discrete bound, -KL(q(h|x) || p(h)):
  in closed form where it has one (one layer, factorial q, factorial prior:
  sum_k [s_k (a_k - f_k) + softplus(f_k) - softplus(a_k)] with s_k = sigmoid(f_k), f q's logits
  and a the prior's); otherwise the relaxed values plugged into the Bernoulli log-masses,
  E_L[ sum_l log p(z_l | z_{l+1}) - log q(z_l | z_{l-1}, x) ] with log Bernoulli(h | a) =
  h a - softplus(a) read at h = z (the autoregressive prior's and q's logits likewise at the
  relaxed values of the units before).

Why this objective and not the relaxed densities' bound (Maddison et al.'s
E[log p~(x, y) - log q~(y | x)] over concrete densities): evaluation scores the *discrete* SBN
(its bound, importance-sampled and completion estimates), and R_t tends to exactly that
discrete bound as t -> 0, the word term because z_1 tends to the binary sample of q and the
latent term because it is the discrete one (exactly, or as the limit of the plug-in). The
concrete densities' bound is that of another, continuous model: with one temperature for q and
the prior, its latent KL is the KL between two logistic densities in logit space, which does not
depend on t and grows without bound as q grows confident, where the Bernoulli KL stays bounded,
so it would train the units for a criterion the evaluation never measures. The price of R_t is
that, at t > 0, it is a smoothed surrogate of the discrete bound, not a bound itself; the
estimate below is unbiased for R_t (the tests check it against R_t computed by quadrature).

Only the training gradient changes: the networks, their parameters and every estimate of log
p(x) are the discrete SBN's.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from docmodel.models.sbn import autoregressive as ar
from docmodel.models.sbn.networks import SBN, InferenceNetwork, bernoulli_log_prob, uniform_noise


@dataclass
class RelaxedResult:
    """Output of one relaxed estimate on a minibatch.

    Attributes
    ----------
    elbo : Tensor, shape (S, B)
        Single-sample values of the relaxed objective R_t (detached), for reporting (the
        training loop's ``train_elbo``; the validation bound is the discrete one).
    surrogate : Tensor, scalar
        Minus R_t averaged over samples and documents: minimise it.
    baseline_loss : Tensor, scalar
        0: the reparameterisation gradient uses no baselines.
    """

    elbo: torch.Tensor
    surrogate: torch.Tensor
    baseline_loss: torch.Tensor


def logistic_noise(shape, dtype, device, generator) -> torch.Tensor:
    """Standard logistic noise log u - log(1 - u) from U(0, 1) noise (``generator`` as in
    :func:`docmodel.models.sbn.networks.uniform_noise`); u = 0 is moved to the smallest positive
    float, so the noise is finite."""
    u = uniform_noise(shape, dtype, device, generator).clamp(min=torch.finfo(dtype).tiny)
    return torch.log(u) - torch.log1p(-u)


def relax(logits: torch.Tensor, noise: torch.Tensor, temperature: float) -> torch.Tensor:
    """z = sigmoid((a + L) / t), the relaxed units for logits ``a`` and logistic noise ``L``."""
    return torch.sigmoid((logits + noise) / temperature)


def _relaxed_layer(base, weight, noise, temperature):
    """A layer's relaxed values, unit by unit when ``weight`` (autoregressive couplings) is
    given, and its logits at them (each unit's given the relaxed units before it)."""
    if weight is None:
        return relax(base, noise, temperature), base
    w = ar.masked(weight)
    cols: list[torch.Tensor] = []
    for k in range(base.shape[-1]):
        logit = base[..., k]
        if cols:
            logit = logit + torch.stack(cols, -1) @ w[k, :k]
        cols.append(relax(logit, noise[..., k], temperature))
    z = torch.stack(cols, -1)
    return z, ar.logits_given(base, weight, z)


def relaxed_posterior(
    encoder: InferenceNetwork, x: torch.Tensor, n_samples: int, temperature: float, generator=None,
    encoder_dropout: float = 0.0, encoder_dropout_words: bool = False,
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Relaxed samples of q's layers, differentiable in q's parameters.

    Returns
    -------
    zs : list of Tensor, shapes (S, B, K_l), nearest the words first
    logits : list of Tensor, shapes (S, B, K_l)
        q's logits of each layer at the relaxed values (of the layer below, and of the units
        before in an autoregressive layer).
    """
    base = encoder.first_logits(x, encoder_dropout, generator, encoder_dropout_words).expand(n_samples, -1, -1)  # S,B,K1
    zs, logits = [], []
    for i in range(len(encoder.upper) + 1):
        if i > 0:
            base = encoder.upper[i - 1](zs[-1])
        noise = logistic_noise(base.shape, base.dtype, base.device, generator)
        weight = encoder.ar_weights[i] if encoder.autoregressive else None
        z, a = _relaxed_layer(base, weight, noise, temperature)
        zs.append(z)
        logits.append(a)
    return zs, logits


def closed_form_latent_term(model: SBN, encoder: InferenceNetwork) -> bool:
    """True when -KL(q(h|x) || p(h)) of the discrete latent layers has a closed form here: one
    layer, factorial q and factorial prior."""
    return len(model.config.layers) == 1 and model.config.prior == "factorial" and not encoder.autoregressive


def latent_term(model: SBN, q_logits: list[torch.Tensor], zs: list[torch.Tensor], closed_form: bool) -> torch.Tensor:
    """D(x) of the module docstring, shape (S, B): the exact -KL(q || p) of one factorial layer
    under a factorial prior, or the Bernoulli log-masses at the relaxed values."""
    if closed_form:
        f, a = q_logits[0], model.prior_logits
        # -KL(Bern(s) || Bern(sigmoid(a))) = s (a - f) + softplus(f) - softplus(a), s = sigmoid(f).
        return (torch.sigmoid(f) * (a - f) + F.softplus(f) - F.softplus(a)).sum(-1)
    log_p = torch.stack(model.layer_log_probs(zs)).sum(0)
    log_q = torch.stack([bernoulli_log_prob(a, z) for a, z in zip(q_logits, zs)]).sum(0)
    return log_p - log_q


def relaxed_estimate(
    model: SBN,
    encoder: InferenceNetwork,
    x: torch.Tensor,
    temperature: float,
    n_samples: int = 1,
    generator=None,
    encoder_dropout: float = 0.0,
    encoder_dropout_words: bool = False,
) -> RelaxedResult:
    """The reparameterised gradient estimate of R_t on one minibatch.

    Parameters
    ----------
    x : Tensor, shape (B, V)
        Word counts of the minibatch (dense).
    temperature : float
        t > 0 of the relaxation.
    n_samples : int
        Relaxed samples per document (S).
    generator : torch.Generator, noise callable or None
        The source of the U(0, 1) noise (see :func:`docmodel.models.sbn.networks.uniform_noise`).
    encoder_dropout, encoder_dropout_words
        Dropout on the inference network's input, as in
        :func:`docmodel.models.sbn.nvil.nvil_estimate`.

    Returns
    -------
    RelaxedResult
    """
    zs, q_logits = relaxed_posterior(encoder, x, n_samples, temperature, generator, encoder_dropout, encoder_dropout_words)
    words = model.log_p_x_given_h1(x, zs[0])  # S,B
    objective = words + latent_term(model, q_logits, zs, closed_form_latent_term(model, encoder))
    return RelaxedResult(
        elbo=objective.detach(),
        surrogate=-objective.mean(),
        baseline_loss=torch.zeros((), dtype=x.dtype, device=x.device),
    )
