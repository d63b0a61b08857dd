"""The training loop for LDA: scikit-learn's variational Bayes, one iteration at a time.

Training is scikit-learn's (Hoffman, Blei & Bach, "Online Learning for Latent Dirichlet
Allocation", NIPS 2010), never re-implemented: :func:`train` drives the estimator's
:class:`sklearn.decomposition.LatentDirichletAllocation` through its public ``partial_fit``, a
batch EM step or an online pass over shuffled minibatches per iteration, so that it can measure
the validation bound, keep to a time budget, stop early and let a callback stop it. It reports
progress through the callback and ``logging``. Why batch training through ``partial_fit`` is
exactly scikit-learn's batch VB is in the Notes of
:class:`~docmodel.models.lda.estimator.LDATopicModel`.

This module works on the estimator it is handed and never imports
:mod:`docmodel.models.lda.estimator`, which imports it.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import numpy as np

from docmodel.base import ProgressCallback

if TYPE_CHECKING:
    import scipy.sparse as sp

    from docmodel.models.lda.estimator import LDATopicModel

logger = logging.getLogger(__name__)


def train(
    model: LDATopicModel,
    X: sp.csr_matrix,
    X_val: sp.csr_matrix | None,
    val_lengths: np.ndarray | None,
    callback: ProgressCallback | None,
) -> None:
    """Run ``model.max_iter`` iterations of ``model.lda_`` on ``X`` (fewer if stopped).

    Sets the model's ``history_``, ``best_epoch_``, ``best_val_perplexity_bound_``,
    ``stopped_``, ``n_iter_`` and ``train_seconds_`` as the estimator's docstring describes;
    with ``patience`` the best iteration's topics are put back into ``model.lda_`` at the end.

    Parameters
    ----------
    model : LDATopicModel
        Parameters checked, ``lda_`` a fresh scikit-learn estimator (from ``model._sklearn``).
    X : csr_matrix, shape (n_docs, n_words)
        Training counts, float64.
    X_val : csr_matrix, shape (n_val, n_words), or None
        Validation counts, float64, no empty documents.
    val_lengths : ndarray, shape (n_val,), or None
        Word tokens in each validation document.
    callback : callable or None
        Called after every iteration with a copy of the history entry; True stops training.
    """
    lda = model.lda_
    rng = np.random.default_rng(model.random_state)
    model.history_ = []
    model.best_epoch_, model.best_val_perplexity_bound_ = None, None
    best_state = None
    start = time.perf_counter()
    # Stop reasons use the SBN trainer's words: max_iter, time_budget, cancelled, early_stopping.
    n_steps, model.stopped_ = 0, "max_iter"
    for epoch in range(1, model.max_iter + 1):
        n_steps += _one_pass(model, X, rng, start)
        out_of_time = _over_budget(model, start)
        elapsed = time.perf_counter() - start
        entry = {"step": n_steps, "epoch": epoch}
        if X_val is not None and (epoch % model.evaluate_every == 0 or out_of_time):
            log_p = model.log_likelihood_bound(X_val)
            val = float(np.exp(-np.mean(log_p / val_lengths)))
            entry["val_perplexity_bound"] = val
            if model.best_val_perplexity_bound_ is None or val < model.best_val_perplexity_bound_:
                model.best_epoch_, model.best_val_perplexity_bound_ = epoch, val
                if model.patience is not None:
                    best_state = (lda.components_.copy(), lda.exp_dirichlet_component_.copy(), lda.n_batch_iter_)
        entry["seconds"] = time.perf_counter() - start
        budget = elapsed / model.max_seconds if model.max_seconds else 0.0
        entry["progress"] = min(1.0, max(epoch / model.max_iter, budget))
        model.history_.append(entry)
        logger.info("lda iteration %d: %s", epoch, entry)
        if callback is not None and callback(dict(entry)):
            model.stopped_ = "cancelled"
        elif out_of_time:
            model.stopped_ = "time_budget"
        elif best_state is not None and epoch - model.best_epoch_ >= model.patience * model.evaluate_every:
            model.stopped_ = "early_stopping"
        else:
            continue
        logger.info("lda training stopped (%s) after iteration %d", model.stopped_, epoch)
        break
    if best_state is not None:
        # Early stopping keeps the iteration with the best validation bound.
        lda.components_, lda.exp_dirichlet_component_, lda.n_batch_iter_ = best_state
    model.n_iter_ = len(model.history_)
    model.train_seconds_ = time.perf_counter() - start


def _one_pass(model: LDATopicModel, X: sp.csr_matrix, rng: np.random.Generator, start: float) -> int:
    """One iteration: a batch EM step, or an online pass over shuffled minibatches.

    Returns the number of scikit-learn updates made.
    """
    if model.learning_method == "batch":
        model.lda_.partial_fit(X)
        return 1
    order = rng.permutation(X.shape[0])
    steps = 0
    for lo in range(0, X.shape[0], model.batch_size):
        model.lda_.partial_fit(X[order[lo : lo + model.batch_size]])
        steps += 1
        if _over_budget(model, start):
            break
    return steps


def _over_budget(model: LDATopicModel, start: float) -> bool:
    return model.max_seconds is not None and time.perf_counter() - start >= model.max_seconds
