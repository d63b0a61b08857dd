"""``SBNTopicModel``: the sigmoid belief network document model behind the estimator contract.

Training is delegated to :func:`docmodel.models.sbn.training.train` (NVIL by default; wake-sleep and plain
REINFORCE on the same model for comparison). Evaluation follows ``EVALUATION.md``: the bound
averages 10 single-sample bounds per document (the NVIL paper's Table 3 protocol), the
importance-sampled estimate is log (1/S) sum_s p(x,h_s)/q(h_s|x) with h_s ~ q(h|x), and document
completion scores the held-out half of a document with h drawn from q given the observed half.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from docmodel.base import TopicModel, check_counts, n_validation_docs
from docmodel.checkpoint import load_checkpoint, save_checkpoint
from docmodel.errors import ModelError
from docmodel.models.sbn import KIND
from docmodel.models.sbn.networks import SBN, Baselines, InferenceNetwork, SBNConfig
from docmodel.models.sbn.nvil import RunningStats, VarianceReduction
from docmodel.models.sbn.orientation import flip_units
from docmodel.models.sbn.training import (
    CSRRows,
    Networks,
    TrainConfig,
    auto_batch_size,
    bound_per_doc,
    train,
)
from docmodel.topwords import word_frequencies_from_counts

# Evaluation batches hold at most this many S * B * V floats' worth of documents. The logits
# themselves are never held whole (see docmodel.models.sbn.networks.word_log_likelihood); the batch size is kept
# because it fixes which noise each document draws, and so the estimates.
_EVAL_ELEMENTS = 2**24


def resolve_device(device: str) -> torch.device:
    """``auto`` picks CUDA when available, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelError("device 'cuda' was asked for but no CUDA GPU is available; use --device cpu or auto")
    try:
        return torch.device(device)
    except RuntimeError:
        raise ModelError(f"unknown device {device!r}; use cpu, cuda or auto") from None


class SBNTopicModel(TopicModel):
    """Sigmoid belief network document model trained with NVIL (Mnih & Gregor 2014).

    Parameters
    ----------
    n_units : int
        Latent units of a one-layer model (ignored when ``layers`` is given).
    layers : sequence of int or None
        Units per layer, nearest the words first, e.g. ``(50, 50)``.
    algorithm : {"nvil", "wake-sleep", "reinforce"}
    global_baseline, input_baseline, variance_norm, local_signals : bool
        NVIL's variance-reduction components (all on by default; switch off for ablations).
    mean_field_baseline : bool
        Add the model's log p(x | h = E_q[h]) to the input-dependent baseline (on by default;
        see :class:`docmodel.models.sbn.nvil.VarianceReduction`).
    optimizer : {"adam", "sgd"}
        Adam by default.
    learning_rate : float
        Model learning rate; ``encoder_learning_rate`` defaults to the same, and
        ``baseline_learning_rate`` to the encoder's.
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
    encoder_dropout : float
        NVIL and REINFORCE: dropout on the inference network's input while training (0.2 by default), so
        that q does not fit the training documents at the expense of new ones.
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
        global_baseline: bool = True,
        input_baseline: bool = True,
        mean_field_baseline: bool = True,
        variance_norm: bool = True,
        local_signals: bool = True,
        optimizer: str = "adam",
        learning_rate: float = 3e-3,
        encoder_learning_rate: float | None = None,
        baseline_learning_rate: float | None = None,
        batch_size: int | str = "auto",
        n_samples: int = 5,
        max_epochs: int = 200,
        max_seconds: float | None = None,
        patience: int = 20,
        n_val_docs: int = 100,
        encoder_hidden: int = 0,
        baseline_hidden: int = 100,
        weight_decay: float = 0.0,
        prior_logit: float | None = None,
        nonnegative: bool = False,
        fixed_background: bool = False,
        weight_l1: float = 0.0,
        encoder_dropout: float = 0.2,
        encoder_dropout_words: bool = True,
        encoder_length_weights: bool = True,
        encoder_dreams: float = 0.0,
        ema_decay: float | None = 0.999,
        random_state: int = 0,
        device: str = "cpu",
        distributed: bool = False,
    ):
        self.n_units = n_units
        self.layers = layers
        self.algorithm = algorithm
        self.global_baseline = global_baseline
        self.input_baseline = input_baseline
        self.mean_field_baseline = mean_field_baseline
        self.variance_norm = variance_norm
        self.local_signals = local_signals
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.encoder_learning_rate = encoder_learning_rate
        self.baseline_learning_rate = baseline_learning_rate
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
        self.encoder_dropout = encoder_dropout
        self.encoder_dropout_words = encoder_dropout_words
        self.encoder_length_weights = encoder_length_weights
        self.encoder_dreams = encoder_dreams
        self.ema_decay = ema_decay
        self.random_state = random_state
        self.device = device
        self.distributed = distributed

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]  # q(h|x) is computed in float32
        return tags

    # ---- configuration ------------------------------------------------------------------
    def _layers(self) -> tuple[int, ...]:
        layers = tuple(self.layers) if self.layers else (self.n_units,)
        return layers

    def _train_config(self, train_lengths: np.ndarray | None = None) -> TrainConfig:
        """The training configuration; ``train_lengths`` (tokens of each training document) settles
        the automatic minibatch and the length weights (before them: placeholders)."""
        if isinstance(self.batch_size, str):
            if self.batch_size != "auto":
                raise ModelError(f"batch_size must be a positive integer or 'auto', got {self.batch_size!r}")
            batch_size = 64 if train_lengths is None else auto_batch_size(len(train_lengths))
        else:
            batch_size = self.batch_size
        reference = 0.0
        if self.encoder_length_weights and train_lengths is not None:
            # The harmonic mean: the weights reference / N_d then average 1 over the corpus.
            reference = float(1.0 / np.mean(1.0 / np.maximum(train_lengths, 1.0)))
        vr = VarianceReduction(
            global_baseline=self.global_baseline,
            input_baseline=self.input_baseline,
            mean_field_term=self.input_baseline and self.mean_field_baseline,
            variance_norm=self.variance_norm,
            local_signals=self.local_signals,
            length_reference=reference,
        )
        return TrainConfig(
            algorithm=self.algorithm,
            variance_reduction=vr,
            optimizer=self.optimizer,
            learning_rate=self.learning_rate,
            encoder_learning_rate=self.encoder_learning_rate,
            baseline_learning_rate=self.baseline_learning_rate,
            batch_size=batch_size,
            n_samples=self.n_samples,
            max_epochs=self.max_epochs,
            max_seconds=self.max_seconds,
            patience=self.patience,
            weight_decay=self.weight_decay,
            weight_l1=self.weight_l1,
            encoder_dropout=self.encoder_dropout,
            encoder_dropout_words=self.encoder_dropout_words,
            encoder_dreams=self.encoder_dreams,
            ema_decay=self.ema_decay,
            seed=self.random_state,
        )

    @property
    def n_units_(self) -> int:
        self._check_fitted()
        return self.config_.layers[0]

    # ---- training -----------------------------------------------------------------------
    def _build(self, n_words: int) -> Networks:
        config = SBNConfig(
            n_words=n_words,
            layers=self._layers(),
            encoder_hidden=self.encoder_hidden,
            baseline_hidden=self.baseline_hidden,
            prior_logit=self.prior_logit,
            nonnegative=self.nonnegative,
            fixed_background=self.fixed_background,
        )
        torch.manual_seed(self.random_state)
        nets = Networks(SBN(config), InferenceNetwork(config), Baselines(config), RunningStats.initial(len(config.layers)))
        self.config_ = config
        return nets

    def fit(
        self, X, y=None, *, vocabulary=None, X_val=None, callback=None, state_path=None, resume=False,
        state_every_seconds=30.0,
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
            Called after each epoch with the metrics; returning True stops training.
        state_path : path, optional
            File where the full training state is written as training goes (atomically), so
            that a killed run can continue with ``resume=True``.
        resume : bool
            Continue from ``state_path`` when it exists, reaching the same result as an
            uninterrupted run with the same seed.
        state_every_seconds : float
            Minimum time between two writes of the training state.
        """
        self._train_config()  # bad settings fail before any work on the data
        device = resolve_device(self.device)
        X = check_counts(X)
        if vocabulary is not None and len(vocabulary) != X.shape[1]:
            raise ModelError(f"vocabulary has {len(vocabulary)} words but X has {X.shape[1]} columns")
        lengths = np.asarray(X.sum(axis=1)).ravel()
        if not np.all(lengths > 0):  # (no copy of a large corpus without empty documents)
            X = X[lengths > 0]
        X_given = X  # every non-empty document passed in: what the units' on-shares count
        if X_val is None:
            if X.shape[0] < 2:
                raise ModelError(
                    f"need at least 2 non-empty training documents (got {X.shape[0]} sample"
                    f"{'' if X.shape[0] == 1 else 's'}): one to train on "
                    "and one to hold out for early stopping"
                )
            n_val = n_validation_docs(X.shape[0], self.n_val_docs)
            perm = np.random.default_rng(self.random_state).permutation(X.shape[0])
            X_val, X = X[perm[:n_val]], X[perm[n_val:]]
        else:
            X_val = check_counts(X_val, X.shape[1])
            X_val = X_val[np.asarray(X_val.sum(axis=1)).ravel() > 0]
        if X.shape[0] == 0 or X_val.shape[0] == 0:
            raise ModelError("no non-empty documents to train or validate on")
        train_cfg = self._train_config(np.asarray(X.sum(axis=1), dtype=np.float64).ravel())
        nets = self._build(X.shape[1])
        word_counts = torch.from_numpy(np.asarray(X.sum(axis=0)).ravel())
        nets.model.init_word_bias(word_counts)
        if not (self.input_baseline and self.mean_field_baseline):
            # Without the mean-field term the linear count term carries the signal's growth
            # with document length; with it, the term does and the count weights start at 0.
            nets.baselines.init_count_weight(word_counts)
        with torch.no_grad():
            mean = np.asarray(X.log1p().mean(axis=0)).ravel()
            nets.encoder.input_mean.copy_(torch.from_numpy(mean).float())
        parallel = None
        if self.distributed:
            from docmodel.models.sbn.distributed import DataParallel

            parallel = DataParallel(device)
            device = parallel.device
        for m in (nets.model, nets.encoder, nets.baselines):
            m.to(device)
        try:
            result = train(
                nets, X, X_val, train_cfg, callback=callback, device=device,
                state_path=None if state_path is None else Path(state_path), resume=resume,
                state_every_seconds=state_every_seconds, parallel=parallel,
            )
        finally:
            if parallel is not None:
                parallel.close()
        self._set_fitted(nets, vocabulary, result)
        self.word_frequencies_ = word_frequencies_from_counts(X_given.sum(axis=0))
        self.unit_on_share_ = self.orient_units(X_given)
        self.word_distributions_ = added_word_distributions(self, X_given, random_state=self.random_state)
        return self

    @torch.no_grad()
    def orient_units(self, X) -> np.ndarray:
        """Make "on" the rarer state of every unit of the first layer, as an exact
        reparameterisation; return each unit's share of documents where it is on.

        A binary unit's two states are symmetric: with h_k' = 1 - h_k, the model with U[:, k]
        negated, the word bias raised by U[:, k], the unit's prior (or upper-layer) logit negated
        and q's logit negated gives every document and every state the same probabilities (the
        layers above h_1, their inference network and baselines take h_1' in the same way). Units
        that q switches on (q(h_k=1|x) > 0.5) in more than half of the documents ``X`` are
        flipped, so that a unit's words describe what it adds to the documents that take it, and
        the word bias b is the background of a document with every unit in its common state.

        Parameters
        ----------
        X : sparse or array, shape (n_docs, n_words)
            Documents that decide which state is rarer (``fit`` passes the training documents).

        With ``nonnegative`` weights nothing is flipped: there "on" is by construction the state in
        which a unit adds its words, and flipping would turn it into one that removes them.

        Returns
        -------
        ndarray, shape (n_units,)
            Share of the documents in which each unit is on, after the flip (<= 0.5 unless the
            weights are non-negative).
        """
        self._check_fitted()
        on = (self.transform(X) > KIND.active_threshold).mean(axis=0)
        if self.config_.nonnegative:
            self.units_flipped_ = 0
            return on
        flip = torch.from_numpy(on > 0.5)
        if flip.any():
            flip_units(self.nets_, flip.to(self._device()))
        self.units_flipped_ = int(flip.sum())
        return np.where(on > 0.5, 1.0 - on, on)

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
        self.train_result_ = {k: v for k, v in result.items() if k != "history"}

    # ---- inference and evaluation -------------------------------------------------------
    def _device(self) -> torch.device:
        return next(self.nets_.model.parameters()).device

    def _eval_batch(self, n_samples: int) -> int:
        """Documents per evaluation batch."""
        return max(1, min(2048, _EVAL_ELEMENTS // max(1, n_samples * self.n_words_)))

    def _batches(self, X, n_samples: int):
        X = self._counts(X)
        B, rows = self._eval_batch(n_samples), CSRRows(X, self._device())
        for start in range(0, X.shape[0], B):
            yield rows.span(start, min(start + B, X.shape[0]))

    def _generator(self, random_state) -> torch.Generator:
        return torch.Generator(device=self._device()).manual_seed(int(random_state))

    @torch.no_grad()
    def transform(self, X) -> np.ndarray:
        """q(h_k = 1 | x) for every unit of the layer nearest the words, shape (n_docs, n_units)."""
        self._check_fitted()
        out = [torch.sigmoid(self.nets_.encoder.first_logits(x)).cpu().numpy() for x in self._batches(X, 1)]
        return np.concatenate(out) if out else np.zeros((0, self.n_units_), dtype=np.float32)

    def unit_word(self) -> np.ndarray:
        """Column k of the visible layer's weights U: how much each word's logit rises when
        unit k turns on, shape (n_units, n_words). Top words rank these."""
        self._check_fitted()
        return self.nets_.model.visible.weight.detach().cpu().numpy().T.copy()

    def log_likelihood_bound(self, X, *, n_samples: int = 10, random_state=0) -> np.ndarray:
        """Mean of ``n_samples`` single-sample bounds log p(x,h) - log q(h|x), h ~ q, per
        document (the NVIL paper's 10-sample bound), shape (n_docs,)."""
        self._check_fitted()
        X = self._counts(X)
        B = self._eval_batch(n_samples)
        return bound_per_doc(self.nets_, X, n_samples, self._generator(random_state), self._device(), B)

    def _log_weights(self, x: torch.Tensor, n_samples: int, gen) -> torch.Tensor:
        hs, log_qs = self.nets_.encoder.sample(x, n_samples, gen)
        model = self.nets_.model
        log_p = model.log_p_x_given_h1(x, hs[0]) + torch.stack(model.layer_log_probs(hs)).sum(0)
        return log_p - torch.stack(log_qs).sum(0)  # S,B

    @torch.no_grad()
    def log_likelihood_is(self, X, *, n_samples: int = 100, random_state=0) -> np.ndarray:
        """log (1/S) sum_s p(x, h_s) / q(h_s | x), h_s ~ q(h|x): importance-sampled log p(x)
        per document, shape (n_docs,). In expectation a lower bound on log p(x), tighter than
        the bound, converging to it as S grows."""
        self._check_fitted()
        gen = self._generator(random_state)
        out = []
        for x in self._batches(X, n_samples):
            w = self._log_weights(x, n_samples, gen)
            out.append((torch.logsumexp(w.double(), 0) - math.log(n_samples)).cpu().numpy())
        return np.concatenate(out) if out else np.zeros(0)

    @torch.no_grad()
    def log_likelihood_completion(self, X_observed, X_heldout, *, n_samples: int = 100, random_state=0) -> np.ndarray:
        """log (1/S) sum_s p(x_heldout | h_s), h_s ~ q(h | x_observed), per document.

        Only the observed half informs the posterior; the held-out half is scored."""
        self._check_fitted()
        X_obs = self._counts(X_observed)
        X_held = self._counts(X_heldout)
        if X_obs.shape != X_held.shape:
            raise ModelError("observed and held-out halves must have the same shape")
        gen = self._generator(random_state)
        model, out = self.nets_.model, []
        B = self._eval_batch(n_samples)
        rows_obs, rows_held = CSRRows(X_obs, self._device()), CSRRows(X_held, self._device())
        for start in range(0, X_obs.shape[0], B):
            stop = min(start + B, X_obs.shape[0])
            x_obs, x_held = rows_obs.span(start, stop), rows_held.span(start, stop)
            hs, _ = self.nets_.encoder.sample(x_obs, n_samples, gen)
            lp = model.log_p_x_given_h1(x_held, hs[0]).double()  # S,B
            out.append((torch.logsumexp(lp, 0) - math.log(n_samples)).cpu().numpy())
        return np.concatenate(out) if out else np.zeros(0)

    # ---- checkpoints ----------------------------------------------------------------------
    def _payload(self) -> dict:
        self._check_fitted()
        nets = self.nets_
        state = {}
        for prefix, module in (("model", nets.model), ("encoder", nets.encoder), ("baselines", nets.baselines)):
            for k, v in module.state_dict().items():
                state[f"{prefix}.{k}"] = v.detach().cpu()
        state["word_frequencies"] = torch.from_numpy(np.asarray(self.word_frequencies_, dtype=np.float64))
        state["word_distributions"] = torch.from_numpy(np.asarray(self.word_distributions_, dtype=np.float32))
        params = self.get_params()
        params["layers"] = list(self._layers())
        return {
            "kind": self.kind,
            "config": {"params": params, "architecture": self.config_.to_dict(), "stats": nets.stats.to_dict()},
            "state": state,
            "vocabulary": list(self.vocabulary_.words) if self.vocabulary_ is not None else None,
            "metrics": {
                "best_val_perplexity_bound": float(self.best_val_perplexity_bound_),
                "train_seconds": float(self.train_seconds_),
                "stopped": self.stopped_,
                "unit_on_share": None if self.unit_on_share_ is None else [float(v) for v in self.unit_on_share_],
            },
            "history": [{k: (float(v) if isinstance(v, float) else v) for k, v in h.items()} for h in self.history_],
        }

    def save(self, path: str | Path) -> Path:
        """Write a plain-data checkpoint (a model directory or a ``.pt`` file)."""
        return save_checkpoint(path, self._payload())

    @classmethod
    def from_checkpoint(cls, data: dict) -> SBNTopicModel:
        """Rebuild a fitted model from :func:`docmodel.checkpoint.load_checkpoint` output."""
        try:
            cfg = data["config"]
            params = dict(cfg["params"])
            params["device"] = "cpu"
            params["distributed"] = False
            model = cls(**params)
            nets = model._build(int(cfg["architecture"]["n_words"]))
            for prefix, module in (("model", nets.model), ("encoder", nets.encoder), ("baselines", nets.baselines)):
                sub = {k[len(prefix) + 1 :]: v for k, v in data["state"].items() if k.startswith(prefix + ".")}
                module.load_state_dict(sub)
            nets.stats = RunningStats.from_dict(cfg["stats"])
        except (KeyError, TypeError, RuntimeError, ValueError) as exc:
            reason = " ".join(str(exc).split())  # load_state_dict lists its complaints on many lines
            raise ModelError(f"checkpoint is malformed or from an incompatible version: {reason}") from None
        vocabulary = None
        if data.get("vocabulary"):
            from corpora.vocabulary import Vocabulary

            vocabulary = Vocabulary(tuple(data["vocabulary"]))
            if len(vocabulary) != nets.model.config.n_words:
                raise ModelError(
                    f"checkpoint vocabulary has {len(vocabulary)} words but the model has {nets.model.config.n_words}"
                )
        metrics = data.get("metrics") or {}
        model._set_fitted(
            nets,
            vocabulary,
            {
                "history": list(data.get("history") or []),
                "train_seconds": metrics.get("train_seconds", float("nan")),
                "best_val_perplexity_bound": metrics.get("best_val_perplexity_bound", float("nan")),
                "stopped": metrics.get("stopped", "unknown"),
            },
        )
        model.word_frequencies_ = _word_frequencies(data["state"], nets.model)
        model.word_distributions_ = _saved_word_distributions(data["state"], nets.model)
        share = metrics.get("unit_on_share")
        model.unit_on_share_ = None
        if isinstance(share, list) and len(share) == model.n_units_:
            model.unit_on_share_ = np.asarray(share, dtype=np.float64)
        return model

    @classmethod
    def load(cls, path) -> SBNTopicModel:
        return cls.from_checkpoint(load_checkpoint(path, kind=cls.kind))


def _saved_word_distributions(state: dict, model: SBN) -> np.ndarray:
    """p(w | unit) from a checkpoint; older checkpoints without it get what each unit adds to
    the background (the fallback of :func:`added_word_distributions` without documents)."""
    saved = state.get("word_distributions")
    n_words, n_units = model.visible.weight.shape
    if saved is None:
        U = model.visible.weight.detach().double()
        b = model.visible.bias.detach().double()
        return torch.stack([_added_to_background(U[:, k], b) for k in range(n_units)]).numpy()
    if not isinstance(saved, torch.Tensor) or tuple(saved.shape) != (n_units, n_words) or not bool(torch.isfinite(saved).all()):
        raise ModelError("checkpoint is malformed: word_distributions must be finite, one row per unit")
    out = saved.double().clamp(min=0)
    return (out / out.sum(1, keepdim=True).clamp(min=1e-300)).numpy()


# Documents per unit that the added word distributions average over (a seeded sample of those
# where the unit is on): enough for a stable average, bounded work on a large corpus.
ADDED_WORDS_MAX_DOCS = 1000


@torch.no_grad()
def added_word_distributions(model: SBNTopicModel, X, *, random_state=0, max_docs: int = ADDED_WORDS_MAX_DOCS) -> np.ndarray:
    """What each unit adds to the word distribution of the documents that switch it on.

    For a document d with units h_d (q(h_k=1|x) > 0.5 for unit k), the words are drawn from
    softmax(b + U h_d); turning unit k off gives softmax(b + U h_d - U[:, k]). Unit k's
    distribution is the positive part of the difference, averaged over (up to ``max_docs``) of
    the documents where k is on, and normalised: the probability the unit adds to each word,
    which is what a reader of the unit should see. A unit on in no document falls back to what
    it adds to the background (:func:`_added_to_background`).

    Parameters
    ----------
    model : fitted SBNTopicModel
    X : sparse or array, shape (n_docs, n_words)
        Documents (the training documents in ``fit``).
    random_state : int
        Seeds which documents are used when a unit is on in more than ``max_docs``.

    Returns
    -------
    ndarray, shape (n_units, n_words)
        Rows summing to one.
    """
    H = model.transform(X) > KIND.active_threshold  # n_docs, K
    visible = model.nets_.model.visible
    U = visible.weight.detach().double().cpu()  # V,K
    b = visible.bias.detach().double().cpu()  # V
    rng = np.random.default_rng(random_state)
    K = U.shape[1]
    out = torch.zeros(K, U.shape[0], dtype=torch.float64)
    for k in range(K):
        docs = np.flatnonzero(H[:, k])
        if len(docs) > max_docs:
            docs = np.sort(rng.choice(docs, max_docs, replace=False))
        if not len(docs):
            out[k] = _added_to_background(U[:, k], b)
            continue
        logits = torch.from_numpy(H[docs].astype(np.float64)) @ U.T + b  # n,V
        added = (torch.softmax(logits, 1) - torch.softmax(logits - U[:, k], 1)).clamp(min=0).mean(0)
        # A unit that only removes words shows what it keeps.
        out[k] = added / added.sum() if added.sum() > 0 else torch.softmax(b + U[:, k], 0)
    return out.numpy()


def _added_to_background(u: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """What a unit with weights ``u`` (V,) adds to the background softmax(b), normalised; a unit
    that only removes words shows what it keeps, softmax(b + u)."""
    with_unit = torch.softmax(b + u, 0)
    added = (with_unit - torch.softmax(b, 0)).clamp(min=0)
    return added / added.sum() if added.sum() > 0 else with_unit


def _word_frequencies(state: dict, model: SBN) -> np.ndarray:
    """p(w) from a checkpoint; older checkpoints without it use softmax(b), the model's word
    distribution with every unit off."""
    freq = state.get("word_frequencies")
    if freq is None:
        return torch.softmax(model.visible.bias.detach().double(), 0).numpy()
    if not isinstance(freq, torch.Tensor) or tuple(freq.shape) != (model.config.n_words,) or not bool((freq > 0).all()):
        raise ModelError("checkpoint is malformed: word_frequencies must be positive, one per word")
    return freq.double().numpy()
