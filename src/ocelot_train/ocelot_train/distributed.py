"""Where training runs: the device, and the process group under torchrun (WORLD_SIZE > 1).

One process per device: `torchrun --nproc-per-node N -m ocelot_train.cli_train ...` (add --nnodes and a
rendezvous address for several machines). On GPUs each rank takes cuda:LOCAL_RANK and the ranks talk over
NCCL; on CPUs they use gloo. The draw of training samples is the one a single process would make (same
weights, same count), shared out between the ranks, so a distributed run sees the same epoch.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import torch
from torch.utils.data import Sampler


@dataclass(frozen=True)
class Placement:
    device: torch.device
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def backend(self) -> str:
        return "nccl" if self.device.type == "cuda" else "gloo"


def placement(device: str = "auto") -> Placement:
    """This process's device and rank. `device`: auto (a GPU when there is one), cpu, or cuda."""
    world, rank, local = (
        int(os.environ.get(k, d)) for k, d in (("WORLD_SIZE", "1"), ("RANK", "0"), ("LOCAL_RANK", "0"))
    )
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"train.device must be auto, cpu or cuda, got {device!r}")
    cuda = torch.cuda.is_available()
    if device == "cuda" and not cuda:
        raise ValueError("train.device is cuda but no GPU is visible to torch; use auto or cpu")
    if device == "cpu" or not cuda:
        return Placement(torch.device("cpu"), rank, world, local)
    if local >= torch.cuda.device_count():
        raise ValueError(f"LOCAL_RANK {local} but only {torch.cuda.device_count()} GPU(s): one process per GPU")
    torch.cuda.set_device(local)
    return Placement(torch.device("cuda", local), rank, world, local)


def is_main_process() -> bool:
    """Rank 0 (or not distributed): the process that saves, tracks and exports."""
    return int(os.environ.get("RANK", "0")) == 0


class DistributedDrawSampler(Sampler[int]):
    """The draw one process would make, cut into one interleaved share per rank.

    With `weights`: `num_samples` draws with replacement, each index with probability proportional to its
    weight (as WeightedRandomSampler); without: a uniform subset of `num_samples` distinct indices (as
    RandomSampler). Every rank makes the same draw from a generator seeded with (seed, epoch) and keeps
    every world_size-th entry from its rank on; a short last share wraps to the start, so every rank takes
    the same number of steps."""

    def __init__(
        self,
        n_items: int,
        num_samples: int,
        weights: torch.Tensor | None = None,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if weights is None and num_samples > n_items:
            raise ValueError(f"a uniform draw of {num_samples} distinct samples from {n_items}")
        self.n_items, self.num_samples, self.weights = n_items, num_samples, weights
        self.seed, self.rank, self.world_size, self.epoch = seed, rank, world_size, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def draw(self) -> torch.Tensor:
        """The whole epoch's draw, the same on every rank."""
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        if self.weights is not None:
            return torch.multinomial(self.weights, self.num_samples, replacement=True, generator=generator)
        return torch.randperm(self.n_items, generator=generator)[: self.num_samples]

    def __len__(self) -> int:
        return math.ceil(self.num_samples / self.world_size)

    def __iter__(self):
        drawn = self.draw()
        share = drawn[self.rank :: self.world_size]
        if len(share) < len(self):
            share = torch.cat([share, drawn[: len(self) - len(share)]])
        return iter(share.tolist())
