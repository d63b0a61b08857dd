"""Wake-sleep training of the same SBN (Hinton et al. 1995), the paper's comparison.

Wake phase: sample h ~ q(h|x) for real documents and follow grad log p(x,h) for the model
(the same model gradient as NVIL). Sleep phase: dream (h, x) from the model and train the
inference network to recognise them, maximising log q(h|x_dream). Dreamed documents need a
length; it is drawn from the training corpus's document lengths, so dreams look like the data.
With fDARN's autoregressive prior the dreams' latent states are drawn unit by unit; an
autoregressive q is scored on them in one pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from docmodel.models.sbn.networks import SBN, Baselines, InferenceNetwork
from docmodel.models.sbn.nvil import (
    NVILResult,
    RunningStats,
    VarianceReduction,
    joint_terms,
    nvil_estimate,
)


@dataclass
class WakeSleepResult:
    """Output of one wake-sleep step.

    Attributes
    ----------
    elbo : Tensor, shape (S, B)
        Single-sample bounds on the real minibatch (detached), for reporting.
    model_loss : Tensor, scalar
        Minus the wake-phase log p(x, h); its gradient reaches the model only.
    encoder_loss : Tensor, scalar
        Minus the sleep-phase log q(h_dream | x_dream); its gradient reaches q only.
    """

    elbo: torch.Tensor
    model_loss: torch.Tensor
    encoder_loss: torch.Tensor


def dream(
    model: SBN, n_docs: int, lengths: torch.Tensor, generator: torch.Generator | None = None
) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Sample documents from the model.

    Parameters
    ----------
    n_docs : int
    lengths : Tensor of int, shape (n_lengths,)
        Document lengths to draw from (the training corpus's).

    Returns
    -------
    hs : list of Tensor, shapes (n_docs, K_l)
    x : Tensor, shape (n_docs, V)
        Dreamed word counts.
    """
    with torch.no_grad():
        hs = model.sample(n_docs, generator)
        probs = torch.softmax(model.visible(hs[0]), dim=-1)  # N,V
        if not bool(torch.isfinite(probs).all()):
            # A model with non-finite weights cannot be sampled. A NaN dream makes the step's
            # loss non-finite, so the training loop rolls back instead of crashing here.
            return hs, torch.full_like(probs, float("nan"))
        device = probs.device
        pick = torch.randint(len(lengths), (n_docs,), generator=generator, device=device)
        doc_len = lengths.to(device)[pick].clamp(min=1)
        max_len = int(doc_len.max())
        tokens = torch.multinomial(probs, max_len, replacement=True, generator=generator)  # N,maxL
        keep = torch.arange(max_len, device=device)[None, :] < doc_len[:, None]
        x = torch.zeros_like(probs)
        x.scatter_add_(1, tokens, keep.to(probs.dtype))
    return hs, x


def wake_sleep_step(
    model: SBN,
    encoder: InferenceNetwork,
    x: torch.Tensor,
    lengths: torch.Tensor,
    n_samples: int = 1,
    generator: torch.Generator | None = None,
) -> WakeSleepResult:
    """Losses of one wake-sleep step on a minibatch ``x`` of shape (B, V)."""
    hs, log_qs = encoder.sample(x, n_samples, generator)
    log_p = torch.stack(joint_terms(model, x, hs)).sum(0)  # S,B
    log_q = torch.stack(log_qs).sum(0)
    dream_hs, dream_x = dream(model, x.shape[0], lengths, generator)
    # log q(h_dream | x_dream), layer by layer, with the dreamed layers as the targets.
    terms = encoder.log_prob(dream_x, dream_hs)
    log_q_dream = terms[0]
    for term in terms[1:]:
        log_q_dream = log_q_dream + term
    return WakeSleepResult(
        elbo=(log_p - log_q).detach(),
        model_loss=-log_p.mean(),
        encoder_loss=-log_q_dream.mean(),
    )


def nvil_on_dreams(
    model: SBN,
    encoder: InferenceNetwork,
    baselines: Baselines,
    n_docs: int,
    lengths: torch.Tensor,
    stats: RunningStats,
    vr: VarianceReduction,
    n_samples: int = 1,
    generator: torch.Generator | None = None,
    encoder_dropout: float = 0.0,
    encoder_dropout_words: bool = False,
) -> NVILResult:
    """The NVIL estimate on ``n_docs`` documents dreamed from the model, for q and the baselines.

    The inference network is only a means of computing the bound: training it on more documents
    than the corpus holds is legitimate, and dreamed documents are an unlimited supply of them.
    The objective on them is the same bound and the estimator NVIL's; the model's parameters are
    held fixed, so its gradient is still that of the bound on the real documents alone. The
    returned ``stats`` are not meant to be kept: dreams are centred and scaled with the real
    documents' statistics.
    """
    _, x = dream(model, n_docs, lengths, generator)
    frozen = [p for p in model.parameters() if p.requires_grad]
    for p in frozen:
        p.requires_grad_(False)
    try:
        return nvil_estimate(model, encoder, baselines, x, stats, vr, n_samples, generator, encoder_dropout, encoder_dropout_words)
    finally:
        for p in frozen:
            p.requires_grad_(True)
