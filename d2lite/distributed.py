"""Data parallelism under `torchrun --nproc_per_node=N`: one process per GPU, each on its share
(`shard_data`) of the batches; only `init_distributed` changes global state."""
from __future__ import annotations

import itertools
import os

import torch
from torch.utils.data import DataLoader, DistributedSampler, IterableDataset, RandomSampler

from d2lite.variation import training_seed


def init_distributed(device: torch.device) -> tuple[int, int]:
    """Join torchrun's process group (NCCL for CUDA, gloo otherwise) once; return `(rank, world)`
    from its environment, `(0, 1)` outside torchrun. The group stays open for later calls.

    Example:
        >>> init_distributed(torch.device("cpu"))   # a plain process: nothing to join
        (0, 1)
    """
    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not torch.distributed.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo",
                                             rank=rank, world_size=world)
    return rank, world


def set_epoch(data, epoch: int) -> None:
    """Tell `data` (or its sampler) that epoch `epoch` starts, via its `set_epoch` if it has one,
    so a seeded shuffle depends on seed + epoch only (and a resumed run repeats it).

    Example:
        >>> from d2lite.data import batches
        >>> data = batches(torch.arange(6.0), torch.arange(6), 3, seed=0)
        >>> set_epoch(data, 4); data.epoch
        4
    """
    for obj in (data, getattr(data, "sampler", None)):
        if hasattr(obj, "set_epoch"):
            obj.set_epoch(epoch)


class _Shard:
    """Batches rank, rank + world, ... of a sized iterable: one process's share under torchrun.
    The last `len % world` batches are dropped so every process takes the same number of steps."""

    def __init__(self, data, rank: int, world: int):
        self.data, self.rank, self.world = data, rank, world

    def __len__(self) -> int:
        return len(self.data) // self.world

    def __iter__(self):
        return itertools.islice(self.data, self.rank, len(self) * self.world, self.world)

    def set_epoch(self, epoch: int) -> None:
        set_epoch(self.data, epoch)


def shard_data(data, rank: int, world: int):
    """Return process `rank`'s share of the batches `data` (of `world` processes, torchrun).

    A DataLoader is rebuilt with a DistributedSampler (shuffling when the original did, seed 0 +
    epoch, shifted by the sweep's offset); anything else with `len()` is dealt out round-robin,
    one batch per process in turn.

    Example:
        >>> [b for b in shard_data([1, 2, 3, 4, 5], rank=1, world=2)]
        [2, 4]
    """
    if isinstance(data, DataLoader) and data.batch_size is not None and not isinstance(
            data.dataset, IterableDataset):
        sampler = DistributedSampler(data.dataset, world, rank, drop_last=data.drop_last,
                                     shuffle=isinstance(data.sampler, RandomSampler),
                                     seed=training_seed(0))  # the sweep's offset moves it
        return DataLoader(data.dataset, data.batch_size, sampler=sampler, drop_last=data.drop_last,
                          num_workers=data.num_workers, collate_fn=data.collate_fn,
                          pin_memory=data.pin_memory)
    if isinstance(data, DataLoader) or not hasattr(data, "__len__"):
        raise ValueError("fit(): under torchrun, train_data must be a DataLoader with a map-style "
                         "dataset and a batch_size, or batches with len() such as a list")
    return _Shard(data, rank, world)
