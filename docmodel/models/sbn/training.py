"""The training loop for SBN document models: NVIL, wake-sleep or plain REINFORCE.

One function, :func:`train`, walks shuffled minibatches of a CSR count matrix (each minibatch is
made dense on its own, on the training device; the corpus never is), takes optimiser steps,
measures the validation bound after every epoch, keeps the best parameters (early stopping) and
reports progress through a callback and ``logging``. Non-finite losses or gradients roll back to
the last good parameters and lower the learning rates. The same loop runs as one worker of a
data-parallel job (:mod:`docmodel.models.sbn.distributed`) when given its hooks.

Per step it avoids what costs more than the arithmetic at this model size: scipy objects per
minibatch (:class:`CSRRows` gathers the stored entries with NumPy and scatters them on the
device), the multi-tensor Adam (the fused one is several times faster on CPU), a gradient
rescale by 1.0 when no clipping is needed, and host synchronisations (one per step).
"""

from __future__ import annotations

import copy
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

from docmodel.checkpoint import atomic_write_bytes
from docmodel.errors import ModelError
from docmodel.models.sbn.distributed import Local
from docmodel.models.sbn.networks import SBN, Baselines, InferenceNetwork
from docmodel.models.sbn.nvil import RunningStats, VarianceReduction
from docmodel.models.sbn.wake_sleep import nvil_on_dreams, wake_sleep_step

log = logging.getLogger(__name__)

ALGORITHMS = ("nvil", "wake-sleep", "reinforce")
# Fewest optimiser steps between two validations (see train()).
MIN_ROUND_STEPS = 100
OPTIMIZERS = ("adam", "sgd")


def auto_batch_size(n_docs: int) -> int:
    """The automatic minibatch for ``n_docs`` training documents: a twentieth of them, between 64
    and 512. Large minibatches make a step cheaper per document (one pass over the vocabulary's
    weights serves more documents); twenty steps an epoch keep a small corpus learning."""
    return min(512, max(64, n_docs // 20))


@dataclass(frozen=True)
class TrainConfig:
    """How to train. Defaults: NVIL with all variance reduction, Adam, learning rate 3e-3 for the
    model and the inference network alike, minibatches of 64, one sample per document.

    ``optimizer="sgd"`` with ``learning_rate=3e-5``, ``encoder_learning_rate=6e-6`` and
    ``batch_size=20`` gives the paper's 20 Newsgroups settings.
    """

    algorithm: str = "nvil"
    variance_reduction: VarianceReduction = field(default_factory=VarianceReduction)
    optimizer: str = "adam"
    learning_rate: float = 3e-3
    encoder_learning_rate: float | None = None
    baseline_learning_rate: float | None = None
    batch_size: int = 64
    n_samples: int = 1
    max_epochs: int = 200
    max_seconds: float | None = None
    patience: int = 20
    val_samples: int = 10
    weight_decay: float = 0.0
    weight_l1: float = 0.0
    encoder_dropout: float = 0.0
    encoder_dropout_words: bool = False
    encoder_dreams: float = 0.0
    max_grad_norm: float = 1e4
    ema_decay: float | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise ModelError(f"algorithm must be one of {', '.join(ALGORITHMS)}; got {self.algorithm!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ModelError(f"optimizer must be one of {', '.join(OPTIMIZERS)}; got {self.optimizer!r}")
        for name in ("learning_rate", "max_grad_norm"):
            if not getattr(self, name) > 0:
                raise ModelError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("encoder_learning_rate", "baseline_learning_rate", "max_seconds"):
            v = getattr(self, name)
            if v is not None and not v > 0:
                raise ModelError(f"{name} must be positive, got {v}")
        for name in ("batch_size", "n_samples", "max_epochs", "val_samples"):
            if getattr(self, name) < 1:
                raise ModelError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.patience < 1:
            raise ModelError(f"patience must be at least 1, got {self.patience}")
        if self.ema_decay is not None and not 0 < self.ema_decay < 1:
            raise ModelError(f"ema_decay must be in (0, 1), got {self.ema_decay}")
        if not 0 <= self.encoder_dropout < 1:
            raise ModelError(f"encoder_dropout must be in [0, 1), got {self.encoder_dropout}")
        if not 0 <= self.encoder_dreams <= 16:
            raise ModelError(f"encoder_dreams must be in [0, 16] (dreamed documents per real one), got {self.encoder_dreams}")
        if self.encoder_dreams and self.algorithm != "nvil":
            raise ModelError("encoder_dreams applies to nvil training only")
        if self.weight_decay < 0:
            raise ModelError(f"weight_decay must be >= 0, got {self.weight_decay}")
        if not self.weight_l1 >= 0:
            raise ModelError(f"weight_l1 must be >= 0, got {self.weight_l1}")


@dataclass
class Networks:
    """The three trained parts and the NVIL running statistics."""

    model: SBN
    encoder: InferenceNetwork
    baselines: Baselines
    stats: RunningStats

    def state(self) -> dict:
        return {
            "model": copy.deepcopy(self.model.state_dict()),
            "encoder": copy.deepcopy(self.encoder.state_dict()),
            "baselines": copy.deepcopy(self.baselines.state_dict()),
            "stats": self.stats,
        }

    def load(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.encoder.load_state_dict(state["encoder"])
        self.baselines.load_state_dict(state["baselines"])
        self.stats = state["stats"]


class CSRRows:
    """Dense float32 minibatches from rows of a CSR count matrix.

    The stored entries of the requested rows are gathered with NumPy and scattered into a zeroed
    (B, V) tensor on the device, so only the nonzeros travel to a GPU and no scipy matrix is
    built per minibatch. The matrix itself is not copied when it is already float32 with
    canonical (sorted, summed) entries; it may be memory-mapped.

    Parameters
    ----------
    X : csr_matrix, shape (n_docs, V)
    device : torch.device
    """

    def __init__(self, X: sp.csr_matrix, device: torch.device | str = "cpu"):
        X = sp.csr_matrix(X, dtype=np.float32)
        if not X.has_canonical_format:
            X = X.copy()
            X.sum_duplicates()
        self.shape = X.shape
        self.indptr, self.indices, self.data = X.indptr.astype(np.int64), X.indices, X.data
        self.device = torch.device(device)

    def _scatter(self, n_rows: int, entries: np.ndarray, lens: np.ndarray) -> torch.Tensor:
        n_words = self.shape[1]
        flat = np.repeat(np.arange(n_rows, dtype=np.int64) * n_words, lens) + self.indices[entries]
        x = torch.zeros(n_rows * n_words, dtype=torch.float32, device=self.device)
        x.scatter_(0, torch.from_numpy(flat).to(self.device), torch.from_numpy(self.data[entries]).to(self.device))
        return x.view(n_rows, n_words)

    def rows(self, rows: np.ndarray) -> torch.Tensor:
        """Rows ``rows`` (any order) as a dense tensor, shape (len(rows), V)."""
        rows = np.asarray(rows, dtype=np.int64)
        starts = self.indptr[rows]
        lens = self.indptr[rows + 1] - starts
        ends = np.cumsum(lens)
        # Entry positions: each row's start, repeated over its entries, plus the offset within.
        entries = np.repeat(starts - ends + lens, lens) + np.arange(ends[-1] if len(ends) else 0)
        return self._scatter(len(rows), entries, lens)

    def span(self, lo: int, hi: int) -> torch.Tensor:
        """Rows ``lo .. hi - 1`` as a dense tensor, shape (hi - lo, V)."""
        entries = np.arange(self.indptr[lo], self.indptr[hi])
        return self._scatter(hi - lo, entries, np.diff(self.indptr[lo : hi + 1]))


def dense_rows(X: sp.csr_matrix, rows: np.ndarray, device: torch.device) -> torch.Tensor:
    """Rows of a CSR matrix as a dense float32 tensor, shape (len(rows), V)."""
    return CSRRows(X, device).rows(rows)


@torch.no_grad()
def bound_per_doc(nets: Networks, X: sp.csr_matrix, n_samples: int, generator, device, batch_size=512) -> np.ndarray:
    """Mean over ``n_samples`` single-sample bounds for each document, shape (n_docs,).

    Streams over ``X`` in batches of ``batch_size`` documents; the (S, B, V) logits are never
    held at once (see :func:`docmodel.models.sbn.networks.word_log_likelihood`).
    """
    batches = CSRRows(X, device)
    out = []
    for start in range(0, X.shape[0], batch_size):
        x = batches.span(start, min(start + batch_size, X.shape[0]))
        hs, log_qs = nets.encoder.sample(x, n_samples, generator)
        log_p = nets.model.log_p_x_given_h1(x, hs[0]) + torch.stack(nets.model.layer_log_probs(hs)).sum(0)
        out.append((log_p - torch.stack(log_qs).sum(0)).mean(0).double())
    return torch.cat(out).cpu().numpy() if out else np.zeros(0)


class ParameterAverage:
    """Exponential moving average of the model's and inference network's parameters.

    Validation, early stopping and the returned model use the averaged parameters, which
    smooths out the noise of single-sample gradient steps. The decay ramps up as
    min(decay, (1 + t) / (10 + t)) over steps t, so short runs are not dominated by the
    initial parameters.
    """

    def __init__(self, nets: Networks, decay: float):
        self.decay = decay
        self.params = [p for m in (nets.model, nets.encoder) for p in m.parameters()]
        self.average = [p.detach().clone() for p in self.params]

    @torch.no_grad()
    def update(self, step: int) -> None:
        decay = min(self.decay, (1.0 + step) / (10.0 + step))
        torch._foreach_lerp_(self.average, [p.detach() for p in self.params], 1.0 - decay)

    @torch.no_grad()
    def swap(self) -> None:
        """Exchange live and averaged parameters (call twice to undo)."""
        for p, a in zip(self.params, self.average):
            tmp = p.detach().clone()
            p.copy_(a)
            a.copy_(tmp)


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


def _stats_on(stats: RunningStats, device: torch.device) -> RunningStats:
    return RunningStats(stats.mean.to(device), stats.var.to(device), stats.count)


def _to_plain(state: dict) -> dict:
    out = dict(state)
    out["stats"] = state["stats"].to_dict()
    return out


def _from_plain(state: dict) -> dict:
    out = dict(state)
    out["stats"] = RunningStats.from_dict(state["stats"])
    return out


def _epoch_order(seed: int, epoch: int, n_docs: int) -> np.ndarray:
    # A fresh generator per epoch keeps the shuffle reproducible after a resume.
    return np.random.default_rng([seed, epoch]).permutation(n_docs)


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
) -> dict:
    """Train ``nets`` in place on counts ``X`` (n_docs, V); keep the best validation bound.

    Parameters
    ----------
    X, X_val : csr_matrix, shapes (n_docs, V) and (n_val, V)
    callback : callable(dict) -> bool or None
        Called after every epoch with the metrics, while the validated parameters are in place
        (the averaged ones when ``cfg.ema_decay`` is set); returning True stops training (the
        best parameters so far are kept).
    state_path : Path, optional
        Where to write the complete training state after every epoch (atomically), so that a
        killed run can continue.
    resume : bool
        Continue from ``state_path`` if it exists; the result is the same as an uninterrupted
        run with the same seed.
    state_every_seconds : float
        Write the state after an epoch only if this long has passed since the last write
        (and always when training ends).
    parallel : docmodel.models.sbn.distributed.DataParallel, optional
        This process's hooks in a data-parallel job: each worker takes its shard of every
        global minibatch of ``cfg.batch_size``; only rank 0 runs ``callback`` and writes
        ``state_path``. None (the default) trains in this process alone.

    Returns
    -------
    dict
        ``history`` (one metrics dict per epoch), ``best_val_perplexity_bound``, ``best_epoch``,
        ``stopped`` (why training ended), ``train_seconds``, ``rollbacks``, ``steps``.
    """
    device = torch.device(device)
    parallel = parallel or Local()
    if parallel.world_size > 1 and cfg.algorithm == "wake-sleep":
        raise ModelError("distributed training supports nvil and reinforce, not wake-sleep")
    if parallel.world_size > 1 and cfg.encoder_dreams:
        raise ModelError("distributed training does not support encoder_dreams (--encoder-dreams); set it to 0")
    gen = torch.Generator(device=device).manual_seed(cfg.seed)
    vr = VarianceReduction.none() if cfg.algorithm == "reinforce" else cfg.variance_reduction
    opt = _optimizer(nets, cfg)
    lengths = torch.from_numpy(np.asarray(X.sum(axis=1)).ravel().astype(np.int64)).to(device)
    val_lengths = np.asarray(X_val.sum(axis=1)).ravel()
    n_docs = X.shape[0]
    batches = CSRRows(X, device)
    params = [p for m in (nets.model, nets.encoder, nets.baselines) for p in m.parameters()]
    ema = ParameterAverage(nets, cfg.ema_decay) if cfg.ema_decay else None
    nets.stats = _stats_on(nets.stats, device)

    def val_perplexity() -> float:
        val_gen = torch.Generator(device=device).manual_seed(cfg.seed + 1)
        b = bound_per_doc(nets, X_val, cfg.val_samples, val_gen, device)
        # Every worker holds the same parameters; rank 0's figure decides for all.
        return parallel.from_main(float(np.exp(-np.mean(b / val_lengths))))

    run = {"epoch": 0, "step": 0, "rollbacks": 0, "seconds": 0.0, "history": [], "stopped": None}
    if resume and state_path is not None and Path(state_path).exists():
        saved = load_training_state(state_path)
        nets.load(_from_plain(saved["nets"]))
        nets.stats = _stats_on(nets.stats, device)
        opt.load_state_dict(saved["optimizer"])
        gen.set_state(saved["generator"])
        if ema is not None and saved.get("ema") is not None:
            ema.average = [t.to(device) for t in saved["ema"]]
        best, best_epoch, best_state = saved["best"], saved["best_epoch"], _from_plain(saved["best_state"])
        best_state["stats"] = _stats_on(best_state["stats"], device)
        run = saved["run"]
        log.info("resumed training at epoch %d from %s", run["epoch"], state_path)
    else:
        best, best_epoch = val_perplexity(), 0
        best_state = nets.state()
    last_good = nets.state()
    t0 = time.perf_counter() - run["seconds"]

    last_write = [time.perf_counter()]

    def save_state(force: bool = False) -> None:
        if state_path is None or not parallel.is_main:
            return
        if not force and time.perf_counter() - last_write[0] < state_every_seconds:
            return
        last_write[0] = time.perf_counter()
        data = {
            "nets": _to_plain(nets.state()),
            "optimizer": opt.state_dict(),
            "generator": gen.get_state(),
            "ema": None if ema is None else [t.detach().cpu().clone() for t in ema.average],
            "best": best,
            "best_epoch": best_epoch,
            "best_state": _to_plain(best_state),
            "run": run,
        }
        atomic_write_bytes(Path(state_path), lambda f: torch.save(data, f))

    # Validation (and so early stopping and the callback) comes after whole epochs of at least
    # MIN_ROUND_STEPS optimiser steps: on a small corpus an epoch is only a few steps, and
    # patience counted in such epochs would stop training before it had started.
    epochs_per_round = max(1, math.ceil(MIN_ROUND_STEPS / math.ceil(n_docs / cfg.batch_size)))
    elbo_sum = None  # training bound and documents seen since the last validation
    while run["stopped"] is None and run["epoch"] < cfg.max_epochs:
        epoch = run["epoch"] + 1
        order = _epoch_order(cfg.seed, epoch, n_docs)
        if elbo_sum is None or (epoch - 1) % epochs_per_round == 0:
            elbo_sum = torch.zeros((), dtype=torch.float64, device=device)
            seen, t_epoch = 0, time.perf_counter()
        for start in range(0, n_docs, cfg.batch_size):
            rows = order[start : start + cfg.batch_size]
            # This worker's contiguous share of the global minibatch; a worker left without
            # documents runs the first one with weight 0 so that the collectives still meet.
            lo, hi = parallel.shard(len(rows))
            n_local = hi - lo
            x = batches.rows(rows[lo:hi] if n_local else rows[:1])
            noise = parallel.noise(gen, len(rows), lo, hi) if n_local else parallel.noise(gen, len(rows), 0, 1)
            weight = n_local * parallel.world_size / len(rows)
            if cfg.algorithm == "wake-sleep":
                out = wake_sleep_step(nets.model, nets.encoder, x, lengths, cfg.n_samples, gen)
                loss = out.model_loss + out.encoder_loss
                new_stats = nets.stats
            else:
                stats = parallel.running_stats(nets.stats, n_local * cfg.n_samples)
                out = parallel.step(
                    nets, x, stats, vr, cfg.n_samples, noise, cfg.encoder_dropout, cfg.encoder_dropout_words
                )
                loss = out.surrogate + out.baseline_loss
                new_stats = out.stats
                if cfg.encoder_dreams:
                    n_dreams = max(1, round(cfg.encoder_dreams * len(rows)))
                    dreamt = nvil_on_dreams(
                        nets.model, nets.encoder, nets.baselines, n_dreams, lengths, stats, vr, cfg.n_samples, gen,
                        cfg.encoder_dropout, cfg.encoder_dropout_words,
                    )
                    w = n_dreams / len(rows)
                    loss = loss + w * (dreamt.surrogate + dreamt.baseline_loss)
            if cfg.weight_l1:
                # A Laplace prior on U with rate weight_l1, spread over the training documents so
                # that its strength does not depend on the corpus size (the loss is per document).
                loss = loss + cfg.weight_l1 / n_docs * nets.model.visible.weight.abs().sum()
            if weight != 1.0:
                # After the workers' gradients are averaged, this gives the global minibatch mean.
                loss = loss * weight
            opt.zero_grad(set_to_none=True)
            loss.backward()
            grads = [p.grad for p in params if p.grad is not None]
            grad_norm = torch.nn.utils.get_total_norm(grads)
            # The one host synchronisation of a step: the loss and the gradient norm together.
            loss_value, norm_value = torch.stack([loss.detach().to(grad_norm.dtype), grad_norm]).tolist()
            finite = math.isfinite(loss_value) and math.isfinite(norm_value)
            out_of_time = cfg.max_seconds is not None and time.perf_counter() - t0 >= cfg.max_seconds
            nonfinite, out_of_time = parallel.any([not finite, out_of_time])
            if nonfinite:
                run["rollbacks"] += 1
                nets.load(last_good)
                for g in opt.param_groups:
                    g["lr"] *= 0.5
                opt.state.clear()
                log.warning(
                    "non-finite loss or gradient at epoch %d step %d; rolled back to the last good "
                    "parameters and halved the learning rates (now %.3g)",
                    epoch, run["step"], opt.param_groups[0]["lr"],
                )
                if run["rollbacks"] > 20:
                    run["stopped"] = "diverged"
                    break
                continue
            if norm_value + 1e-6 > cfg.max_grad_norm:  # clip_grad_norm_'s coefficient < 1
                # Otherwise the coefficient is exactly 1 and scaling would change nothing.
                torch.nn.utils.clip_grads_with_norm_(params, cfg.max_grad_norm, grad_norm)
            opt.step()
            nets.model.project()
            if ema is not None:
                ema.update(run["step"])
            nets.stats = new_stats
            run["step"] += 1
            if n_local:
                elbo_sum += out.elbo.mean(0).sum().double()
                seen += n_local
            if out_of_time:
                break
        if run["stopped"] == "diverged":
            break
        budget_hit = cfg.max_seconds is not None and time.perf_counter() - t0 >= cfg.max_seconds
        if epoch % epochs_per_round and epoch < cfg.max_epochs and not parallel.any([budget_hit])[0]:
            run["epoch"], run["seconds"] = epoch, time.perf_counter() - t0
            continue
        epoch_seconds = time.perf_counter() - t_epoch
        elbo_total, seen = parallel.sum([float(elbo_sum), float(seen)])
        if ema is not None:
            ema.swap()
        val = val_perplexity()
        if val < best:
            best, best_state, best_epoch = val, nets.state(), epoch
        elapsed = time.perf_counter() - t0
        metrics = {
            "epoch": epoch,
            "step": run["step"],
            "seconds": elapsed,
            "train_elbo": elbo_total / max(seen, 1),
            "val_perplexity_bound": val,
            "best_val_perplexity_bound": best,
            "docs_per_second": seen / max(epoch_seconds, 1e-9),
            "progress": min(1.0, max(epoch / cfg.max_epochs, elapsed / cfg.max_seconds if cfg.max_seconds else 0.0)),
        }
        run["history"].append(metrics)
        run["epoch"], run["seconds"] = epoch, elapsed
        log.info("epoch %d: val perplexity (bound) %.1f, best %.1f, %.0f docs/s", epoch, val, best, metrics["docs_per_second"])
        stopped = None
        if parallel.is_main:
            # The callback sees the parameters just validated (the averaged ones with EMA).
            if callback is not None and callback(dict(metrics)):
                stopped = "cancelled"
            elif epoch - best_epoch >= cfg.patience * epochs_per_round:
                stopped = "early_stopping"
            elif cfg.max_seconds is not None and elapsed >= cfg.max_seconds:
                stopped = "time_budget"
        if ema is not None:
            ema.swap()
        if math.isfinite(val):
            last_good = nets.state()
        run["stopped"] = parallel.from_main(stopped)
        save_state(force=run["stopped"] is not None)
    if run["stopped"] is None:
        run["stopped"] = "max_epochs"
        save_state(force=True)
    nets.load(best_state)
    return {
        "history": run["history"],
        "best_val_perplexity_bound": best,
        "best_epoch": best_epoch,
        "stopped": run["stopped"],
        "train_seconds": run["seconds"],
        "rollbacks": run["rollbacks"],
        "steps": run["step"],
        "batch_size": cfg.batch_size,
    }


def load_training_state(path: Path) -> dict:
    """Read a state written during training (plain data, ``weights_only``)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file: say so rather than resume wrongly
        raise ModelError(f"cannot resume from {path}: not a readable training state ({exc})") from None
