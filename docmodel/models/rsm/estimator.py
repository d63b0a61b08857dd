"""The Replicated Softmax behind the project's estimator contract.

Salakhutdinov & Hinton, "Replicated Softmax: an Undirected Topic Model", NIPS 2009: trained by
contrastive divergence (:mod:`docmodel.models.rsm.training`) in the shared epoch loop
(:func:`docmodel.models.epochs.fit_epochs`), its likelihood estimated with annealed importance
sampling for the partition function (:mod:`docmodel.models.rsm.ais`). Every estimate is

    log p(v) = -F(v) - log Z_D,

exact except for log Z_D (the free energy F is a closed form); log Z_D is estimated once per
distinct length D in a call. There is no variational bound for an RSM.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.utils import check_random_state

from docmodel.base import ProgressCallback, TopicModel, as_vocabulary
from docmodel.checkpoint import save_checkpoint
from docmodel.counts import check_counts, non_empty
from docmodel.errors import ModelError
from docmodel.evaluation import perplexity_from_log_likelihood
from docmodel.models.device import resolve_device
from docmodel.models.epochs import fit_epochs, holdout
from docmodel.models.rsm import KIND, persistence
from docmodel.models.rsm.ais import PATHS, log_partition
from docmodel.models.rsm.network import RSM, RSMConfig
from docmodel.models.rsm.training import make_optimizer, train_epoch
from docmodel.threads import training
from docmodel.topwords import word_frequencies_from_counts

VAL_RUNS = 10
"""AIS runs of the validation estimate (the default ``n_samples`` of ``log_likelihood_bound``)."""
_ROWS = 1024  # documents made dense at once when scoring
_INIT_SCALE = 0.01  # std of the initial weights (Hinton, "A Practical Guide to Training RBMs", 2010)


class RSMTopicModel(TopicModel):
    """Replicated Softmax trained by CD-k, likelihoods by annealed importance sampling.

    Parameters
    ----------
    n_units : int
        Binary hidden units F.
    max_epochs : int
        Passes over the training documents.
    max_seconds : float or None
        Training time budget (checked after every minibatch).
    patience : int or None
        Stop after this many epochs without a better validation perplexity (None: never).
    n_val_docs : int
        Training documents held out for validation when ``X_val`` is not given (at most a tenth).
    learning_rate : float
        Adam's step size. 1e-3 was chosen on validation documents of 20 Newsgroups (NVDM split,
        50 units, 100 held-out training documents): 3e-3 and 1e-2 diverged within a few epochs,
        3e-4 was still far behind after four minutes.
    batch_size : int
        Documents per CD update (32: as good as 64 per second on 20 Newsgroups, and more updates
        per epoch on a corpus of a few hundred documents).
    cd_steps : int
        Gibbs steps k of CD-k.
    weight_decay : float
        Decoupled weight decay on W (AdamW's; the biases are not decayed). 0.1 kept the validation
        perplexity from climbing after its best epoch, as it did without decay.
    ais_steps : int
        Intermediate temperatures of the AIS estimate of log Z_D used by the three likelihood
        methods (``n_samples`` there is the number of AIS runs). 300: on 20 Newsgroups' test
        documents the per-document perplexity moved by 0.15% from 300 to 3,000.
    val_ais_steps : int
        Intermediate temperatures of the validation estimate (10 runs, the same seed every epoch).
    ais_path : {"length", "base-rate"}
        The annealing path (:mod:`docmodel.models.rsm.ais`): ``length`` anneals the document
        length from 0 and serves every length at once; ``base-rate`` is the paper's path from the
        base-rate model, run for every distinct length separately (far slower on long documents).
    ais_search : bool
        With the length path, count the mass of searched states of high probability exactly
        and let AIS estimate the rest (still unbiased for Z_D). False: plain AIS, which on an
        RSM trained on 20 Newsgroups fell 3 to 7 nats short of log Z_D for documents of 57 to
        1,000 tokens (1,000 temperatures, 100 runs).
    random_state : int or None
    device : {"cpu", "cuda", "auto"}

    Attributes
    ----------
    net_ : RSM
        The parameters (W is ``net_.weight``, shape (n_words, n_units)).
    base_bias_ : ndarray, shape (n_words,)
        The base-rate model's word logits: log of the smoothed training word frequencies.
    n_words_, vocabulary_, word_frequencies_, history_, stopped_, best_epoch_,
    best_val_perplexity_bound_, train_seconds_, n_iter_
        As for every :class:`~docmodel.base.TopicModel`; ``val_perplexity_bound`` in the history
        is the AIS estimate of the validation perplexity (there is no bound).
    """

    kind = KIND.kind
    unit_name = KIND.unit_name
    active_threshold = KIND.active_threshold
    exact_likelihood = False

    def __init__(
        self,
        n_units: int = 50,
        *,
        max_epochs: int = 200,
        max_seconds: float | None = None,
        patience: int | None = 10,
        n_val_docs: int = 100,
        learning_rate: float = 1e-3,
        batch_size: int = 32,
        cd_steps: int = 1,
        weight_decay: float = 0.1,
        ais_steps: int = 300,
        val_ais_steps: int = 100,
        ais_path: str = "length",
        ais_search: bool = True,
        random_state: int | None = 0,
        device: str = "cpu",
    ):
        self.n_units = n_units
        self.max_epochs = max_epochs
        self.max_seconds = max_seconds
        self.patience = patience
        self.n_val_docs = n_val_docs
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.cd_steps = cd_steps
        self.weight_decay = weight_decay
        self.ais_steps = ais_steps
        self.val_ais_steps = val_ais_steps
        self.ais_path = ais_path
        self.ais_search = ais_search
        self.random_state = random_state
        self.device = device

    # ---- configuration -------------------------------------------------------------------
    def _validate_params(self) -> None:
        for name in ("n_units", "max_epochs", "n_val_docs", "batch_size", "cd_steps", "ais_steps", "val_ais_steps"):
            _positive_int(name, getattr(self, name))
        if self.patience is not None:
            _positive_int("patience", self.patience)
        if self.max_seconds is not None and not _number(self.max_seconds) > 0:
            raise ModelError(f"max_seconds must be positive or None, got {self.max_seconds!r}")
        if not _number(self.learning_rate) > 0:
            raise ModelError(f"learning_rate must be positive, got {self.learning_rate!r}")
        if not _number(self.weight_decay) >= 0:
            raise ModelError(f"weight_decay must be non-negative, got {self.weight_decay!r}")
        if self.ais_path not in PATHS:
            raise ModelError(f"ais_path must be one of {', '.join(PATHS)}; got {self.ais_path!r}")
        if not isinstance(self.ais_search, (bool, np.bool_)):
            raise ModelError(f"ais_search must be True or False, got {self.ais_search!r}")
        resolve_device(self.device)

    # ---- training ------------------------------------------------------------------------
    def fit(self, X, y=None, *, vocabulary=None, X_val=None, callback: ProgressCallback | None = None):
        """Train on counts ``X`` by contrastive divergence.

        Parameters
        ----------
        X : sparse or array, shape (n_docs, n_words)
            Training word counts (empty documents are dropped).
        y : ignored
        vocabulary : Vocabulary or sequence of str, optional
        X_val : sparse or array, shape (n_val, n_words), optional
            Validation documents; by default ``n_val_docs`` training documents are held out.
            After every epoch their perplexity is estimated with AIS (10 runs,
            ``val_ais_steps`` temperatures, the same seed every time) and the best epoch's
            parameters are kept.
        callback : callable, optional
            Called with every history entry (and progress entries within epochs); returning
            True stops training and keeps the best parameters so far.

        Returns
        -------
        self
        """
        self._validate_params()
        device = resolve_device(self.device)
        vocabulary = self._input_features(X, vocabulary)
        X = check_counts(X)
        X = non_empty(X)
        if X.shape[0] == 0:
            raise ModelError("cannot train on documents without any word counts")
        seed = _seed(self.random_state)
        X, X_val = holdout(X, X_val, self.n_val_docs, seed)
        n_words = X.shape[1]
        self.n_words_, self.n_features_in_ = n_words, n_words
        self.vocabulary_ = as_vocabulary(vocabulary, n_words)
        counts = np.asarray(X.sum(axis=0), dtype=np.float64).ravel()
        self.word_frequencies_ = word_frequencies_from_counts(counts)
        self.base_bias_ = np.log(self.word_frequencies_)

        generator = torch.Generator(device=device).manual_seed(seed)
        net = RSM(RSMConfig(n_words, int(self.n_units))).to(device)
        with torch.no_grad():  # small random weights; word biases at the base rate (the unigram model)
            net.weight.normal_(0.0, _INIT_SCALE, generator=generator)
            net.word_bias.copy_(torch.from_numpy(self.base_bias_).float())
        self.net_ = net
        optimizer = make_optimizer(net, float(self.learning_rate), float(self.weight_decay))
        val_lengths = np.asarray(X_val.sum(axis=1), dtype=np.float64).ravel()

        def validate() -> float:
            log_p = self._log_likelihood(X_val, VAL_RUNS, self.val_ais_steps, seed)
            return perplexity_from_log_likelihood(log_p, val_lengths)

        def get_state():
            return {k: v.detach().clone() for k, v in net.state_dict().items()}

        work = float(self.batch_size) * n_words * self.n_units * (2 + 3 * self.cd_steps)
        with training(work if device.type == "cpu" else 0.0):
            result = fit_epochs(
                train_epoch=lambda epoch, clock: train_epoch(
                    net, optimizer, X, batch_size=int(self.batch_size), cd_steps=int(self.cd_steps),
                    generator=generator, clock=clock, device=device),
                validate=validate, get_state=get_state, set_state=net.load_state_dict,
                max_epochs=int(self.max_epochs), max_seconds=self.max_seconds, patience=self.patience,
                callback=callback,
            )
        result.set_fitted(self)
        return self

    # ---- fitted quantities ---------------------------------------------------------------
    @property
    def n_units_(self) -> int:
        self._check_fitted()
        return int(self.net_.config.n_units)

    def _params64(self):
        """W (V, F), b (V,), a (F,) as float64 CPU tensors."""
        net = self.net_
        return (net.weight.detach().double().cpu(), net.word_bias.detach().double().cpu(),
                net.unit_bias.detach().double().cpu())

    def unit_word(self) -> np.ndarray:
        """W^T, shape (n_units, n_words): how much each unit raises each word's logit."""
        self._check_fitted()
        return self._params64()[0].t().numpy().copy()

    def word_distributions(self) -> np.ndarray:
        """p(w | unit j) = softmax(b + W[:, j]), shape (n_units, n_words): the token distribution
        given the hidden state in which unit j alone is on."""
        self._check_fitted()
        W, b, _ = self._params64()
        return torch.softmax(b[None, :] + W.t(), dim=1).numpy()

    def transform(self, X) -> np.ndarray:
        """p(h_j = 1 | v) = sigmoid(D a_j + W[:, j] . v), shape (n_docs, n_units)."""
        self._check_fitted()
        X = self._counts(X)
        W, b, a = self._params64()
        out = np.empty((X.shape[0], W.shape[1]))
        for lo in range(0, X.shape[0], _ROWS):
            x = torch.from_numpy(X[lo:lo + _ROWS].toarray()).double()
            out[lo:lo + _ROWS] = torch.sigmoid(x.sum(1, keepdim=True) * a + x @ W).numpy()
        return out

    def free_energy(self, X) -> np.ndarray:
        """F(v) = -b . v - sum_j softplus(D a_j + W[:, j] . v) of each document, shape (n_docs,)
        (float64; ``-F(v) - log Z_D`` is log p(v))."""
        self._check_fitted()
        X = self._counts(X)
        net = RSM(self.net_.config).double()
        net.load_state_dict({k: v.detach().double().cpu() for k, v in self.net_.state_dict().items()})
        out = np.empty(X.shape[0])
        with torch.no_grad():
            for lo in range(0, X.shape[0], _ROWS):
                out[lo:lo + _ROWS] = net.free_energy(torch.from_numpy(X[lo:lo + _ROWS].toarray()).double()).numpy()
        return out

    def log_partition(self, lengths, *, n_samples: int = 100, random_state=0) -> dict[int, float]:
        """AIS estimates of log Z_D for each distinct length in ``lengths`` (``n_samples`` runs,
        ``ais_steps`` temperatures, along ``ais_path``), as a dict length -> estimate."""
        self._check_fitted()
        return self._log_partition(lengths, _check_samples(n_samples), self.ais_steps, _seed(random_state))

    def _log_partition(self, lengths, n_runs: int, n_steps: int, seed: int) -> dict[int, float]:
        device = self.net_.weight.device
        generator = torch.Generator(device=device).manual_seed(seed)
        base = torch.from_numpy(self.base_bias_).to(device)
        return log_partition(self.net_, lengths, n_runs=n_runs, n_steps=n_steps, generator=generator,
                             path=self.ais_path, base_bias=base, search=bool(self.ais_search))

    def _log_likelihood(self, X, n_runs: int, n_steps: int, seed: int) -> np.ndarray:
        """-F(v) - log Z_D with log Z_D from one AIS call for all lengths of ``X``."""
        lengths = np.rint(np.asarray(X.sum(axis=1), dtype=np.float64).ravel()).astype(np.int64)
        log_z = self._log_partition(lengths, n_runs, n_steps, seed)
        log_p = -self.free_energy(X) - np.array([log_z[n] for n in lengths.tolist()])
        log_p[lengths == 0] = 0.0
        return log_p

    def log_likelihood_bound(self, X, *, n_samples: int = 10, random_state=0) -> np.ndarray:
        """The AIS estimate of :meth:`log_likelihood_is`, with ``n_samples`` (10) runs.

        An RSM has no variational lower bound; this is not one. AIS is unbiased for Z_D, so
        its logarithm is biased low and ``-F(v) - log Z_D`` is optimistic (too high) in
        expectation, more so with fewer runs. Shape (n_docs,).
        """
        return self.log_likelihood_is(X, n_samples=n_samples, random_state=random_state)

    def log_likelihood_is(self, X, *, n_samples: int = 100, random_state=0) -> np.ndarray:
        """log p(v) = -F(v) - log Z_D per document, log Z_D by AIS with ``n_samples`` runs and
        ``ais_steps`` temperatures along ``ais_path`` (with the mass of searched states counted
        exactly when ``ais_search``), estimated once per distinct length D in ``X``.

        Exact but for log Z_D. The AIS estimate of Z_D is unbiased, so its logarithm is biased
        low (Jensen) and the result is optimistic (too high) in expectation. Empty documents
        give 0. Deterministic given ``random_state``; the estimate of one document depends on
        the longest document of the call (the path's last temperature), not on the order of the
        rows.

        Returns
        -------
        ndarray, shape (n_docs,)
        """
        self._check_fitted()
        X = self._counts(X)
        return self._log_likelihood(X, _check_samples(n_samples), self.ais_steps, _seed(random_state))

    def log_likelihood_completion(self, X_observed, X_heldout, *, n_samples: int = 100, random_state=0):
        """An estimate of log p(v_heldout | v_observed): ``log p_D(v) - log p_d(v_observed)``.

        ``v = v_observed + v_heldout`` of length D, ``v_observed`` of length d, each scored by
        :meth:`log_likelihood_is` (one AIS call serves both lengths). An approximation beyond AIS:
        the RSM of length d is not the marginal of the RSM of length D over its first d tokens, so
        this is the ratio of two models' probabilities, not a conditional of one.

        Returns
        -------
        ndarray, shape (n_docs,)
        """
        self._check_fitted()
        X_observed = self._counts(X_observed)
        X_heldout = self._counts(X_heldout)
        if X_observed.shape[0] != X_heldout.shape[0]:
            raise ModelError(
                f"{X_observed.shape[0]} observed halves but {X_heldout.shape[0]} held-out halves; "
                "pass the two halves of the same documents"
            )
        n = X_observed.shape[0]
        both = sp.vstack([X_observed + X_heldout, X_observed]).tocsr()
        log_p = self._log_likelihood(both, _check_samples(n_samples), self.ais_steps, _seed(random_state))
        return log_p[:n] - log_p[n:]

    # ---- checkpoints (built and checked in persistence.py) ------------------------------
    def save(self, path: str | Path, *, metrics: dict | None = None) -> Path:
        """Write a plain-data checkpoint (see :mod:`docmodel.checkpoint`)."""
        return save_checkpoint(path, persistence.payload(self, metrics))

    @classmethod
    def from_checkpoint(cls, data: dict) -> RSMTopicModel:
        """Rebuild a fitted model from checkpoint data (as :func:`load_checkpoint` returns it)."""
        return persistence.restore(cls, data)



def _number(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return float("nan")
    return float(value)


def _positive_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ModelError(f"{name} must be a positive integer, got {value!r}")


def _check_samples(n_samples) -> int:
    _positive_int("n_samples", n_samples)
    return int(n_samples)


def _seed(random_state) -> int:
    """A torch seed from an int, None (fresh entropy) or a NumPy random state."""
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        return int(random_state) % 2**63
    return int(check_random_state(random_state).randint(2**31 - 1))
