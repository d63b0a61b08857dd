"""Data-parallel NVIL training with ``torch.distributed`` (one process per CPU socket or GPU).

Launched by ``torchrun``, which sets ``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK`` and the rendezvous
address in the environment of every worker. Each worker holds the whole corpus and the same
seed, so all workers walk the same shuffled order; every global minibatch of ``batch_size``
documents is cut into contiguous shards, one per worker. The three networks are wrapped together
in PyTorch's :class:`~torch.nn.parallel.DistributedDataParallel`, which averages the gradients
(gloo on CPUs, NCCL on GPUs). What NVIL adds to plain data parallelism:

* the running mean and variance of the centred learning signal ``l - C(x)`` are statistics of
  the *global* minibatch: each worker contributes (sum, sum of squares, count) to one
  ``all_reduce``, so every worker centres and scales with the same values;
* each worker draws the Bernoulli noise of the whole global minibatch from the shared seed and
  keeps its own slice, so the samples are exactly those a single process would draw;
* a shard's loss is weighted by its share of the global minibatch, so that after DDP's average
  the gradient is the global minibatch mean even when the last minibatch does not split evenly.

With these, a run on N workers follows a single-process run with the same global batch up to
floating-point reordering. Validation, early stopping, time budgets and the rollback after a
non-finite step are decided identically on every worker, and only rank 0 writes files.
"""

from __future__ import annotations

import functools
import gc
import inspect
import os

import torch
import torch.distributed as dist
from torch import nn

from docmodel.errors import ModelError
from docmodel.models.sbn.nvil import NVILResult, VarianceReduction, nvil_estimate


def launched_by_torchrun() -> bool:
    """True inside a worker started by ``torchrun`` with more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def _in_torchrun() -> bool:
    """True inside any worker started by ``torchrun``, a single one included."""
    return "WORLD_SIZE" in os.environ and "MASTER_ADDR" in os.environ


def rank() -> int:
    """This process's rank (0 outside a distributed run)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return int(os.environ.get("RANK", "0"))


def shard_bounds(n_global: int, world_size: int, rank: int) -> tuple[int, int]:
    """Documents ``[lo, hi)`` of a global minibatch of ``n_global`` that worker ``rank`` takes:
    contiguous shards whose sizes differ by at most one, the larger ones first."""
    per, extra = divmod(n_global, world_size)
    lo = rank * per + min(rank, extra)
    return lo, lo + per + (1 if rank < extra else 0)


class Local:
    """One process: the hooks of :func:`docmodel.models.sbn.training.train` that change nothing."""

    world_size = 1
    rank = 0
    is_main = True

    def shard(self, n_global: int) -> tuple[int, int]:
        """Documents ``[lo, hi)`` of a global minibatch of ``n_global`` taken by this worker."""
        return 0, n_global

    def noise(self, generator, n_global: int, lo: int, hi: int):
        return generator

    def moments_reduction(self, n_local: int):
        """What turns this worker's minibatch moments of NVIL's centred signal into the global
        minibatch's (``nvil_estimate``'s ``moments_reduction``; here: none needed)."""
        return None

    def step(
        self, nets, x, stats, vr, n_samples, noise, encoder_dropout=0.0, encoder_dropout_words=False,
        moments_reduction=None,
    ) -> NVILResult:
        return nvil_estimate(
            nets.model, nets.encoder, nets.baselines, x, stats, vr, n_samples, noise, encoder_dropout,
            encoder_dropout_words, moments_reduction,
        )

    def any(self, flags: list[bool]) -> list[bool]:
        """Each flag set on any worker (here: as given)."""
        return flags

    def sum(self, values: list[float]) -> list[float]:
        return values

    def from_main(self, value):
        """Rank 0's value of a number or short string, on every worker (here: as given)."""
        return value

    def close(self) -> None:
        pass


class _SliceNoise:
    """Uniform noise for :func:`docmodel.models.sbn.networks.sample_bernoulli`: draws it for the whole global
    minibatch (axis -2 has ``n_global`` documents) and returns documents ``[lo, hi)``."""

    def __init__(self, generator: torch.Generator, n_global: int, lo: int, hi: int):
        self.generator, self.n_global, self.lo, self.hi = generator, n_global, lo, hi

    def __call__(self, shape, dtype, device) -> torch.Tensor:
        full = (*shape[:-2], self.n_global, shape[-1])
        u = torch.rand(full, generator=self.generator, dtype=dtype, device=device)
        return u[..., self.lo : self.hi, :]


def _reduce_moments(batch_mean: torch.Tensor, batch_var: torch.Tensor, *, n_local: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The global minibatch's mean and (population) variance of NVIL's ``l - C(x)`` per layer,
    from this worker's (``n_local`` residuals, samples x documents, went into them): one
    ``all_reduce`` sums (n mean, n (var + mean^2), n) over the workers."""
    n = float(n_local)
    sums = torch.cat([batch_mean * n, (batch_var + batch_mean**2) * n, batch_mean.new_full((1,), n)])
    dist.all_reduce(sums)
    L = batch_mean.shape[0]
    count = sums[-1]
    mean = sums[:L] / count
    var = (sums[L : 2 * L] / count - mean**2).clamp(min=0.0)
    return mean, var


class _NVILStep(nn.Module):
    """The three networks as one module whose forward is the NVIL estimate (for DDP)."""

    def __init__(self, nets, vr: VarianceReduction, n_samples: int, encoder_dropout: float, encoder_dropout_words: bool):
        super().__init__()
        self.model, self.encoder, self.baselines = nets.model, nets.encoder, nets.baselines
        self.vr, self.n_samples = vr, n_samples
        self.encoder_dropout, self.encoder_dropout_words = encoder_dropout, encoder_dropout_words

    def forward(self, x, stats, noise, moments_reduction) -> NVILResult:
        return nvil_estimate(
            self.model, self.encoder, self.baselines, x, stats, self.vr, self.n_samples, noise, self.encoder_dropout,
            self.encoder_dropout_words, moments_reduction,
        )


class DataParallel(Local):
    """Hooks of :func:`docmodel.models.sbn.training.train` for one worker of a ``torchrun`` job.

    Parameters
    ----------
    device : torch.device
        ``cpu`` (gloo) or ``cuda`` (NCCL; each worker takes ``cuda:LOCAL_RANK``, which the
        ``device`` attribute then holds).
    """

    def __init__(self, device: torch.device):
        if not _in_torchrun():
            raise ModelError(
                "distributed training needs processes started by torchrun "
                "(e.g. torchrun --nproc-per-node 2 -m docmodel train ... --distributed); "
                f"WORLD_SIZE is {os.environ.get('WORLD_SIZE', 'unset')}"
            )
        if device.type == "cuda":
            # One GPU per worker: the launcher numbers the workers of each machine.
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(device)
        self.owns_group = not dist.is_initialized()
        if self.owns_group:
            dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
        self.world_size, self.rank = dist.get_world_size(), dist.get_rank()
        self.is_main = self.rank == 0
        self.device = device
        self._ddp = None

    def shard(self, n_global: int) -> tuple[int, int]:
        return shard_bounds(n_global, self.world_size, self.rank)

    def noise(self, generator, n_global: int, lo: int, hi: int):
        return _SliceNoise(generator, n_global, lo, hi)

    def moments_reduction(self, n_local: int):
        return functools.partial(_reduce_moments, n_local=n_local)

    def step(
        self, nets, x, stats, vr, n_samples, noise, encoder_dropout=0.0, encoder_dropout_words=False,
        moments_reduction=None,
    ) -> NVILResult:
        if self._ddp is None:
            module = _NVILStep(nets, vr, n_samples, encoder_dropout, encoder_dropout_words)
            ids = [self.device.index] if self.device.type == "cuda" else None
            # input_mean is fixed before training, so buffers need no broadcast per step (the
            # keyword was renamed in torch 2.13); plain REINFORCE and the leave-one-out baseline leave
            # the baseline networks unused.
            ddp = nn.parallel.DistributedDataParallel
            no_sync = "forward_sync_buffers" if "forward_sync_buffers" in inspect.signature(ddp).parameters else "broadcast_buffers"
            self._ddp = ddp(module, device_ids=ids, find_unused_parameters=not vr.trains_baseline_networks, **{no_sync: False})
        return self._ddp(x, stats, noise, moments_reduction)

    def any(self, flags: list[bool]) -> list[bool]:
        t = torch.tensor([float(f) for f in flags], device=self.device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return [bool(v) for v in t.tolist()]

    def sum(self, values: list[float]) -> list[float]:
        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return t.tolist()

    def from_main(self, value):
        box = [value]
        dist.broadcast_object_list(box, src=0, device=self.device if self.device.type == "cuda" else None)
        return box[0]

    def close(self) -> None:
        # The DDP wrapper's reducer holds the process group: dropped first, the group is torn
        # down here rather than during interpreter exit, where gloo's threads were seen to abort
        # a worker now and then ("terminate called without an active exception"). The barrier
        # keeps a worker from tearing down while the other still has a collective in flight.
        self._ddp = None
        gc.collect()
        if self.owns_group and dist.is_initialized():
            dist.barrier(device_ids=[self.device.index] if self.device.type == "cuda" else None)
            dist.destroy_process_group()
