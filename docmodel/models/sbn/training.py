"""The training loop for SBN document models: NVIL, wake-sleep, plain REINFORCE or the concrete
relaxation (:mod:`.relaxed`).

:func:`train` walks shuffled minibatches of a CSR count matrix (each minibatch is made dense on
its own, on the training device; the corpus never is), takes optimiser steps, measures the
validation bound after whole epochs, keeps the best parameters (early stopping) and reports
progress through a callback and ``logging``: besides the validations, a progress-only entry at
most once a second and, when asked, interim validations every few seconds early in a run, so that
a display moves from the first second; a callback that asks to stop is obeyed after the current
minibatch. Non-finite losses or gradients roll back to the last good parameters and lower the
learning rates. The same loop runs as one worker of a data-parallel job
(:mod:`docmodel.models.sbn.distributed`) when given its hooks. The pieces it
uses live beside it: minibatches in :mod:`.batching`, the networks bundle, parameter average,
validation bound and resume state in :mod:`.state`.

Per step it avoids what costs more than the arithmetic at this model size: scipy objects per
minibatch (:class:`~docmodel.models.batching.CSRRows` gathers the stored entries with NumPy
and scatters them on the device), the multi-tensor Adam (the fused one is several times faster
on CPU), a gradient rescale by 1.0 when no clipping is needed, and host synchronisations (one
per step).
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

from docmodel.errors import ModelError
from docmodel.models.batching import CSRRows, epoch_order
from docmodel.models.epochs import PROGRESS_EVERY
from docmodel.models.sbn.coherence import CoherencePrior
from docmodel.models.sbn.config import TrainConfig
from docmodel.models.sbn.distributed import Local
from docmodel.models.sbn.nvil import VarianceReduction
from docmodel.models.sbn.relaxed import relaxed_estimate
from docmodel.models.sbn.scoring import bound_per_doc
from docmodel.models.sbn.state import (
    Networks,
    ParameterAverage,
    from_plain,
    load_training_state,
    stats_on,
    to_plain,
    write_training_state,
)
from docmodel.models.sbn.wake_sleep import nvil_on_dreams, wake_sleep_step

log = logging.getLogger(__name__)

# Fewest optimiser steps between two validations (see train()).
MIN_ROUND_STEPS = 100
MAX_ROLLBACKS = 20
# With cfg.plateau_drop: validations in a row without a bound better by PLATEAU_MIN_GAIN
# (relative) before the rates drop.
PLATEAU_ROUNDS = 3
PLATEAU_MIN_GAIN = 1e-3
# Interim validations (for a live display only; see _Run.interim_due): at most every
# INTERIM_SECONDS, every INTERIM_SPACING of the time trained so far, and never more than
# 1 / INTERIM_COST_FACTOR of the training time.
INTERIM_SECONDS = 1.0
INTERIM_SPACING = 0.1
INTERIM_COST_FACTOR = 10.0


def _optimizer(nets: Networks, cfg: TrainConfig) -> torch.optim.Optimizer:
    enc_lr = cfg.encoder_learning_rate or cfg.learning_rate
    base_lr = cfg.baseline_learning_rate or enc_lr
    groups = [
        {"params": list(nets.model.parameters()), "lr": cfg.learning_rate, "weight_decay": cfg.weight_decay},
        {"params": list(nets.encoder.parameters()), "lr": enc_lr, "weight_decay": cfg.weight_decay},
        {"params": list(nets.baselines.parameters()), "lr": base_lr, "weight_decay": 0.0},
    ]
    # The fused kernels do the same arithmetic in one pass over each tensor; on CPU the
    # multi-tensor Adam costs more than the rest of a 20 Newsgroups step.
    fused = next(nets.model.parameters()).device.type in ("cpu", "cuda")
    if cfg.optimizer == "adam":
        return torch.optim.Adam(groups, fused=fused)
    return torch.optim.SGD(groups, momentum=0.0, fused=fused)


def train(
    nets: Networks,
    X: sp.csr_matrix,
    X_val: sp.csr_matrix,
    cfg: TrainConfig,
    *,
    callback=None,
    device: torch.device | str = "cpu",
    state_path: Path | None = None,
    resume: bool = False,
    state_every_seconds: float = 30.0,
    parallel: Local | None = None,
    interim_validations: bool = False,
) -> dict:
    """Train ``nets`` in place on counts ``X`` (n_docs, V); keep the best validation bound.

    Parameters
    ----------
    X, X_val : csr_matrix, shapes (n_docs, V) and (n_val, V)
    callback : callable(dict) -> bool or None
        Called after every validation with the metrics, while the validated parameters are in
        place (the averaged ones when ``cfg.ema_decay`` is set); returning True stops training
        after the current minibatch (the best parameters so far are kept). It is also called at
        most once a second between validations with a progress-only entry (``step``, ``epoch``
        done, ``epochs`` as a fraction, ``docs_seen``, ``seconds``, ``progress``).
    state_path : Path, optional
        Where to write the complete training state after validations (atomically), so that a
        killed run can continue.
    resume : bool
        Continue from ``state_path`` if it exists; the result is the same as an uninterrupted
        run with the same seed.
    state_every_seconds : float
        Write the state after a validation only if this long has passed since the last write
        (and always when training ends).
    parallel : docmodel.models.sbn.distributed.DataParallel, optional
        This process's hooks in a data-parallel job: each worker takes its shard of every
        global minibatch of ``cfg.batch_size``; only rank 0 runs ``callback`` and writes
        ``state_path``. None (the default) trains in this process alone.
    interim_validations : bool
        Also give ``callback`` *interim* validations (entries with ``interim: True``): the
        validation bound of the current parameters measured within a round, every few seconds
        early in a run and then less often, at most a tenth of the training time, for live
        displays (one process only). They keep no parameters, do not count for early stopping
        and use their own random numbers: the run's result does not depend on them.

    Returns
    -------
    dict
        ``history`` (one metrics dict per validation), ``best_val_perplexity_bound``,
        ``best_epoch``, ``stopped`` (why training ended), ``train_seconds``, ``epochs`` (begun,
        the last one perhaps cut short by the budget or a stop), ``rollbacks``, ``steps``,
        ``batch_size``.
    """
    run = _Run(nets, X, X_val, cfg, torch.device(device), parallel or Local(), callback, state_path, state_every_seconds,
               interim_validations)
    run.start(resume)
    while run.stopped is None and run.epoch < cfg.max_epochs:
        epoch = run.epoch + 1
        run.train_epoch(epoch)
        if run.stopped == "diverged":
            break
        if run.validation_due(epoch):
            run.validate(epoch)
        else:
            run.advance(epoch)
    return run.finish()


class _Run:
    """One training run of :func:`train`: its state, and the steps of its loop.

    Validation (and so early stopping and the callback) comes after whole epochs of at least
    ``MIN_ROUND_STEPS`` optimiser steps together (a *round*): on a small corpus an epoch is only a
    few steps, and patience counted in such epochs would stop training before it had started.
    ``progress`` (a plain dict, so that it can be saved for resume) holds ``epoch``, ``step``,
    ``docs_seen``, ``rollbacks``, ``seconds``, ``history``, ``stopped`` and ``stalled`` (validations
    since the last better bound or learning-rate drop).
    """

    def __init__(self, nets, X, X_val, cfg: TrainConfig, device, parallel, callback, state_path, state_every_seconds,
                 interim_validations=False):
        if parallel.world_size > 1 and cfg.algorithm in ("wake-sleep", "relaxed"):
            raise ModelError(f"distributed training supports nvil and reinforce, not {cfg.algorithm}")
        if parallel.world_size > 1 and cfg.encoder_dreams:
            raise ModelError("distributed training does not support encoder_dreams (--encoder-dreams); set it to 0")
        self.nets, self.X_val, self.cfg, self.device, self.parallel = nets, X_val, cfg, device, parallel
        self.callback, self.state_path, self.state_every_seconds = callback, state_path, state_every_seconds
        self.gen = torch.Generator(device=device).manual_seed(cfg.seed)
        self.vr = VarianceReduction.none() if cfg.algorithm == "reinforce" else cfg.variance_reduction
        self.opt = _optimizer(nets, cfg)
        self.lengths = torch.from_numpy(np.asarray(X.sum(axis=1)).ravel().astype(np.int64)).to(device)
        self.val_lengths = np.asarray(X_val.sum(axis=1)).ravel()
        self.n_docs = X.shape[0]
        self.batches = CSRRows(X, device)
        self.coherence = CoherencePrior(X, device) if cfg.coherence_weight or cfg.overlap_weight else None
        self.params = [p for m in (nets.model, nets.encoder, nets.baselines) for p in m.parameters()]
        self.ema = ParameterAverage(nets, cfg.ema_decay) if cfg.ema_decay else None
        nets.stats = stats_on(nets.stats, device)
        self.epochs_per_round = max(1, math.ceil(MIN_ROUND_STEPS / math.ceil(self.n_docs / cfg.batch_size)))
        self.progress = {"epoch": 0, "step": 0, "rollbacks": 0, "seconds": 0.0, "history": [], "stopped": None,
                         "stalled": 0}
        self.elbo_sum = None  # training bound, documents seen and start time of this round
        self.seen, self.round_start = 0, 0.0
        # The live reports between validations.
        self.cancel_requested = False
        self.interim = interim_validations and callback is not None and parallel.world_size == 1
        self.last_report = self.last_point = self.last_val_cost = 0.0
        self.interim_seconds = 0.0  # spent on interim validations this round (not training)

    @property
    def epoch(self) -> int:
        return self.progress["epoch"]

    @property
    def stopped(self) -> str | None:
        return self.progress["stopped"]

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def val_perplexity(self) -> float:
        val_gen = torch.Generator(device=self.device).manual_seed(self.cfg.seed + 1)
        b = bound_per_doc(self.nets, self.X_val, self.cfg.val_samples, val_gen, self.device)
        # Every worker holds the same parameters; rank 0's figure decides for all.
        return self.parallel.from_main(float(np.exp(-np.mean(b / self.val_lengths))))

    def start(self, resume: bool) -> None:
        """The starting point: a saved state (``resume``) or the initial parameters."""
        nets = self.nets
        if resume and self.state_path is not None and Path(self.state_path).exists():
            saved = load_training_state(self.state_path)
            nets.load(from_plain(saved["nets"]))
            nets.stats = stats_on(nets.stats, self.device)
            self.opt.load_state_dict(saved["optimizer"])
            self.gen.set_state(saved["generator"])
            if self.ema is not None and saved.get("ema") is not None:
                self.ema.average = [t.to(self.device) for t in saved["ema"]]
            self.best, self.best_epoch = saved["best"], saved["best_epoch"]
            self.best_state = from_plain(saved["best_state"])
            self.best_state["stats"] = stats_on(self.best_state["stats"], self.device)
            self.progress = saved["run"]
            log.info("resumed training at epoch %d from %s", self.epoch, self.state_path)
        else:
            self.best, self.best_epoch = self.val_perplexity(), 0
            self.best_state = nets.state()
        self.last_good = nets.state()
        self.t0 = time.perf_counter() - self.progress["seconds"]
        self.last_write = self.last_report = self.last_point = time.perf_counter()

    def save_state(self, force: bool = False) -> None:
        """Write the training state for ``--resume`` (rank 0 only; at most every
        ``state_every_seconds`` unless ``force``)."""
        if self.state_path is None or not self.parallel.is_main:
            return
        if not force and time.perf_counter() - self.last_write < self.state_every_seconds:
            return
        self.last_write = time.perf_counter()
        data = {
            "nets": to_plain(self.nets.state()),
            "optimizer": self.opt.state_dict(),
            "generator": self.gen.get_state(),
            "ema": None if self.ema is None else [t.detach().cpu().clone() for t in self.ema.average],
            "best": self.best,
            "best_epoch": self.best_epoch,
            "best_state": to_plain(self.best_state),
            "run": self.progress,
        }
        write_training_state(self.state_path, data)

    def train_epoch(self, epoch: int) -> None:
        """One pass over the shuffled training documents (cut short by the time budget or a
        divergence)."""
        if self.elbo_sum is None or (epoch - 1) % self.epochs_per_round == 0:
            self.elbo_sum = torch.zeros((), dtype=torch.float64, device=self.device)
            self.seen, self.round_start, self.interim_seconds = 0, time.perf_counter(), 0.0
        if self.coherence is not None:
            self.coherence.choose_words(self.nets.model.visible.weight)
        order = epoch_order(self.cfg.seed, epoch, self.n_docs)
        for start in range(0, self.n_docs, self.cfg.batch_size):
            if self.step(order[start : start + self.cfg.batch_size], epoch):
                break
            if self.callback is not None and self.parallel.is_main:
                self.report(epoch, min(start + self.cfg.batch_size, self.n_docs) / self.n_docs)

    def report(self, epoch: int, fraction: float) -> None:
        """Between validations: an interim validation when one is due, else a progress-only
        entry at most once a second (``fraction`` of epoch ``epoch`` is done)."""
        now = time.perf_counter()
        if now - self.last_report < PROGRESS_EVERY:
            return
        self.last_report = now
        elapsed, epochs = self.elapsed(), epoch - 1 + fraction
        entry = {
            "step": self.progress["step"], "epoch": epoch - 1, "epochs": epochs, "docs_seen": self.progress.get("docs_seen", 0),
            "seconds": elapsed, "progress": self.fraction_done(epochs, elapsed),
        }
        if self.interim and self.interim_due(now, elapsed):
            entry.update(self.interim_validation(), seconds=self.elapsed())
        if self.callback(entry):
            self.cancel_requested = True

    def interim_due(self, now: float, elapsed: float) -> bool:
        """Whether the time since the last validation point calls for an interim one: at least
        ``INTERIM_SECONDS``, a tenth of the time trained so far, and ten times what the last
        validation cost (so interim points cost at most a tenth of the training time)."""
        gap = max(INTERIM_SECONDS, INTERIM_SPACING * elapsed, INTERIM_COST_FACTOR * self.last_val_cost)
        return now - self.last_point >= gap

    def interim_validation(self) -> dict:
        """The validation bound of the parameters as they are now, for display only."""
        start = time.perf_counter()
        if self.ema is not None:
            self.ema.swap()
        val = self.val_perplexity()
        if self.ema is not None:
            self.ema.swap()
        self.last_point = time.perf_counter()
        self.last_val_cost = self.last_point - start
        self.interim_seconds += self.last_val_cost
        return {"val_perplexity_bound": val, "best_val_perplexity_bound": self.best, "interim": True}

    def fraction_done(self, epochs: float, elapsed: float) -> float:
        cfg = self.cfg
        return min(1.0, max(epochs / cfg.max_epochs, elapsed / cfg.max_seconds if cfg.max_seconds else 0.0))

    def loss(self, rows: np.ndarray):
        """The minibatch ``rows``' loss (this worker's shard, weighted by its share), the
        estimator's result, the running statistics after it, and the shard's size."""
        cfg, nets, parallel = self.cfg, self.nets, self.parallel
        # This worker's contiguous share of the global minibatch; a worker left without
        # documents runs the first one with weight 0 so that the collectives still meet.
        lo, hi = parallel.shard(len(rows))
        n_local = hi - lo
        x = self.batches.rows(rows[lo:hi] if n_local else rows[:1])
        noise = parallel.noise(self.gen, len(rows), lo, hi) if n_local else parallel.noise(self.gen, len(rows), 0, 1)
        if cfg.algorithm == "wake-sleep":
            out = wake_sleep_step(nets.model, nets.encoder, x, self.lengths, cfg.n_samples, self.gen)
            loss, new_stats = out.model_loss + out.encoder_loss, nets.stats
        elif cfg.algorithm == "relaxed":
            out = relaxed_estimate(nets.model, nets.encoder, x, cfg.relaxed_temperature, cfg.n_samples, noise,
                                   cfg.encoder_dropout, cfg.encoder_dropout_words)
            loss, new_stats = out.surrogate, nets.stats
        else:
            out = parallel.step(
                nets, x, nets.stats, self.vr, cfg.n_samples, noise, cfg.encoder_dropout, cfg.encoder_dropout_words,
                parallel.moments_reduction(n_local * cfg.n_samples),
            )
            loss, new_stats = out.surrogate + out.baseline_loss, out.stats
            if cfg.encoder_dreams:
                n_dreams = max(1, round(cfg.encoder_dreams * len(rows)))
                dreamt = nvil_on_dreams(
                    nets.model, nets.encoder, nets.baselines, n_dreams, self.lengths, nets.stats, self.vr,
                    cfg.n_samples, self.gen, cfg.encoder_dropout, cfg.encoder_dropout_words,
                )
                loss = loss + n_dreams / len(rows) * (dreamt.surrogate + dreamt.baseline_loss)
        if cfg.weight_l1:
            # A Laplace prior on U with rate weight_l1, spread over the training documents so
            # that its strength does not depend on the corpus size (the loss is per document).
            loss = loss + cfg.weight_l1 / self.n_docs * nets.model.visible.weight.abs().sum()
        if self.coherence is not None:
            # Per document, like the likelihood: the same strength on a small corpus as a large one.
            loss = loss + self.coherence.loss(nets.model.visible.weight, cfg.coherence_weight, cfg.overlap_weight)
        weight = n_local * parallel.world_size / len(rows)
        if weight != 1.0:
            # After the workers' gradients are averaged, this gives the global minibatch mean.
            loss = loss * weight
        return loss, out, new_stats, n_local

    def step(self, rows: np.ndarray, epoch: int) -> bool:
        """One optimiser step on minibatch ``rows``; True when the epoch must end here (time
        budget spent, or training diverged)."""
        cfg, nets = self.cfg, self.nets
        loss, out, new_stats, n_local = self.loss(rows)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.get_total_norm([p.grad for p in self.params if p.grad is not None])
        # The one host synchronisation of a step: the loss and the gradient norm together.
        loss_value, norm_value = torch.stack([loss.detach().to(grad_norm.dtype), grad_norm]).tolist()
        finite = math.isfinite(loss_value) and math.isfinite(norm_value)
        out_of_time = cfg.max_seconds is not None and self.elapsed() >= cfg.max_seconds
        # A stop asked for by the callback (rank 0) ends the epoch with the time budget's route.
        nonfinite, out_of_time, self.cancel_requested = self.parallel.any([not finite, out_of_time, self.cancel_requested])
        out_of_time = out_of_time or self.cancel_requested
        if nonfinite:
            return self.roll_back(epoch)
        if norm_value + 1e-6 > cfg.max_grad_norm:  # clip_grad_norm_'s coefficient < 1
            # Otherwise the coefficient is exactly 1 and scaling would change nothing.
            torch.nn.utils.clip_grads_with_norm_(self.params, cfg.max_grad_norm, grad_norm)
        self.opt.step()
        nets.model.project()
        if self.ema is not None:
            self.ema.update(self.progress["step"])
        nets.stats = new_stats
        self.progress["step"] += 1
        if n_local:
            self.elbo_sum += out.elbo.mean(0).sum().double()
            self.seen += n_local
        self.progress["docs_seen"] = self.progress.get("docs_seen", 0) + len(rows)
        return out_of_time

    def roll_back(self, epoch: int) -> bool:
        """After a non-finite loss or gradient: the last good parameters, half the learning rates,
        a fresh optimiser state. True (end the epoch) once it happened too often."""
        self.progress["rollbacks"] += 1
        self.nets.load(self.last_good)
        for group in self.opt.param_groups:
            group["lr"] *= 0.5
        self.opt.state.clear()
        log.warning(
            "non-finite loss or gradient at epoch %d step %d; rolled back to the last good "
            "parameters and halved the learning rates (now %.3g)",
            epoch, self.progress["step"], self.opt.param_groups[0]["lr"],
        )
        if self.progress["rollbacks"] > MAX_ROLLBACKS:
            self.progress["stopped"] = "diverged"
            return True
        return False

    def drop_learning_rates(self, epoch: int) -> None:
        """The validation bound stalled (no gain of ``PLATEAU_MIN_GAIN`` for ``PLATEAU_ROUNDS``
        validations): every learning rate times ``cfg.plateau_drop`` (the optimiser's moment
        estimates are kept)."""
        for group in self.opt.param_groups:
            group["lr"] *= self.cfg.plateau_drop
        self.progress["stalled"] = 0
        log.info("epoch %d: validation bound %.2g%% better or less for %d validations; learning rates now %.3g",
                 epoch, 100 * PLATEAU_MIN_GAIN, PLATEAU_ROUNDS, self.opt.param_groups[0]["lr"])

    def validation_due(self, epoch: int) -> bool:
        """At the end of a round, of the last epoch, of the time budget, or when the callback
        asked to stop."""
        if not (epoch % self.epochs_per_round and epoch < self.cfg.max_epochs):
            return True
        budget_hit = self.cfg.max_seconds is not None and self.elapsed() >= self.cfg.max_seconds
        budget_hit, self.cancel_requested = self.parallel.any([budget_hit, self.cancel_requested])
        return budget_hit or self.cancel_requested

    def advance(self, epoch: int) -> None:
        self.progress["epoch"], self.progress["seconds"] = epoch, self.elapsed()

    def validate(self, epoch: int) -> None:
        """Measure the validation bound, keep the best parameters, report, and decide whether
        to stop."""
        cfg, parallel = self.cfg, self.parallel
        round_seconds = time.perf_counter() - self.round_start - self.interim_seconds
        elbo_total, seen = parallel.sum([float(self.elbo_sum), float(self.seen)])
        if self.ema is not None:
            self.ema.swap()
        val_start = time.perf_counter()
        val = self.val_perplexity()
        self.last_point = time.perf_counter()
        self.last_val_cost = self.last_point - val_start
        gained = val < self.best * (1 - PLATEAU_MIN_GAIN)
        if val < self.best:
            self.best, self.best_state, self.best_epoch = val, self.nets.state(), epoch
        self.progress["stalled"] = 0 if gained else self.progress.get("stalled", 0) + 1
        elapsed = self.elapsed()
        if cfg.plateau_drop is not None and self.progress["stalled"] >= PLATEAU_ROUNDS:
            self.drop_learning_rates(epoch)
        metrics = {
            "epoch": epoch,
            "step": self.progress["step"],
            "seconds": elapsed,
            "train_elbo": elbo_total / max(seen, 1),
            "val_perplexity_bound": val,
            "best_val_perplexity_bound": self.best,
            "docs_per_second": seen / max(round_seconds, 1e-9),
            "learning_rate": self.opt.param_groups[0]["lr"],
            "progress": self.fraction_done(epoch, elapsed),
        }
        self.progress["history"].append(metrics)
        self.progress["epoch"], self.progress["seconds"] = epoch, elapsed
        log.info("epoch %d: val perplexity (bound) %.1f, best %.1f, %.0f docs/s", epoch, val, self.best, metrics["docs_per_second"])
        stopped = None
        if parallel.is_main:
            # The callback sees the parameters just validated (the averaged ones with EMA).
            if self.callback is not None and (self.callback(dict(metrics)) or self.cancel_requested):
                stopped = "cancelled"
            elif epoch - self.best_epoch >= cfg.patience * self.epochs_per_round:
                stopped = "early_stopping"
            elif cfg.max_seconds is not None and elapsed >= cfg.max_seconds:
                stopped = "time_budget"
        if self.ema is not None:
            self.ema.swap()
        if math.isfinite(val):
            self.last_good = self.nets.state()
        self.progress["stopped"] = parallel.from_main(stopped)
        self.save_state(force=self.stopped is not None)

    def finish(self) -> dict:
        """The best parameters in place, and the summary :func:`train` returns."""
        if self.stopped is None:
            self.progress["stopped"] = "max_epochs"
            self.save_state(force=True)
        self.nets.load(self.best_state)
        run = self.progress
        return {
            "history": run["history"],
            "best_val_perplexity_bound": self.best,
            "best_epoch": self.best_epoch,
            "stopped": run["stopped"],
            "train_seconds": run["seconds"],
            "epochs": run["epoch"],
            "rollbacks": run["rollbacks"],
            "steps": run["step"],
            "batch_size": self.cfg.batch_size,
        }
