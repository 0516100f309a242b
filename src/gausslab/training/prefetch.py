"""Lazy training batches read ahead by DataLoader worker processes, in the trainer's step order.

With `train.loader_workers = W > 0` and a lazy training split (`data.lazy`), W processes read (and,
for image folders, decode and resize) the batches of the coming steps while the training process
computes, so disk and decoding overlap the arithmetic. Item `step` of the dataset is the batch that
step trains on: the rows come from the trainer's own seeded schedule, so the batches — and the run —
are the same with any number of workers. Workers only read rows; anything random (dequantization
noise, the model's draws) stays in the training process, whose RNG checkpoints restore.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from gausslab.data.lazy import LazyRows


class StepBatches(Dataset):
    """Item `step` is the float32 batch [B, *shape] read from `x` at the rows `rows(step)` [B] gives."""

    def __init__(self, x: LazyRows, rows: Callable[[int], Tensor], steps: int):
        self.x, self.rows, self.steps = x, rows, steps

    def __len__(self) -> int:
        return self.steps

    def __getitem__(self, step: int) -> Tensor:
        return self.x.index_select(0, self.rows(step))


def read_ahead(x: LazyRows, rows: Callable[[int], Tensor], start: int, stop: int, workers: int,
               pin: bool = False) -> Iterator[Tensor]:
    """The batches of steps start .. stop-1, in order, each read by one of `workers` processes ahead of use.

    `pin` puts each batch in page-locked memory, so its copy to a CUDA device can overlap compute.
    Two batches per worker are in flight (DataLoader's default), so memory grows by about 2 W batches.
    """
    # A private generator: DataLoader draws its workers' base seed from it, which would otherwise advance
    # the global RNG that the dequantization noise and the model's draws use (and the run would change).
    loader = DataLoader(StepBatches(x, rows, stop), batch_size=None, sampler=range(start, stop),
                        num_workers=workers, pin_memory=pin, multiprocessing_context=_context(),
                        generator=torch.Generator().manual_seed(0))
    return iter(loader)


def _context() -> str | None:
    """fork where the platform has it: the row source's open file is inherited, not pickled."""
    return "fork" if "fork" in torch.multiprocessing.get_all_start_methods() else None
