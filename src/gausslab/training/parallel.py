"""Process-group helpers: the same code path runs single-process and under `torchrun`.

Under `torchrun` (RANK/WORLD_SIZE/LOCAL_RANK set) the default process group is created with
gloo on CPU and nccl on CUDA. Gradients are averaged across ranks with one coalesced
all-reduce per optimizer step, which is what DistributedDataParallel does after backward;
doing it explicitly lets GAN updates (generator and discriminator stepped in turn) share it.
"""

from __future__ import annotations

import atexit
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor, nn

from gausslab.core.errors import ConfigError


@dataclass(frozen=True)
class DistContext:
    """This process's rank, world size, local rank and device under torchrun (a world of one without it)."""

    rank: int
    world: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """Whether this is rank 0, the one that writes the run folder and shows progress."""
        return self.rank == 0


def pick_device(name: str = "auto", local_rank: int = 0) -> torch.device:
    """`train.device` as a torch device: `auto` -> the local CUDA device when one exists, else CPU;
    `cuda` -> this process's GPU (`cuda:LOCAL_RANK`); `cuda:N`, `mps` and `cpu` as named.

    A device this machine's torch cannot use is a ConfigError naming it.
    """
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("train.device='mps' is not available: this torch has no MPS (Apple GPU) backend here; "
                          "use cpu or auto")
    if name.startswith("cuda"):
        index = int(name.partition(":")[2] or local_rank)
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if index >= count:
            raise ConfigError(f"train.device={name!r} is not available: torch sees {count} CUDA device(s) here; "
                              f"use {'cpu or auto' if count == 0 else f'cuda:0 to cuda:{count - 1}'}")
        return torch.device("cuda", index)
    return torch.device(name)


def context(device: str = "auto") -> DistContext:
    """Join the torchrun process group when launched by torchrun; otherwise a world of one."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local_rank = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    if world > 1 and ":" in device:
        raise ConfigError(f"train.device={device!r}: under torchrun each process takes its own GPU "
                          f"(cuda:LOCAL_RANK); use train.device=cuda or auto")
    dev = pick_device(device, local_rank)
    if world > 1 and not dist.is_initialized():
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
        # Leave the group cleanly at exit: a gloo peer that vanishes mid-teardown can abort the others.
        atexit.register(dist.destroy_process_group)
    return DistContext(rank=rank, world=world, local_rank=local_rank, device=dev)


def average_gradients(params: list[nn.Parameter], world: int) -> None:
    """grad <- mean over ranks, as one flat all-reduce (DDP's bucketed all-reduce, one bucket)."""
    grads = [p.grad for p in params if p.grad is not None]
    if world == 1 or not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()


def broadcast_parameters(module: nn.Module) -> None:
    """Make every rank start from rank 0's weights."""
    if dist.is_initialized():
        for t in [*module.parameters(), *module.buffers()]:
            dist.broadcast(t.data, 0)


def in_sync(module: nn.Module) -> bool:
    """True when every rank holds the same weights (a float64 fingerprint compared across ranks)."""
    if not dist.is_initialized():
        return True
    fingerprint = torch.stack([p.detach().double().sum() + p.detach().double().square().sum() for p in module.parameters()])
    gathered = [torch.zeros_like(fingerprint) for _ in range(dist.get_world_size())]
    dist.all_gather(gathered, fingerprint)
    return all(torch.equal(g, gathered[0]) for g in gathered)


def all_min(t: Tensor) -> Tensor:
    """The elementwise minimum over ranks (t itself in a world of one): decisions every rank must share."""
    if dist.is_initialized():
        t = t.clone()
        dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return t


def barrier() -> None:
    """Wait until every rank gets here (nothing without a process group)."""
    if dist.is_initialized():
        dist.barrier()


def any_rank(flag: bool, device: torch.device) -> bool:
    """Whether `flag` holds on any rank (a collective every rank must reach); `flag` itself in a world of one."""
    if not dist.is_initialized():
        return flag
    return not bool(all_min(torch.tensor(0 if flag else 1, device=device)))
