"""``NVDMTopicModel``: the neural variational document model behind the estimator contract.

Miao, Yu & Blunsom, "Neural Variational Inference for Text Processing" (ICML 2016). Training is
:func:`docmodel.models.nvdm.training.train` (Adam on the reparameterised ELBO); evaluation follows
``EVALUATION.md`` with the SBN's estimators (:mod:`docmodel.models.nvdm.elbo`), so that NVIL's
SBN and the reparameterised NVDM are compared on the same figures.

Units. A latent dimension z_k is continuous: its document representation is the posterior mean
mu_k(x) (``transform``). It counts as *on* for a document when mu_k(x) > 1, one prior standard
deviation above the prior mean. p(x | z) = softmax(b + R z) is unchanged when z_k and R[:, k]
change sign together (the prior is symmetric), so after training every dimension is oriented so
that at least as many training documents have mu_k > 1 as mu_k < -1 (an exact
reparameterisation, like the SBN's orientation of its units): "on" is then the more common of a
dimension's two far sides. A document with mu_k < -1 is not counted as on: its words are those
R[:, k] lowers, not the ones the dimension's top words show.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from docmodel.base import ProgressCallback, TopicModel, as_vocabulary
from docmodel.checkpoint import save_checkpoint
from docmodel.counts import check_counts, non_empty
from docmodel.errors import ModelError
from docmodel.models.batching import CSRRows
from docmodel.models.device import resolve_device
from docmodel.models.epochs import holdout
from docmodel.models.nvdm import KIND, persistence
from docmodel.models.nvdm.elbo import bound, completion, importance_sampled
from docmodel.models.nvdm.networks import NVDMConfig
from docmodel.models.nvdm.training import TrainSettings, build, train
from docmodel.noise import batch_noise
from docmodel.threads import training
from docmodel.topwords import word_frequencies_from_counts

WORD_SCALE = 2.0
"""``word_distributions`` places a document this many prior standard deviations out along one
dimension (z = s e_k): p(w | k) = softmax(b + s R[:, k])."""

# Evaluation batches hold at most this many S * B * V floats' worth of documents (as the SBN's);
# the batch size bounds memory only: each document's noise is its own (docmodel.noise).
_EVAL_ELEMENTS = 2**24


class NVDMTopicModel(TopicModel):
    """Neural variational document model (Miao, Yu & Blunsom 2016) as a :class:`TopicModel`.

    Parameters
    ----------
    n_units : int
        Latent dimensions K (the paper's 50 or 200).
    encoder_hidden : tuple of int
        Widths of the encoder MLP's ReLU hidden layers (the paper's two layers of 500).
    max_epochs : int
        Passes over the training documents at most.
    max_seconds : float or None
        Training time budget (checked after every minibatch).
    patience : int or None
        Stop after this many epochs without a better validation bound and keep the best
        epoch's parameters (None: train for ``max_epochs``).
    n_val_docs : int
        Training documents held out for early stopping when ``fit`` gets no ``X_val`` (at most a
        tenth of them).
    learning_rate : float
        Adam's step size, for encoder and decoder alike. The defaults (5e-4 with five samples)
        were chosen on held-out training documents of 20 Newsgroups by
        ``benchmarks/nvdm_settings.py`` (figures in the README).
    batch_size : int
        Documents per minibatch.
    n_samples : int
        Reparameterised samples of z per document and step (the paper's 1; more samples give the
        encoder a less noisy gradient).
    max_grad_norm : float or None
        Clip the gradient's Euclidean norm (of the minibatch's mean per-document loss, all
        parameters together) to this, and skip a step whose gradient is not finite (None: neither).
        The typical norm on 20 Newsgroups is about 20; rare steps reach 10^5 and more.
    encoder_dropout : float
        Probability of removing each word of a training document from the encoder's view in a
        training step (its count set to 0; the decoder still scores every word), as the SBN's
        ``encoder_dropout`` with whole words; 0: off. Validation and every estimate see whole
        documents.
    encoder_steps : int
        Extra updates of the encoder alone on each minibatch, each with fresh noise, before the
        joint update of encoder and decoder (0: the joint update only). Miao et al. alternate
        encoder and decoder updates; He et al. ("Lagging Inference Networks and Posterior
        Collapse in Variational Autoencoders", ICLR 2019) update the encoder more often than the
        decoder so that q keeps up with the model.
    kl_warmup_epochs : int
        Epochs over which the KL term's weight in the training loss rises linearly from 0 to 1
        (0: no warm-up). Validation and all estimates always use the full ELBO.
    random_state : int or None
        Seeds the initial weights, the validation split, the minibatch order and the noise.
    device : {"cpu", "cuda", "auto"}
    n_threads : int or None
        CPU threads of ``fit`` (None: the policy of :mod:`docmodel.threads`).

    Attributes
    ----------
    encoder_, decoder_ : Encoder, Decoder
        The trained networks (:mod:`docmodel.models.nvdm.networks`).
    config_ : NVDMConfig
    n_words_, vocabulary_, word_frequencies_
    history_ : list of dict
        One entry per epoch (``val_perplexity_bound``, ``train_elbo``, ``kl_weight``, ...).
    n_iter_, stopped_, best_epoch_, best_val_perplexity_bound_, train_seconds_
    dimensions_flipped_ : ndarray of bool, shape (n_units,)
        Dimensions whose sign was reversed by the orientation after training.
    """

    kind = KIND.kind
    unit_name = KIND.unit_name
    active_threshold = KIND.active_threshold
    """A dimension is on for a document when its posterior mean mu_k(x) exceeds this."""
    exact_likelihood = False

    def __init__(
        self,
        n_units: int = 50,
        *,
        encoder_hidden: tuple[int, ...] = (500, 500),
        max_epochs: int = 300,
        max_seconds: float | None = None,
        patience: int | None = 30,
        n_val_docs: int = 100,
        learning_rate: float = 5e-4,
        batch_size: int = 256,
        n_samples: int = 5,
        encoder_dropout: float = 0.0,
        encoder_steps: int = 0,
        kl_warmup_epochs: int = 0,
        max_grad_norm: float | None = 50.0,
        random_state: int | None = 0,
        device: str = "cpu",
        n_threads: int | None = None,
    ):
        self.n_units = n_units
        self.encoder_hidden = encoder_hidden
        self.max_epochs = max_epochs
        self.max_seconds = max_seconds
        self.patience = patience
        self.n_val_docs = n_val_docs
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.n_samples = n_samples
        self.encoder_dropout = encoder_dropout
        self.encoder_steps = encoder_steps
        self.kl_warmup_epochs = kl_warmup_epochs
        self.max_grad_norm = max_grad_norm
        self.random_state = random_state
        self.device = device
        self.n_threads = n_threads

    # ---- configuration -------------------------------------------------------------------
    def _settings(self, seed: int) -> TrainSettings:
        """The training settings, every parameter checked (a ModelError names a bad one)."""

        def count(name, minimum=1):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
                raise ModelError(f"{name} must be an integer >= {minimum}, got {value!r}")
            return int(value)

        for name in ("n_units", "max_epochs", "batch_size", "n_samples", "n_val_docs"):
            count(name)
        count("kl_warmup_epochs", 0)
        count("encoder_steps", 0)
        if self.patience is not None:
            count("patience")
        self._hidden()
        if not (isinstance(self.learning_rate, (int, float)) and 0 < self.learning_rate < float("inf")):
            raise ModelError(f"learning_rate must be a positive number, got {self.learning_rate!r}")
        if self.max_seconds is not None and not (isinstance(self.max_seconds, (int, float)) and self.max_seconds > 0):
            raise ModelError(f"max_seconds must be positive or None, got {self.max_seconds!r}")
        if self.max_grad_norm is not None and not (
            isinstance(self.max_grad_norm, (int, float)) and 0 < self.max_grad_norm < float("inf")
        ):
            raise ModelError(f"max_grad_norm must be a positive number or None, got {self.max_grad_norm!r}")
        if isinstance(self.encoder_dropout, bool) or not (
            isinstance(self.encoder_dropout, (int, float)) and 0 <= self.encoder_dropout < 1
        ):
            raise ModelError(f"encoder_dropout must be a number in [0, 1), got {self.encoder_dropout!r}")
        return TrainSettings(
            learning_rate=float(self.learning_rate), batch_size=int(self.batch_size), n_samples=int(self.n_samples),
            kl_warmup_epochs=int(self.kl_warmup_epochs), max_epochs=int(self.max_epochs),
            max_seconds=self.max_seconds, patience=self.patience, seed=seed,
            max_grad_norm=None if self.max_grad_norm is None else float(self.max_grad_norm),
            encoder_dropout=float(self.encoder_dropout), encoder_steps=int(self.encoder_steps),
        )

    def _hidden(self) -> tuple[int, ...]:
        hidden = self.encoder_hidden
        if isinstance(hidden, (int, np.integer)) and not isinstance(hidden, bool):
            hidden = (hidden,)
        try:
            widths = tuple(hidden)
        except TypeError:
            widths = None
        if widths is None or any(isinstance(h, bool) or not isinstance(h, (int, np.integer)) or h < 1 for h in widths):
            raise ModelError(f"encoder_hidden must be a sequence of positive layer widths, got {self.encoder_hidden!r}")
        return tuple(int(h) for h in widths)

    def _seed(self) -> int:
        if self.random_state is None:
            return int(np.random.default_rng().integers(2**31))
        if isinstance(self.random_state, bool) or not isinstance(self.random_state, (int, np.integer)):
            raise ModelError(f"random_state must be an integer or None, got {self.random_state!r}")
        return int(self.random_state)

    # ---- training ------------------------------------------------------------------------
    def fit(self, X, y=None, *, vocabulary=None, X_val=None, callback: ProgressCallback | None = None):
        """Train on counts ``X`` (n_docs, n_words).

        Parameters
        ----------
        X : sparse or array, shape (n_docs, n_words)
        y : ignored
            scikit-learn's convention for unsupervised estimators.
        vocabulary : Vocabulary or sequence of str, optional
            The words of the columns of ``X``.
        X_val : sparse or array, shape (n_val, n_words), optional
            Validation documents for early stopping; by default ``n_val_docs`` training
            documents are held out at random (seeded) and not trained on.
        callback : callable, optional
            Called with each epoch's history entry and with progress entries within epochs;
            returning True stops training and keeps the best parameters so far.

        Returns
        -------
        self
        """
        seed = self._seed()
        settings = self._settings(seed)
        device = resolve_device(self.device)
        vocabulary = self._input_features(X, vocabulary)
        X = check_counts(X)
        X = non_empty(X)
        X_given = X
        X, X_val = holdout(X, X_val, self.n_val_docs, seed)
        n_words = X.shape[1]
        vocab = as_vocabulary(vocabulary, n_words)
        config = NVDMConfig(n_words=n_words, n_units=int(self.n_units), encoder_hidden=self._hidden())
        widths = (n_words,) + config.encoder_hidden
        # Multiply-adds of one step on the CPU: the encoder's layers (forward and two backward
        # products) and the word layer for every sample.
        work = settings.batch_size * (3 * sum(a * b for a, b in zip(widths, widths[1:] + (2 * config.n_units,)))
                                      + 3 * settings.n_samples * config.n_units * n_words)
        with training(work if device.type == "cpu" else 0.0, self.n_threads):
            encoder, decoder = build(config, X, seed)
            encoder.to(device)
            decoder.to(device)
            result = train(encoder, decoder, X, X_val, settings, device, callback)
        self.config_, self.encoder_, self.decoder_ = config, encoder.eval(), decoder.eval()
        self.n_words_ = self.n_features_in_ = n_words
        self.vocabulary_ = vocab
        result.set_fitted(self)
        self.word_frequencies_ = word_frequencies_from_counts(X.sum(axis=0))
        self.dimensions_flipped_ = self._orient(X_given)
        return self

    @torch.no_grad()
    def _orient(self, X) -> np.ndarray:
        """Reverse the sign of every dimension for which fewer documents of ``X`` have
        mu_k > threshold than mu_k < -threshold: z_k -> -z_k with R[:, k] -> -R[:, k] and the
        encoder's mean head negated for k is the same model (the prior is symmetric). Returns
        which dimensions were reversed."""
        mu = self.transform(X)
        flip = (mu < -self.active_threshold).sum(0) > (mu > self.active_threshold).sum(0)
        sign = torch.ones(self.config_.n_units, device=self._device())
        sign[torch.from_numpy(flip).to(sign.device)] = -1.0
        self.decoder_.words.weight.mul_(sign)
        self.encoder_.mean.weight.mul_(sign[:, None])
        self.encoder_.mean.bias.mul_(sign)
        return flip

    # ---- fitted quantities ---------------------------------------------------------------
    @property
    def n_units_(self) -> int:
        self._check_fitted()
        return self.config_.n_units

    def _device(self) -> torch.device:
        return self.decoder_.words.weight.device

    def _eval_batch(self, n_samples: int) -> int:
        """Documents per evaluation batch."""
        return max(1, min(2048, _EVAL_ELEMENTS // max(1, n_samples * self.n_words_)))

    def _batches(self, X, n_samples: int):
        """Dense minibatches of checked counts ``X`` on the model's device, in order."""
        B, rows = self._eval_batch(n_samples), CSRRows(X, self._device())
        for lo in range(0, X.shape[0], B):
            yield rows.span(lo, min(lo + B, X.shape[0]))

    def _noise(self, X, n_samples: int, random_state):
        """Each evaluation batch's per-document noise (:mod:`docmodel.noise`)."""
        return batch_noise(X, random_state, self._eval_batch(n_samples))

    @torch.no_grad()
    def transform(self, X) -> np.ndarray:
        """Posterior means mu(x) of q(z | x), shape (n_docs, n_units)."""
        self._check_fitted()
        out = [self.encoder_(x)[0].double().cpu().numpy() for x in self._batches(self._counts(X), 1)]
        return np.concatenate(out) if out else np.zeros((0, self.n_units_))

    def unit_word(self) -> np.ndarray:
        """R transposed, shape (n_units, n_words): how much each word's logit rises per unit of z_k.
        A document's dimension k adds mu_k R[w, k] to word w's logit, so a negative mean lowers
        the words R[:, k] raises."""
        self._check_fitted()
        return self.decoder_.words.weight.detach().double().cpu().numpy().T.copy()

    def word_distributions(self) -> np.ndarray:
        """p(w | k) = softmax(b + s R[:, k]) with s = ``WORD_SCALE`` (a document at z = s e_k,
        every other dimension at the prior mean), shape (n_units, n_words), rows summing to one."""
        self._check_fitted()
        R = self.decoder_.words.weight.detach().double().cpu()
        b = self.decoder_.words.bias.detach().double().cpu()
        return torch.softmax(b[None, :] + WORD_SCALE * R.T, dim=1).numpy()

    # ---- the three estimates -------------------------------------------------------------
    def _check_samples(self, n_samples) -> int:
        self._check_fitted()
        if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
            raise ModelError(f"n_samples must be a positive integer, got {n_samples!r}")
        return int(n_samples)

    def _estimate(self, estimate, X, n_samples: int, random_state) -> np.ndarray:
        n_samples = self._check_samples(n_samples)
        X = self._counts(X)
        out = estimate(self.encoder_, self.decoder_, self._batches(X, n_samples), n_samples,
                       self._noise(X, n_samples, random_state))
        # An empty document has probability one (log 0), whatever z is.
        out[np.asarray(X.sum(axis=1)).ravel() == 0] = 0.0
        return out

    def log_likelihood_bound(self, X, *, n_samples: int = 10, random_state=0) -> np.ndarray:
        """Mean of ``n_samples`` single-sample bounds log p(x, z_s) - log q(z_s | x), z_s ~ q(z | x),
        per document, shape (n_docs,): an unbiased estimate of the ELBO (the SBN's bound)."""
        return self._estimate(bound, X, n_samples, random_state)

    def log_likelihood_is(self, X, *, n_samples: int = 100, random_state=0) -> np.ndarray:
        """log (1/S) sum_s p(x, z_s) / q(z_s | x), z_s ~ q(z | x): importance-sampled log p(x) per
        document, shape (n_docs,). In expectation a lower bound on log p(x), tighter than the
        ELBO, converging to log p(x) as S grows."""
        return self._estimate(importance_sampled, X, n_samples, random_state)

    def log_likelihood_completion(self, X_observed, X_heldout, *, n_samples: int = 100, random_state=0) -> np.ndarray:
        """log (1/S) sum_s p(x_heldout | z_s), z_s ~ q(z | x_observed), per document, shape
        (n_docs,): only the observed half informs the posterior; the held-out half is scored. The
        noise is keyed by the observed half, the document q sees."""
        n_samples = self._check_samples(n_samples)
        X_obs, X_held = self._counts(X_observed), self._counts(X_heldout)
        if X_obs.shape != X_held.shape:
            raise ModelError("observed and held-out halves must have the same shape")
        pairs = zip(self._batches(X_obs, n_samples), self._batches(X_held, n_samples))
        # (An empty held-out half scores log 1 = 0 exactly.)
        return completion(self.encoder_, self.decoder_, pairs, n_samples, self._noise(X_obs, n_samples, random_state))

    # ---- checkpoints ---------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write a plain-data checkpoint (a model directory or a ``.pt`` file)."""
        self._check_fitted()
        return save_checkpoint(path, persistence.payload(self))

    @classmethod
    def from_checkpoint(cls, data: dict) -> NVDMTopicModel:
        """Rebuild a fitted model from :func:`docmodel.checkpoint.load_checkpoint` output."""
        return persistence.restore(cls, data)
