"""``SBNTopicModel``: the sigmoid belief network document model behind the estimator contract.

Training is delegated to :func:`docmodel.models.sbn.training.train` (NVIL by default; wake-sleep,
plain REINFORCE and the concrete relaxation on the same model for comparison), with fDARN's
autoregressive prior and an autoregressive q as options. Evaluation
(:class:`docmodel.models.sbn.scoring.Scoring`) follows ``EVALUATION.md``: the bound averages 10
single-sample bounds per document (the NVIL paper's Table 3 protocol), the importance-sampled
estimate is log (1/S) sum_s p(x,h_s)/q(h_s|x) with h_s ~ q(h|x), and document completion scores
the held-out half of a document with h drawn from q given the observed half.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from docmodel.base import TopicModel
from docmodel.checkpoint import save_checkpoint
from docmodel.counts import check_counts, non_empty
from docmodel.errors import ModelError
from docmodel.models.batching import training_split
from docmodel.models.device import resolve_device
from docmodel.models.sbn import KIND, PRESETS, resolve_mean_field_steps
from docmodel.models.sbn.config import TrainConfig, train_config
from docmodel.models.sbn.networks import SBN, Baselines, InferenceNetwork, SBNConfig
from docmodel.models.sbn.nvil import RunningStats
from docmodel.models.sbn.orientation import orient
from docmodel.models.sbn.persistence import payload, restore
from docmodel.models.sbn.scoring import Scoring
from docmodel.models.sbn.state import Networks, initialise
from docmodel.models.sbn.training import train
from docmodel.models.sbn.words import added_word_distributions
from docmodel.threads import sbn_step_work, training
from docmodel.topwords import word_frequencies_from_counts


class SBNTopicModel(Scoring, TopicModel):
    """Sigmoid belief network document model trained with NVIL (Mnih & Gregor 2014).

    Parameters
    ----------
    n_units : int
        Latent units of a one-layer model (ignored when ``layers`` is given).
    layers : sequence of int or None
        Units per layer, nearest the words first, e.g. ``(50, 50)``.
    algorithm : {"nvil", "wake-sleep", "reinforce", "relaxed"}
        ``"relaxed"``: the reparameterised gradient of the concrete (Gumbel-sigmoid) relaxation
        of the bound (:mod:`docmodel.models.sbn.relaxed` states the objective); only training
        changes, every estimate of log p(x) is the discrete SBN's.
    prior : {"factorial", "autoregressive"}
        The top layer's prior: independent units, or fDARN's p(h) = prod_k sigmoid(a_k +
        sum_{j<k} W_kj h_j) (with one layer the model is fDARN, Gregor et al. 2014).
    inference : {"factorial", "autoregressive"}
        q factorial within each layer, or q(h_l | h_{l-1}) = prod_k sigmoid(f_k(h_{l-1}) +
        sum_{j<k} A_kj h_lj) in every layer (h_0 = x; the NVIL paper's Table 2). ``transform``
        then gives the deterministic mean-field pass m_k = sigmoid(f_k(x) + sum_{j<k} A_kj m_j)
        in place of q(h_k = 1 | x), which has no closed form, and NVIL's mean-field baseline
        term uses the same m; the bound, importance-sampled and completion estimates use q's
        exact log-probability.
    mean_field_steps : int or "auto"
        T > 0: the fitted q is the inference network's map from the counts followed by T damped
        mean-field updates that read the model's word layer, a fixed pass of a few products per
        document (:mod:`docmodel.models.sbn.mean_field`); still a factorial q(h | x), used by
        ``transform`` and every estimate. 0: q is the network's map alone. Training is unchanged
        (the network is trained alone, then the updates join it; validation during training
        scores the network alone), so the same seed gives the same parameters with any T. One
        layer, factorial prior and q only. ``"auto"`` (the default): :data:`MEAN_FIELD_STEPS
        <docmodel.models.sbn.MEAN_FIELD_STEPS>` (5, chosen on validation documents) where the
        model allows them, else 0; ``config_.mean_field_steps`` holds the number a fit used.
    relaxed_temperature : float
        Temperature t of the concrete relaxation (``algorithm="relaxed"`` only). 0.5: of 0.25,
        0.5 and 1, the best validation bound after 15 epochs on 20 Newsgroups (1,000 held-out
        training documents; 976 against 980 and 988).
    global_baseline, input_baseline, variance_norm, local_signals : bool
        NVIL's variance-reduction components (all on by default; switch off for ablations; the
        relaxed estimator has no score function and uses none of them).
    mean_field_baseline : bool
        Add the model's log p(x | h = E_q[h]) to the input-dependent baseline (on by default;
        see :class:`docmodel.models.sbn.nvil.VarianceReduction`).
    sample_baseline : bool
        NVIL: centre each sample's learning signal by the mean signal of the same
        document's other samples (leave-one-out; needs ``n_samples`` >= 2) in place of the
        input-dependent baseline, which is then not trained (off by default; see
        :class:`docmodel.models.sbn.nvil.VarianceReduction`).
    optimizer : {"adam", "sgd"}
        Adam by default.
    learning_rate : float
        Model learning rate; ``encoder_learning_rate`` defaults to the same, and
        ``baseline_learning_rate`` to the encoder's. A larger rate, 8.5e-3, learns much faster at
        first (validation bound 1041 against 1142 after about 50 s and 885 against 990 after
        about 3 minutes on 20 Newsgroups' 11,268 training documents) but ends slightly worse after
        15 minutes (README, "Learning rate"), so the default stays 3e-3; give 8.5e-3 for runs of a
        few minutes on a large corpus. On a few thousand documents (many epochs a minute) 3e-3 was
        the better rate at 1 to 3 minutes too.
    plateau_drop : float or None
        Multiply every learning rate by this factor (in (0, 1)) when the validation bound has not
        improved by ``PLATEAU_MIN_GAIN`` (relative) for ``PLATEAU_ROUNDS`` validations in a row
        (see :mod:`docmodel.models.sbn.training`). None (the default) keeps the rates constant.
    batch_size : int or "auto"
        Documents per minibatch. ``"auto"`` (the default): a twentieth of the training documents,
        at least 64 and at most 512 (:func:`auto_batch_size`), so a large corpus takes large,
        cheap steps and a small one still takes a score of steps per epoch.
    n_samples, max_epochs, max_seconds, patience, n_val_docs
        Samples per document, epoch and time budgets, early-stopping patience
        (epochs) and the number of training documents held out for early stopping when ``fit``
        gets no ``X_val`` (100, as in the paper, but at most a tenth of the documents).
    encoder_hidden, baseline_hidden : int
        Hidden units of q(h_1|x) (0 = linear) and of each baseline MLP.
    weight_decay : float
        L2 penalty on the model and inference network weights (0 by default).
    prior_logit : float or None
        Fix the top layer's prior logit at this value: -2.5 (the default) puts each unit on in
        about 8% of documents a priori, so a unit is a theme that few documents take; None learns
        it (the NVIL paper's model; ``preset("perplexity")``). With ``prior="autoregressive"`` it
        fixes the logits a_k (unit k's, when the units before it are off); the couplings stay
        learned.
    nonnegative : bool
        Keep the unit-word weights U >= 0 (projected after every step; the default): a unit can
        only add words. False lets a unit also remove words (the paper's model).
    fixed_background : bool
        Keep the word bias at the log unigram frequencies of the training words (not trained).
    weight_l1 : float
        Rate of a Laplace (L1) penalty on U: a word needs about this many documents of evidence
        before a unit takes it (SAGE's sparse deviations; the loss carries weight_l1 / n_docs per
        document). 0 (the default): off.
    coherence_weight : float
        Weight of a coherence prior on the units' words (per training document): minus the NPMI,
        in the training documents, between each unit's 30 largest-weight words, weighted by a
        softmax of those weights (:mod:`docmodel.models.sbn.coherence`). It steers each unit
        towards words that documents use together. 5 (the default, chosen on validation documents
        with ``overlap_weight=1000`` and ``prior_logit=-2.5``; README, "Readable units"): units
        about as coherent as LDA's topics or more, at a small cost in perplexity. 0: off.
    overlap_weight : float
        Weight of a penalty on units that share their largest-weight words (per training document):
        for each unit, the mean over the other units of the chance that a word drawn from the
        softmax of its 30 largest weights and one drawn from the other unit's are the same. It
        makes units say different things (1000, the default: diversity near 0.6 on 20 Newsgroups,
        at some cost in coherence). 0: off.
    encoder_dropout : float
        NVIL, REINFORCE and relaxed: dropout on the inference network's input while training
        (0.2 by default), so that q does not fit the training documents at the expense of new ones.
    encoder_dropout_words : bool
        The dropout removes whole words from q's view of a document (count set to 0; the default),
        so q learns to recognise a document from part of it, which is what document completion
        asks of it. False zeroes the centred input features instead.
    encoder_length_weights : bool
        NVIL: weigh each document's learning signal for q by the inverse of its length
        (scaled so the weights average 1 over the training documents), so that q maximises every
        document's bound per word, the figure the per-document perplexity averages (on by default;
        see :class:`docmodel.models.sbn.nvil.VarianceReduction`). False: every document's bound counts alike,
        as in the paper.
    encoder_dreams : float
        NVIL only: with each minibatch, the inference network and the baselines are also trained,
        by the same estimator, on this many documents per real one dreamed from the current model
        (see :func:`docmodel.models.sbn.wake_sleep.nvil_on_dreams`); the model learns from real documents
        only. 0 (the default) is the paper's NVIL.
    ema_decay : float or None
        Validation, early stopping and the fitted model use an exponential moving average of
        the parameters with this decay (None: the raw parameters).
    random_state : int
    device : {"cpu", "cuda", "auto"}
    distributed : bool
        Data-parallel training across the processes of a ``torchrun`` job
        (:mod:`docmodel.models.sbn.distributed`): every process calls ``fit`` on the same data and takes
        its shard of each global minibatch of ``batch_size``. False trains in this process.
    n_threads : int or None
        CPU threads of ``fit``; None (the default) lets ``DOCMODEL_THREADS`` or the policy of
        :mod:`docmodel.threads` decide from the step's size and the usable CPUs.
    """

    kind = KIND.kind
    active_threshold = KIND.active_threshold
    """A unit is on for a document when q(h_k = 1 | x) exceeds this."""

    def __init__(
        self,
        n_units: int = 50,
        layers=None,
        *,
        algorithm: str = "nvil",
        prior: str = "factorial",
        inference: str = "factorial",
        mean_field_steps: int | str = "auto",
        relaxed_temperature: float = 0.5,
        global_baseline: bool = True,
        input_baseline: bool = True,
        mean_field_baseline: bool = True,
        sample_baseline: bool = False,
        variance_norm: bool = True,
        local_signals: bool = True,
        optimizer: str = "adam",
        learning_rate: float = 3e-3,
        encoder_learning_rate: float | None = None,
        baseline_learning_rate: float | None = None,
        plateau_drop: float | None = None,
        batch_size: int | str = "auto",
        n_samples: int = 5,
        max_epochs: int = 200,
        max_seconds: float | None = None,
        patience: int = 20,
        n_val_docs: int = 100,
        encoder_hidden: int = 0,
        baseline_hidden: int = 100,
        weight_decay: float = 0.0,
        prior_logit: float | None = -2.5,
        nonnegative: bool = True,
        fixed_background: bool = False,
        weight_l1: float = 0.0,
        coherence_weight: float = 5.0,
        overlap_weight: float = 1000.0,
        encoder_dropout: float = 0.2,
        encoder_dropout_words: bool = True,
        encoder_length_weights: bool = True,
        encoder_dreams: float = 0.0,
        ema_decay: float | None = 0.999,
        random_state: int = 0,
        device: str = "cpu",
        distributed: bool = False,
        n_threads: int | None = None,
    ):
        self.n_units = n_units
        self.layers = layers
        self.algorithm = algorithm
        self.prior = prior
        self.inference = inference
        self.mean_field_steps = mean_field_steps
        self.relaxed_temperature = relaxed_temperature
        self.global_baseline = global_baseline
        self.input_baseline = input_baseline
        self.mean_field_baseline = mean_field_baseline
        self.sample_baseline = sample_baseline
        self.variance_norm = variance_norm
        self.local_signals = local_signals
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.encoder_learning_rate = encoder_learning_rate
        self.baseline_learning_rate = baseline_learning_rate
        self.plateau_drop = plateau_drop
        self.batch_size = batch_size
        self.n_samples = n_samples
        self.max_epochs = max_epochs
        self.max_seconds = max_seconds
        self.patience = patience
        self.n_val_docs = n_val_docs
        self.encoder_hidden = encoder_hidden
        self.baseline_hidden = baseline_hidden
        self.weight_decay = weight_decay
        self.prior_logit = prior_logit
        self.nonnegative = nonnegative
        self.fixed_background = fixed_background
        self.weight_l1 = weight_l1
        self.coherence_weight = coherence_weight
        self.overlap_weight = overlap_weight
        self.encoder_dropout = encoder_dropout
        self.encoder_dropout_words = encoder_dropout_words
        self.encoder_length_weights = encoder_length_weights
        self.encoder_dreams = encoder_dreams
        self.ema_decay = ema_decay
        self.random_state = random_state
        self.device = device
        self.distributed = distributed
        self.n_threads = n_threads

    @classmethod
    def preset(cls, name: str, **params) -> SBNTopicModel:
        """An estimator with the named preset's settings (:data:`docmodel.models.sbn.PRESETS`,
        e.g. ``"readable"``); ``params`` set anything else, or override the preset."""
        if name not in PRESETS:
            raise ModelError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}")
        return cls(**{**PRESETS[name], **params})

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]  # q(h|x) is computed in float32
        return tags

    # ---- configuration ------------------------------------------------------------------
    def _layers(self) -> tuple[int, ...]:
        layers = tuple(self.layers) if self.layers else (self.n_units,)
        return layers

    def _train_config(self, train_lengths: np.ndarray | None = None) -> TrainConfig:
        return train_config(self, train_lengths)

    @property
    def n_units_(self) -> int:
        self._check_fitted()
        return self.config_.layers[0]

    def _sbn_config(self, n_words: int) -> SBNConfig:
        return SBNConfig(
            n_words=n_words,
            layers=self._layers(),
            encoder_hidden=self.encoder_hidden,
            baseline_hidden=self.baseline_hidden,
            prior_logit=self.prior_logit,
            nonnegative=self.nonnegative,
            fixed_background=self.fixed_background,
            prior=self.prior,
            inference=self.inference,
            mean_field_steps=resolve_mean_field_steps(self.mean_field_steps, self._layers(), self.prior, self.inference),
        )

    # ---- training -----------------------------------------------------------------------
    def _build(self, n_words: int) -> Networks:
        config = self._sbn_config(n_words)
        torch.manual_seed(self.random_state)
        nets = Networks(SBN(config), InferenceNetwork(config), Baselines(config), RunningStats.initial(len(config.layers)))
        self.config_ = config
        return nets

    def fit(
        self, X, y=None, *, vocabulary=None, X_val=None, callback=None, state_path=None, resume=False,
        state_every_seconds=30.0, interim_validations=False,
    ):
        """Train on counts ``X`` (n_docs, n_words).

        Parameters
        ----------
        X : sparse or array, shape (n_docs, n_words)
        y : ignored
            scikit-learn's convention for unsupervised estimators (so ``Pipeline`` works).
        vocabulary : corpora.Vocabulary, optional
            Kept with the model for top words and checkpoints.
        X_val : sparse or array, shape (n_val, n_words), optional
            Documents for early stopping; by default ``n_val_docs`` training documents are held
            out at random (seeded) and not trained on.
        callback : callable(dict) -> bool or None
            Called after each validation with the metrics, and between validations with
            progress-only entries and interim validations (see
            :func:`docmodel.models.sbn.training.train`); returning True stops training after the
            current minibatch, keeping the best parameters so far.
        state_path : path, optional
            File where the full training state is written as training goes (atomically), so
            that a killed run can continue with ``resume=True``.
        resume : bool
            Continue from ``state_path`` when it exists, reaching the same result as an
            uninterrupted run with the same seed.
        state_every_seconds : float
            Minimum time between two writes of the training state.
        interim_validations : bool
            Also give ``callback`` validation points within rounds, every few seconds early in a
            run, for live displays (they cost at most a tenth of the training time and do not
            change the result).
        """
        self._train_config()  # bad settings fail before any work on the data
        self._sbn_config(1)
        device = resolve_device(self.device)
        vocabulary = self._input_features(X, vocabulary)
        X = check_counts(X)
        if vocabulary is not None and len(vocabulary) != X.shape[1]:
            raise ModelError(f"vocabulary has {len(vocabulary)} words but X has {X.shape[1]} columns")
        X = non_empty(X)
        X_given = X  # every non-empty document passed in: what the units' on-shares count
        X, X_val = training_split(X, X_val, self.n_val_docs, self.random_state)
        train_cfg = self._train_config(np.asarray(X.sum(axis=1), dtype=np.float64).ravel())
        work = sbn_step_work(train_cfg.batch_size, X.shape[1], self._layers()[0], train_cfg.n_samples,
                             self.baseline_hidden, self.encoder_hidden)
        with training(work if device.type == "cpu" else 0.0, self.n_threads):  # on a GPU the CPU only feeds it
            nets = self._build(X.shape[1])
            initialise(nets, X, count_weights=not (self.input_baseline and self.mean_field_baseline))
            parallel = None
            if self.distributed:
                from docmodel.models.sbn.distributed import DataParallel

                parallel = DataParallel(device)
                device = parallel.device
            for m in (nets.model, nets.encoder, nets.baselines):
                m.to(device)
            mean_field_steps, nets.encoder.mean_field_steps = nets.encoder.mean_field_steps, 0  # train f alone
            try:
                result = train(
                    nets, X, X_val, train_cfg, callback=callback, device=device,
                    state_path=None if state_path is None else Path(state_path), resume=resume,
                    state_every_seconds=state_every_seconds, parallel=parallel,
                    interim_validations=interim_validations,
                )
            finally:
                nets.encoder.mean_field_steps = mean_field_steps
                if parallel is not None:
                    parallel.close()
            self._set_fitted(nets, vocabulary, result)
            self.word_frequencies_ = word_frequencies_from_counts(X_given.sum(axis=0))
            self.unit_on_share_ = self.orient_units(X_given)
            self.word_distributions_ = added_word_distributions(self, X_given, random_state=self.random_state)
        return self

    def set_mean_field_steps(self, steps: int | str) -> SBNTopicModel:
        """Give the fitted q ``steps`` mean-field updates (0: none; ``"auto"``: as the parameter's
        default; see ``mean_field_steps``), in place and without training again: training does not
        use them. Returns the estimator.

        ``transform`` and every estimate use the new q at once. What ``fit`` derived from its
        documents with the old q (the units' on-shares and word distributions, their orientation)
        is kept; ``orient_units(X)`` decides the orientation again on documents ``X``."""
        self._check_fitted()
        config = self.config_
        steps = resolve_mean_field_steps(steps, config.layers, config.prior, config.inference)
        config = replace(config, mean_field_steps=steps)  # checks the value and the architecture
        self.mean_field_steps = self.nets_.encoder.mean_field_steps = config.mean_field_steps
        self.config_ = config
        return self

    def orient_units(self, X) -> np.ndarray:
        """Make "on" the rarer state of every first-layer unit, as an exact reparameterisation
        decided on documents ``X``; return each unit's share of them where it is on (see
        :func:`docmodel.models.sbn.orientation.orient`)."""
        self._check_fitted()
        share, self.units_flipped_ = orient(self.nets_, self.transform(X), KIND.active_threshold)
        return share

    def word_distributions(self) -> np.ndarray:
        """p(w | unit k): the word probability that unit k adds in the documents where it is on,
        shape (n_units, n_words), rows summing to one (see :func:`added_word_distributions`;
        computed by ``fit`` on the training documents)."""
        self._check_fitted()
        return self.word_distributions_

    def _set_fitted(self, nets: Networks, vocabulary, result: dict) -> None:
        self.nets_ = nets
        self.n_words_ = nets.model.config.n_words
        self.n_features_in_ = self.n_words_
        self.vocabulary_ = vocabulary
        self.history_ = result["history"]
        self.train_seconds_ = result["train_seconds"]
        self.best_val_perplexity_bound_ = result["best_val_perplexity_bound"]
        self.stopped_ = result["stopped"]
        self.n_iter_ = int(result["epochs"])
        self.train_result_ = {k: v for k, v in result.items() if k != "history"}

    def unit_word(self) -> np.ndarray:
        """Column k of the visible layer's weights U: how much each word's logit rises when
        unit k turns on, shape (n_units, n_words). Top words rank these."""
        self._check_fitted()
        return self.nets_.model.visible.weight.detach().cpu().numpy().T.copy()

    # ---- checkpoints ----------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write a plain-data checkpoint (a model directory or a ``.pt`` file)."""
        self._check_fitted()
        return save_checkpoint(path, payload(self))

    @classmethod
    def from_checkpoint(cls, data: dict) -> SBNTopicModel:
        """Rebuild a fitted model from :func:`docmodel.checkpoint.load_checkpoint` output."""
        return restore(cls, data)
