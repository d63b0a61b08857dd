"""Mean-field updates inside the inference network: q(h | x) that reads the word layer.

For a one-layer SBN with a factorial prior the exact posterior depends on a document only
through its counts x (via s = U^T x and its length N = sum_w x_w):

    log p(h | x) = const + sum_k h_k (a_k + s_k) - N lse(b + U h),

lse the log-sum-exp over the vocabulary. A factorial q with means mu is a stationary point of
the bound when, for every unit k,

    logit(mu_k) = a_k + s_k - N (E_q[lse(b + U h) | h_k = 1] - E_q[lse(b + U h) | h_k = 0]).

With ``steps`` = T > 0 the inference network's logits l_0 = f(x) (its linear or hidden-layer
map) are followed by T damped updates towards the right-hand side,

    l_{t+1} = (1 - damping) l_t + damping (a + s - N d(l_t)),

where d_k approximates the bracket at the mean z = b + U mu, mu = sigmoid(l_t), by the
second-order cumulant expansion of lse(z + c U_k) - lse(z) in c, between c = 1 - mu_k and
c = -mu_k:

    d_k = E_pi[U_k] + (1/2 - mu_k) Var_pi[U_k],      pi = softmax(z),

two products of pi with U and U * U per update. The result is still a factorial q(h | x) computed
by a fixed pass from x (a few products per document and update, no sampling, nothing fitted per
document): sampling, log q, the bound and every estimate are unchanged. The updates read the
model's current (a, b, U) as inputs, without gradient. :class:`SBNTopicModel
<docmodel.models.sbn.estimator.SBNTopicModel>` trains the network f by NVIL as usual and adds the
updates to the fitted q (``mean_field_steps``); training through them validated worse (README).

Flipping a unit (h_k <-> 1 - h_k: U_k -> -U_k, b -> b + U_k, a_k -> -a_k and l_0k -> -l_0k)
leaves pi unchanged and negates s_k and d_k, so it negates the unit's logit after every update:
the orientation of units (:mod:`.orientation`) keeps the same q.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

DAMPING = 0.5
"""Step of each update towards its target. Chosen on 1,000 validation documents with five
updates added to a 15-minute model's q (README, "Mean-field updates in q"): bound 768.8, 762.6, 762.6,
764.8 and 807.9 for 0.1, 0.3, 0.5, 0.7 and 1 (789.4 without updates); a full step oscillates."""


def mean_field_logits(base: torch.Tensor, x: torch.Tensor, model, steps: int, damping: float | None = None) -> torch.Tensor:
    """The logits after ``steps`` damped mean-field updates from ``base``.

    Parameters
    ----------
    base : Tensor, shape (B, K)
        l_0, the inference network's logits of documents ``x``.
    x : Tensor, shape (B, V)
        Word counts.
    model : docmodel.models.sbn.networks.SBN
        A one-layer SBN with a factorial prior; its parameters are read without gradient.
    steps : int
    damping : float, optional
        The step of each update towards its target (default: :data:`DAMPING`, read at the call).

    Returns
    -------
    Tensor, shape (B, K)
    """
    if steps == 0:
        return base
    damping = DAMPING if damping is None else damping
    U = model.visible.weight.detach()  # V,K
    b = model.visible.bias.detach()
    a = model.prior_logits.detach()
    U2 = U * U
    evidence = a + x @ U  # B,K
    n = x.sum(-1, keepdim=True)  # B,1
    logits = base
    for _ in range(steps):
        mu = torch.sigmoid(logits)
        pi = torch.softmax(F.linear(mu, U, b), dim=-1)  # B,V
        m1 = pi @ U
        var = pi @ U2 - m1 * m1
        target = evidence - n * (m1 + (0.5 - mu) * var)
        logits = torch.lerp(logits, target, damping)
    return logits
