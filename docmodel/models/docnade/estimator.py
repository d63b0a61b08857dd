"""``DocNADETopicModel``: DocNADE (Larochelle & Lauly, NIPS 2012) behind the estimator contract.

DocNADE gives the exact probability of a word *sequence* (:mod:`docmodel.models.docnade.network`).
A bag of words does not fix an order, so the convention is (:mod:`.sequences`):

* training draws a fresh random order of every document every epoch (the model learns to score
  any order of a bag);
* evaluation scores each document in one random order drawn from the method's ``random_state``
  (a seeded NumPy generator; no averaging over orders). The figure is the exact log-probability of
  that one word sequence: directly comparable with the other models' bag-of-words likelihoods,
  which are also the probability of one particular sequence (they leave out the multinomial
  coefficient).

So all three estimates are exact (``exact_likelihood = True``) and take no samples:
``log_likelihood_bound`` and ``log_likelihood_is`` both return log p(v) for the seeded order
(the same number for the same ``random_state``); ``log_likelihood_completion`` puts the observed
tokens first and the held-out ones after them (each half in its seeded order) and returns the sum
of the held-out positions' log p(v_i | v_<i), which is exactly log p(v_heldout | v_observed) for
that sequence. ``n_samples`` is accepted for the common contract and ignored: averaging
p(v_sigma) over S random orders sigma would estimate the order-averaged model's probability, and
its log-mean-exp is biased low for finite S, so it would no longer be exact.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from scipy.special import expit
from sklearn.utils import check_random_state

from docmodel.base import ProgressCallback, TopicModel, as_vocabulary
from docmodel.checkpoint import save_checkpoint
from docmodel.counts import check_counts
from docmodel.errors import ModelError
from docmodel.models.device import resolve_device
from docmodel.models.docnade import KIND, persistence
from docmodel.models.docnade.likelihood import sequence_log_probs
from docmodel.models.docnade.network import SOFTMAXES, DocNADE, DocNADEConfig
from docmodel.models.docnade.sequences import (
    bag_sequences,
    completion_sequences,
    doc_groups,
    doc_lengths,
    token_counts,
)
from docmodel.models.docnade.training import train
from docmodel.models.epochs import holdout
from docmodel.threads import training
from docmodel.topwords import word_frequencies_from_counts

EVAL_GROUP_TOKENS = 2**22
"""Evaluation expands at most this many tokens at a time (a longer document alone)."""


class DocNADETopicModel(TopicModel):
    """DocNADE document model trained with Adam on the exact log-likelihood.

    Parameters
    ----------
    n_units : int
        Hidden units H.
    softmax : {"full", "tree"}
        Output layer: ``full`` (default) a softmax over the vocabulary; ``tree`` the paper's
        binary-tree softmax, here a balanced tree over word ids (log2 n_words decisions per
        token instead of a pass over the vocabulary; see
        :func:`docmodel.models.docnade.network.balanced_tree`).
    max_epochs : int
        Passes over the training documents.
    max_seconds : float or None
        Training time budget (checked after every minibatch).
    patience : int or None
        Stop after this many epochs without a better validation figure (None: never); the best
        epoch's parameters are kept either way.
    n_val_docs : int
        Training documents held out for early stopping when ``fit`` gets no ``X_val`` (at most
        a tenth of them).
    learning_rate : float
        Adam's step size. The default, 1e-2 with minibatches of 64, was chosen on 1,000
        validation documents held out of the 20news_nvdm training split (50 units, 8 epochs on
        3,000 of the other training documents, initial weights of spread 0.01): per-document
        perplexity 1076, 947, 862 and 950 for 1e-3, 3e-3, 1e-2 and 3e-2; minibatches of 16 gave
        875 (3e-3) and 892 (1e-2); with the initial spread of 0.1 used now, 1e-2 gave 859.
    batch_size : int
        Documents per minibatch. The loss is the minibatch's mean negative log-probability per
        token; long minibatches are computed in runs of bounded memory
        (:mod:`docmodel.models.docnade.likelihood`).
    random_state : int or None
        Seeds the initial weights, the validation split, the training orders and minibatches.
    device : {"cpu", "cuda", "auto"}

    Attributes
    ----------
    net_ : DocNADE
    n_words_, vocabulary_, history_, stopped_, best_epoch_, best_val_perplexity_bound_,
    train_seconds_, n_iter_ (epochs run), word_frequencies_
    """

    kind = KIND.kind
    unit_name = KIND.unit_name
    active_threshold = KIND.active_threshold
    """A unit is on for a document when its activation sigmoid(c + W x)_k exceeds this."""
    exact_likelihood = True

    def __init__(
        self,
        n_units: int = 50,
        *,
        softmax: str = "full",
        max_epochs: int = 200,
        max_seconds: float | None = None,
        patience: int | None = 10,
        n_val_docs: int = 100,
        learning_rate: float = 1e-2,
        batch_size: int = 64,
        random_state: int | None = 0,
        device: str = "cpu",
    ):
        self.n_units = n_units
        self.softmax = softmax
        self.max_epochs = max_epochs
        self.max_seconds = max_seconds
        self.patience = patience
        self.n_val_docs = n_val_docs
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.random_state = random_state
        self.device = device

    # ---- configuration -------------------------------------------------------------------
    def _validate_params(self) -> None:
        def positive_int(name):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ModelError(f"{name} must be a positive integer, got {value!r}")

        for name in ("n_units", "max_epochs", "n_val_docs", "batch_size"):
            positive_int(name)
        if self.patience is not None:
            positive_int("patience")
        if self.softmax not in SOFTMAXES:
            raise ModelError(f"softmax must be one of {', '.join(SOFTMAXES)}; got {self.softmax!r}")
        if self.max_seconds is not None and not (isinstance(self.max_seconds, (int, float)) and self.max_seconds > 0):
            raise ModelError(f"max_seconds must be positive or None, got {self.max_seconds!r}")
        rate = self.learning_rate
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not (0 < rate < math.inf):
            raise ModelError(f"learning_rate must be a positive number, got {rate!r}")
        resolve_device(self.device)

    def _seed(self) -> int:
        if isinstance(self.random_state, (int, np.integer)) and not isinstance(self.random_state, bool):
            return int(self.random_state)
        return int(check_random_state(self.random_state).randint(2**31 - 1))

    @property
    def n_units_(self) -> int:
        self._check_fitted()
        return self.net_.config.n_units

    # ---- training ------------------------------------------------------------------------
    def fit(self, X, y=None, *, vocabulary=None, X_val=None, callback: ProgressCallback | None = None):
        """Train on counts ``X`` by maximising the exact log-likelihood with Adam.

        Every epoch reads every training document in a fresh random order. After every epoch
        the per-document perplexity exp(-mean(log p(v) / length)) of the validation documents
        (each in one fixed, seeded order) is measured; the parameters of the best epoch are kept.

        Parameters
        ----------
        X : sparse or array, shape (n_docs, n_words)
            Word counts (rounded to whole tokens; documents without tokens are dropped).
        y : ignored
        vocabulary : Vocabulary or sequence of str, optional
        X_val : sparse or array, shape (n_val, n_words), optional
            Validation documents; by default ``n_val_docs`` training documents are held out.
        callback : callable(dict) -> bool or None
            Called after every epoch (and with progress-only entries within one); returning
            True stops training and keeps the best parameters so far.

        Returns
        -------
        self
        """
        self._validate_params()
        device = resolve_device(self.device)
        vocabulary = self._input_features(X, vocabulary)
        X = check_counts(X)
        n_words = X.shape[1]
        vocab = as_vocabulary(vocabulary, n_words)
        X = token_counts(X)
        X = X[doc_lengths(X) > 0]
        seed = self._seed()
        X, X_val = holdout(X, X_val, self.n_val_docs, seed)
        X_val = token_counts(X_val)
        X_val = X_val[doc_lengths(X_val) > 0]
        if X_val.shape[0] == 0:
            raise ModelError("the validation documents have no whole word tokens (counts round to 0)")

        net = DocNADE(DocNADEConfig(n_words, int(self.n_units), self.softmax),
                      torch.Generator().manual_seed(seed))
        net.init_output_bias(word_frequencies_from_counts(X.sum(axis=0)))
        net.to(device)
        mean_tokens = float(X.sum()) / X.shape[0]
        per_token = n_words if self.softmax == "full" else max(1, int(np.ceil(np.log2(max(n_words, 2)))))
        work = 3.0 * int(self.batch_size) * mean_tokens * per_token * int(self.n_units)
        with training(work if device.type == "cpu" else 0.0):  # on a GPU the CPU only feeds it
            result = train(
                net, X, X_val, seed=seed, batch_size=int(self.batch_size), learning_rate=float(self.learning_rate),
                max_epochs=int(self.max_epochs), max_seconds=self.max_seconds, patience=self.patience,
                callback=callback,
            )
        self.net_ = net
        self.n_words_ = self.n_features_in_ = n_words
        self.vocabulary_ = vocab
        result.set_fitted(self)
        self.word_frequencies_ = word_frequencies_from_counts(X.sum(axis=0))
        return self

    # ---- representation and units --------------------------------------------------------
    def transform(self, X) -> np.ndarray:
        """Hidden activations after the whole document, sigmoid(c + W x).

        For whole-token counts this is h_{D+1}, the state after reading every token (the sum of
        W columns does not depend on the order). Non-integer counts enter W x as they are.

        Parameters
        ----------
        X : sparse or array, shape (n_docs, n_words)

        Returns
        -------
        ndarray of float64, shape (n_docs, n_units), in [0, 1]
        """
        self._check_fitted()
        X = self._counts(X)
        W = self.net_.W.detach().cpu().double().numpy()  # V,H
        c = self.net_.c.detach().cpu().double().numpy()
        return expit(np.asarray(X @ W) + c)

    def unit_word(self) -> np.ndarray:
        """How each unit raises each word, shape (n_units, n_words).

        Full softmax: V^T, the output weights (unit k adds V[w, k] to word w's logit). Tree
        softmax: log p(w | h = e_k) - log p(w | h = 0), the rise of the word's log-probability
        when unit k alone turns on.
        """
        self._check_fitted()
        if self.net_.config.softmax == "full":
            return self.net_.out_weight.detach().cpu().numpy().T.copy()
        with torch.no_grad():
            log_p = self._unit_states().log().cpu().numpy()
        return (log_p[1:] - log_p[:1]).astype(np.float32)

    def word_distributions(self) -> np.ndarray:
        """p(w | unit k): the next-word distribution with unit k on (activation 1) and every other
        unit off (0), i.e. softmax(b + V[:, k]) for the full softmax (the tree's product of
        decisions for the tree), shape (n_units, n_words), rows summing to one."""
        self._check_fitted()
        with torch.no_grad():
            p = self._unit_states()[1:].double().cpu().numpy()
        return p / p.sum(axis=1, keepdims=True)

    def _unit_states(self) -> torch.Tensor:
        """p(w | h) for h = 0 and h = e_k for every k, shape (1 + n_units, n_words)."""
        H = self.net_.config.n_units
        device = self.net_.W.device
        h = torch.cat([torch.zeros(1, H, device=device), torch.eye(H, device=device)])
        return self.net_.word_distribution(h)

    # ---- likelihoods ------------------------------------------------------------------------
    def _group_log_probs(self, lengths: np.ndarray, sequences) -> np.ndarray:
        groups = doc_groups(lengths, EVAL_GROUP_TOKENS)
        out = [sequence_log_probs(self.net_, sequences(rows)) for rows in groups]
        return np.concatenate(out) if out else np.zeros(0, dtype=np.float64)

    def _exact_log_p(self, X, random_state) -> np.ndarray:
        self._check_fitted()
        X = token_counts(self._counts(X))
        rng = _rng(random_state)
        return self._group_log_probs(doc_lengths(X), lambda rows: bag_sequences(X, rows, rng))

    def log_likelihood_bound(self, X, *, n_samples: int = 10, random_state=0) -> np.ndarray:
        """Exact log p(v) per document, each document read in one random order drawn from
        ``random_state`` (see the module docstring); ``n_samples`` is ignored.

        Parameters
        ----------
        X : sparse or array, shape (n_docs, n_words)

        Returns
        -------
        ndarray of float64, shape (n_docs,)
            Natural log, no multinomial coefficient; 0 for a document without tokens.
        """
        return self._exact_log_p(X, random_state)

    def log_likelihood_is(self, X, *, n_samples: int = 100, random_state=0) -> np.ndarray:
        """The same exact log p(v) as :meth:`log_likelihood_bound` (same ``random_state``, same
        order, same number); ``n_samples`` is ignored: there is nothing to sample."""
        return self._exact_log_p(X, random_state)

    def log_likelihood_completion(self, X_observed, X_heldout, *, n_samples: int = 100, random_state=0) -> np.ndarray:
        """Exact log p(v_heldout | v_observed) per document: the observed tokens first, then the
        held-out ones (each half in a random order drawn from ``random_state``), and the sum of
        the held-out positions' log p(v_i | v_<i). ``n_samples`` is ignored.

        Parameters
        ----------
        X_observed, X_heldout : sparse or array, shape (n_docs, n_words)

        Returns
        -------
        ndarray of float64, shape (n_docs,)
        """
        self._check_fitted()
        X_obs = token_counts(self._counts(X_observed))
        X_held = token_counts(self._counts(X_heldout))
        if X_obs.shape != X_held.shape:
            raise ModelError(
                f"{X_obs.shape[0]} observed halves but {X_held.shape[0]} held-out halves; "
                "pass the two halves of the same documents"
            )
        rng = _rng(random_state)
        lengths = doc_lengths(X_obs) + doc_lengths(X_held)
        return self._group_log_probs(lengths, lambda rows: completion_sequences(X_obs, X_held, rows, rng))

    # ---- checkpoints (built and checked in persistence.py) ---------------------------------
    def save(self, path: str | Path) -> Path:
        """Write a plain-data checkpoint (a model directory or a ``.pt`` file)."""
        self._check_fitted()
        return save_checkpoint(path, persistence.payload(self))

    @classmethod
    def from_checkpoint(cls, data: dict) -> DocNADETopicModel:
        """Rebuild a fitted model from :func:`docmodel.checkpoint.load_checkpoint` output."""
        return persistence.restore(cls, data)



def _rng(random_state) -> np.random.Generator:
    """The generator of the evaluation orders."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is None or (isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool)):
        return np.random.default_rng(random_state)
    raise ModelError(f"random_state must be an integer or None, got {random_state!r}")
