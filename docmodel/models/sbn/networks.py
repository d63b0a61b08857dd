"""Sigmoid belief network document model and its inference network (``nn.Module`` s only).

The generative model follows Mnih & Gregor (2014), section 6.2: binary latent layers
h_L -> ... -> h_1, a factorial Bernoulli prior on the top layer with learned logits, each lower
layer Bernoulli given the one above (sigmoid(W h + b)), and every word token of a document drawn
from softmax(U h_1 + b_v) over the vocabulary, so that

    log p(x | h_1) = sum_w x_w log softmax(U h_1 + b_v)_w

(no multinomial coefficient, as ``EVALUATION.md`` requires). Layers are listed from the one
nearest the words (h_1) to the top. The inference network q(h|x) is layered the same way:
q(h_1|x) from the word counts, then q(h_{l+1}|h_l). The input-dependent baselines (the paper's
``C_psi(x)``) live here too, one per inference layer.

Two options make a layer autoregressive (:mod:`.autoregressive`): ``prior="autoregressive"`` gives
the top layer fDARN's prior p(h) = prod_k sigmoid(a_k + sum_{j<k} W_kj h_j) (Gregor et al. 2014;
with one layer the model is the paper's fDARN), and ``inference="autoregressive"`` gives every
layer of q the same form, q(h_l | h_{l-1}) = prod_k sigmoid(f_k(h_{l-1}) + sum_{j<k} A_kj h_lj)
with h_0 = x (the paper's Table 2).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from docmodel.errors import ModelError
from docmodel.models.likelihood import word_log_likelihood
from docmodel.models.sbn import autoregressive as ar
from docmodel.models.sbn import mean_field_applies
from docmodel.models.sbn.mean_field import mean_field_logits

LAYER_FORMS = ("factorial", "autoregressive")


@dataclass(frozen=True)
class SBNConfig:
    """Architecture of an SBN document model.

    Parameters
    ----------
    n_words : int
        Vocabulary size V.
    layers : tuple of int
        Units per latent layer, nearest the words first: ``(50,)`` is the paper's SBN-50,
        ``(200, 200)`` a two-layer network.
    encoder_hidden : int
        0 for a linear q(h_1|x) (the default); otherwise one tanh hidden layer of this size.
    baseline_hidden : int
        Hidden tanh units of each input-dependent baseline MLP (the paper uses 100).
    prior_logit : float or None
        None: the top layer's prior logits are learned (the paper's SBN). A number fixes every
        unit's prior logit at it, e.g. -2 for units on in about 12% of documents a priori: a
        sparse prior, so that a document is explained by a few units. With the autoregressive
        prior it fixes the logits a_k (unit k's logit when the units before it are off); the
        couplings W stay learned.
    nonnegative : bool
        Constrain the unit-word weights U to be >= 0 (a unit can only add words), kept by
        projection after every optimiser step.
    fixed_background : bool
        Keep the word bias b_v at the log unigram frequencies of the training words (SAGE's
        background term, Eisenstein, Ahmed & Xing 2011): the units then model only deviations
        from the corpus' word frequencies.
    prior : {"factorial", "autoregressive"}
        The top layer's prior: independent units (the paper's SBN) or fDARN's autoregressive
        prior, whose couplings W (strictly lower-triangular, the attribute ``prior_weight``)
        start at 0.
    inference : {"factorial", "autoregressive"}
        q factorial within each layer, or autoregressive within each layer (couplings A, the
        attribute ``ar_weights`` of the inference network, one matrix per layer, started at 0).
    mean_field_steps : int
        0 (this class's default): q's logits are the network's f(x). T > 0: f(x) followed by T
        damped mean-field updates that read the model's word layer (:mod:`.mean_field`); a
        one-layer model with a factorial prior and a factorial q only. (The estimator's default,
        ``"auto"``, resolves to 5 for those models.) The inference network's attribute
        of the same name switches them (the estimator sets it to 0 while NVIL trains f).
    """

    n_words: int
    layers: tuple[int, ...] = (50,)
    encoder_hidden: int = 0
    baseline_hidden: int = 100
    prior_logit: float | None = None
    nonnegative: bool = False
    fixed_background: bool = False
    prior: str = "factorial"
    inference: str = "factorial"
    mean_field_steps: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(int(k) for k in self.layers))
        if self.n_words < 1:
            raise ModelError(f"n_words must be at least 1, got {self.n_words}")
        if not self.layers or any(k < 1 for k in self.layers):
            raise ModelError(f"layers must be one or more positive unit counts, got {self.layers}")
        if self.encoder_hidden < 0 or self.baseline_hidden < 0:
            raise ModelError("encoder_hidden and baseline_hidden must be >= 0")
        if self.prior_logit is not None and not -20 <= float(self.prior_logit) <= 20:
            raise ModelError(f"prior_logit must be None (learned) or a number in [-20, 20], got {self.prior_logit}")
        for name in ("prior", "inference"):
            if getattr(self, name) not in LAYER_FORMS:
                raise ModelError(f"{name} must be one of {', '.join(LAYER_FORMS)}; got {getattr(self, name)!r}")
        object.__setattr__(self, "mean_field_steps", int(self.mean_field_steps))
        if not 0 <= self.mean_field_steps <= 50:
            raise ModelError(f"mean_field_steps must be in [0, 50], got {self.mean_field_steps}")
        if self.mean_field_steps and not mean_field_applies(self.layers, self.prior, self.inference):
            raise ModelError(
                "mean_field_steps needs a one-layer model with a factorial prior and a factorial q "
                f"(got layers {self.layers}, prior {self.prior!r}, inference {self.inference!r}); "
                "give one layer and the factorial forms, or mean_field_steps=0"
            )

    def to_dict(self) -> dict:
        d = asdict(self)
        d["layers"] = list(self.layers)
        return d


def bernoulli_log_prob(logits: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """log Bernoulli(h | sigmoid(logits)) summed over the last axis: (..., K) -> (...)."""
    # h * log s(a) + (1 - h) * log s(-a) = h * a - softplus(a), stable for large |a|.
    return (h * logits - F.softplus(logits)).sum(-1)


def sample_bernoulli(logits: torch.Tensor, generator) -> torch.Tensor:
    """h ~ Bernoulli(sigmoid(logits)), as 0/1 in the logits' dtype.

    ``generator`` is a ``torch.Generator`` (or None), or a callable ``(shape, dtype, device) ->
    uniforms`` that supplies the noise itself: data-parallel training passes one that draws the
    noise of the whole global minibatch and keeps this worker's slice, so that every worker
    samples exactly what a single process would (:mod:`docmodel.models.sbn.distributed`).
    """
    u = uniform_noise(logits.shape, logits.dtype, logits.device, generator)
    return (u < torch.sigmoid(logits)).to(logits.dtype)


def uniform_noise(shape, dtype, device, generator) -> torch.Tensor:
    """U(0, 1) noise from a ``torch.Generator`` (or None) or a noise callable (see above)."""
    if callable(generator):
        return generator(shape, dtype, device)
    return torch.rand(shape, generator=generator, dtype=dtype, device=device)


class SBN(nn.Module):
    """The generative model p(x, h) = p(x|h_1) prod_l p(h_l|h_{l+1}) p(h_L).

    Attributes
    ----------
    prior_logits : Parameter, shape (K_L,)
        a (the paper's prior biases).
    prior_weight : Parameter, shape (K_L, K_L)
        Only with ``prior="autoregressive"``: W, read through its strictly lower triangle.
    hidden : ModuleList of Linear(K_{l+1}, K_l), for l = 1..L-1 (index 0 maps h_2 to h_1)
    visible : Linear(K_1, V); its weight is the paper's ``U`` (``unit_word`` is its transpose)
    """

    def __init__(self, config: SBNConfig):
        super().__init__()
        self.config = config
        ks = config.layers
        self.prior_logits = nn.Parameter(torch.zeros(ks[-1]))
        if config.prior_logit is not None:
            with torch.no_grad():
                self.prior_logits.fill_(float(config.prior_logit))
            self.prior_logits.requires_grad_(False)
        if config.prior == "autoregressive":
            # Zero couplings: a new fDARN starts from the factorial prior (and draws no noise).
            self.prior_weight = nn.Parameter(torch.zeros(ks[-1], ks[-1]))
        self.hidden = nn.ModuleList(nn.Linear(ks[i + 1], ks[i]) for i in range(len(ks) - 1))
        self.visible = nn.Linear(ks[0], config.n_words)
        nn.init.normal_(self.visible.weight, std=0.01)
        if config.nonnegative:
            with torch.no_grad():
                self.visible.weight.abs_()
        nn.init.zeros_(self.visible.bias)
        if config.fixed_background:
            self.visible.bias.requires_grad_(False)
        for lin in self.hidden:
            nn.init.normal_(lin.weight, std=0.01)
            nn.init.zeros_(lin.bias)

    def init_word_bias(self, word_counts: torch.Tensor) -> None:
        """Start b_v at the log unigram frequencies, so an untrained model already predicts
        word frequencies and early signals are not dominated by them."""
        p = (word_counts.double() + 0.5) / (word_counts.double().sum() + 0.5 * len(word_counts))
        with torch.no_grad():
            self.visible.bias.copy_(p.log().to(self.visible.bias.dtype))

    @torch.no_grad()
    def project(self) -> None:
        """Put the weights back into their constraints after an optimiser step."""
        if self.config.nonnegative:
            self.visible.weight.clamp_(min=0.0)

    def word_log_probs(self, h1: torch.Tensor) -> torch.Tensor:
        """log softmax(U h_1 + b_v): (..., K_1) -> (..., V)."""
        return F.log_softmax(self.visible(h1), dim=-1)

    def log_p_x_given_h1(self, x: torch.Tensor, h1: torch.Tensor) -> torch.Tensor:
        """sum_w x_w log softmax(U h_1 + b_v)_w.

        Parameters
        ----------
        x : Tensor, shape (B, V)
            Word counts.
        h1 : Tensor, shape (S, B, K_1)

        Returns
        -------
        Tensor, shape (S, B)
        """
        return word_log_likelihood(x, h1, self.visible.weight, self.visible.bias)

    def prior_logits_given(self, h_top: torch.Tensor) -> torch.Tensor:
        """Logits of the top layer's prior at the states ``h_top`` (..., K_L), each unit given
        the units before it: a_k, plus sum_{j<k} W_kj h_j for the autoregressive prior (one
        pass; ``h_top`` may be relaxed values in [0, 1])."""
        if self.config.prior == "autoregressive":
            return ar.logits_given(self.prior_logits, self.prior_weight, h_top)
        return self.prior_logits.expand_as(h_top)

    def layer_log_probs(self, hs: list[torch.Tensor]) -> list[torch.Tensor]:
        """log p(h_l | h_{l+1}) for l = 1..L (the last is the prior), each of shape (S, B)."""
        out = []
        for i, lin in enumerate(self.hidden):
            out.append(bernoulli_log_prob(lin(hs[i + 1]), hs[i]))
        out.append(bernoulli_log_prob(self.prior_logits_given(hs[-1]), hs[-1]))
        return out

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> list[torch.Tensor]:
        """Ancestral sample of the latent layers, nearest the words first: list of (n, K_l).
        The autoregressive prior is sampled unit by unit (K_L steps)."""
        base = self.prior_logits.expand(n, -1)
        if self.config.prior == "autoregressive":
            h = ar.sample(base, self.prior_weight, uniform_noise(base.shape, base.dtype, base.device, generator))
        else:
            h = sample_bernoulli(base, generator)
        hs = [h]
        for lin in reversed(self.hidden):
            h = sample_bernoulli(lin(h), generator)
            hs.append(h)
        return hs[::-1]


class InferenceNetwork(nn.Module):
    """q(h|x) = q(h_1|x) prod_l q(h_{l+1}|h_l), factorial within each layer, or with
    ``inference="autoregressive"`` autoregressive within each layer: the logits of layer l's unit
    k are f_k(h_{l-1}) + sum_{j<k} A_kj h_lj, f the factorial network's logits (h_0 = x) and A the
    layer's strictly lower-triangular couplings (``ar_weights[l - 1]``).

    The input transform is log(1 + x) minus its mean over the training documents
    (``input_mean``): the paper asks for mean-centred input, and the log tames long documents.

    With ``mean_field_steps`` > 0 the first layer's logits f(x) are followed by that many
    mean-field updates that read the model's word layer (:mod:`.mean_field`): every method that
    computes them then takes the model (``model=``).
    """

    def __init__(self, config: SBNConfig):
        super().__init__()
        ks = config.layers
        self.register_buffer("input_mean", torch.zeros(config.n_words))
        if config.encoder_hidden:
            self.first = nn.Sequential(
                nn.Linear(config.n_words, config.encoder_hidden),
                nn.Tanh(),
                nn.Linear(config.encoder_hidden, ks[0]),
            )
        else:
            self.first = nn.Linear(config.n_words, ks[0])
        self.upper = nn.ModuleList(nn.Linear(ks[i], ks[i + 1]) for i in range(len(ks) - 1))
        self.autoregressive = config.inference == "autoregressive"
        self.mean_field_steps = config.mean_field_steps
        if self.autoregressive:
            # Zero couplings: a new autoregressive q starts as the factorial one.
            self.ar_weights = nn.ParameterList(nn.Parameter(torch.zeros(k, k)) for k in ks)
        self._features_memo = None

    @property
    def first_output(self) -> nn.Linear:
        """The linear map that gives the first layer's logits f(x): ``first`` itself, or the last
        layer of ``first`` when q has a hidden layer."""
        return self.first if isinstance(self.first, nn.Linear) else self.first[-1]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Mean-centred log(1 + x): (B, V) -> (B, V).

        A training step asks for the features of the same minibatch twice (for q and for the
        baseline), and the log is the dearest elementwise pass of the step; the last result is
        kept, keyed by the tensor and the version counters of it and of ``input_mean`` (which
        change on any in-place write), so the second request is free. Only while gradients are
        enabled (training), so evaluation batches are not held on to.
        """
        key = (x, self.input_mean, x._version, self.input_mean._version)
        memo = self._features_memo
        hit = memo is not None and memo[0][0] is x and memo[0][1] is self.input_mean and memo[0][2:] == key[2:]
        if hit and not x.requires_grad:
            return memo[1]
        f = torch.log1p(x) - self.input_mean
        self._features_memo = (key, f) if torch.is_grad_enabled() and not x.requires_grad else None
        return f

    def first_logits(
        self, x: torch.Tensor, encoder_dropout: float = 0.0, generator=None, encoder_dropout_words: bool = False,
        model: SBN | None = None,
    ) -> torch.Tensor:
        """Logits of q(h_1 = 1 | x): (B, V) -> (B, K_1).

        ``encoder_dropout`` > 0 (training only) draws a mask from ``generator`` with this
        probability per document and word. By default the masked centred features are zeroed and
        the rest rescaled; with ``encoder_dropout_words`` the masked words are removed from the document instead (their
        count set to 0, so the feature is -input_mean; nothing rescaled): q learns to recognise a
        document from part of its words. The mean-field updates, if any, read the whole document
        and ``model`` (required then).
        """
        f = self.features(x)
        if encoder_dropout > 0:
            keep = uniform_noise(f.shape, f.dtype, f.device, generator) >= encoder_dropout
            f = torch.where(keep, f, -self.input_mean) if encoder_dropout_words else f * keep / (1.0 - encoder_dropout)
        if not self.mean_field_steps:
            return self.first(f)
        if model is None:
            raise ModelError("this inference network's mean-field updates read the model: pass model=")
        return mean_field_logits(self.first(f), x, model, self.mean_field_steps)

    def logits_given(self, layer: int, base: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """The logits of layer ``layer`` (0 = nearest the words) at its states ``h`` (..., K),
        from ``base`` (f, the logits without the autoregressive part): ``base`` itself for a
        factorial q, one pass of :func:`docmodel.models.sbn.autoregressive.logits_given` else."""
        return ar.logits_given(base, self.ar_weights[layer], h) if self.autoregressive else base

    def mean_field(self, x: torch.Tensor, model: SBN | None = None) -> torch.Tensor:
        """E_q[h_1] for a factorial q, sigmoid(f(x)); for an autoregressive q, which has no
        closed form for it, the deterministic mean-field pass m_k = sigmoid(f_k(x) + sum_{j<k}
        A_kj m_j) (:func:`docmodel.models.sbn.autoregressive.mean_field_pass`): (B, V) -> (B, K_1)."""
        base = self.first_logits(x, model=model)
        return ar.mean_field_pass(base, self.ar_weights[0]) if self.autoregressive else torch.sigmoid(base)

    def log_prob(self, x: torch.Tensor, hs: list[torch.Tensor], model: SBN | None = None) -> list[torch.Tensor]:
        """log q(h_l | h_{l-1}) per layer at the states ``hs`` (shapes (..., B, K_l), nearest the
        words first) of documents ``x`` (B, V), each layer in one pass: list of (..., B)."""
        out = []
        for i, h in enumerate(hs):
            base = self.first_logits(x, model=model) if i == 0 else self.upper[i - 1](hs[i - 1])
            out.append(bernoulli_log_prob(self.logits_given(i, base, h), h))
        return out

    def sample(
        self, x: torch.Tensor, n_samples: int = 1, generator: torch.Generator | None = None,
        encoder_dropout: float = 0.0, encoder_dropout_words: bool = False,
        offsets: list[torch.Tensor] | None = None, model: SBN | None = None, first: torch.Tensor | None = None,
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Draw h ~ q(h|x) (with ``encoder_dropout`` on the input: see :meth:`first_logits`).

        ``offsets`` (one (B, K_l) tensor per layer) are added to each layer's logits without its
        autoregressive part: a per-document correction of q (:mod:`docmodel.models.sbn.refine`).
        ``model``: the SBN, for q's mean-field updates (needed only with them). ``first``: the
        first layer's logits :meth:`first_logits` of ``x`` (no dropout), when the caller has them
        already (a refinement's steps share them).

        Returns
        -------
        hs : list of Tensor, shapes (S, B, K_l), nearest the words first
        log_qs : list of Tensor, shapes (S, B): log q(h_l | h_{l-1}) per layer

        An autoregressive layer is drawn unit by unit and then scored in one pass, so that
        ``log_qs`` is differentiable in f and A.
        """
        if first is None:
            first = self.first_logits(x, encoder_dropout, generator, encoder_dropout_words, model)
        logits = first  # B,K1
        if offsets is not None:
            logits = logits + offsets[0]
        logits = logits.expand(n_samples, -1, -1)  # S,B,K1
        hs, log_qs = [], []
        for i in range(len(self.upper) + 1):
            if i > 0:
                logits = self.upper[i - 1](hs[-1])
                if offsets is not None:
                    logits = logits + offsets[i]
            if self.autoregressive:
                u = uniform_noise(logits.shape, logits.dtype, logits.device, generator)
                h = ar.sample(logits, self.ar_weights[i], u)
                logits = ar.logits_given(logits, self.ar_weights[i], h)
            else:
                h = sample_bernoulli(logits, generator)
            hs.append(h)
            log_qs.append(bernoulli_log_prob(logits, h))
        return hs, log_qs


class Baselines(nn.Module):
    """Input-dependent baselines, one per inference layer (the paper's ``C_psi``).

    Layer 1's baseline sees the word counts; it is a tanh MLP on the centred input plus a linear
    term in the raw counts. The learning signal grows with document length (every token adds a
    log-probability), which a small bounded MLP cannot follow; the linear term, started at the log
    unigram frequencies, tracks that growth from the first step. Upper layers' baselines see the
    layer below.
    """

    def __init__(self, config: SBNConfig):
        super().__init__()
        ks = config.layers
        hid = config.baseline_hidden
        inputs = [config.n_words] + list(ks[:-1])

        def mlp(n_in: int) -> nn.Module:
            if hid == 0:
                return nn.Linear(n_in, 1)
            return nn.Sequential(nn.Linear(n_in, hid), nn.Tanh(), nn.Linear(hid, 1))

        self.mlps = nn.ModuleList(mlp(n) for n in inputs)
        self.count_weight = nn.Parameter(torch.zeros(config.n_words))

    def init_count_weight(self, word_counts: torch.Tensor) -> None:
        p = (word_counts.double() + 0.5) / (word_counts.double().sum() + 0.5 * len(word_counts))
        with torch.no_grad():
            self.count_weight.copy_(p.log().to(self.count_weight.dtype))

    def forward(self, features: torch.Tensor, x: torch.Tensor, hs: list[torch.Tensor]) -> list[torch.Tensor]:
        """Baseline values per layer, each of shape (S, B).

        Parameters
        ----------
        features : Tensor, shape (B, V)
            The inference network's centred input.
        x : Tensor, shape (B, V)
            Raw counts.
        hs : list of Tensor, shapes (S, B, K_l)
        """
        S = hs[0].shape[0]
        first = self.mlps[0](features).squeeze(-1) + x @ self.count_weight  # B
        out = [first.expand(S, -1)]
        for i in range(1, len(self.mlps)):
            out.append(self.mlps[i](hs[i - 1]).squeeze(-1))
        return out
