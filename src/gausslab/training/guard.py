"""What the trainer does when a loss turns NaN or infinite (`train.nan_policy`).

"skip" must decide before the update, so it reads the loss on the host at every step. "stop"
never waits for the device: it records the first bad step in a device tensor (three tiny ops),
and the trainer calls `check` before every log line and checkpoint, so a checkpoint never holds
weights updated by a non-finite loss and the run stops at the next boundary. Under "skip", a run
whose every batch between two boundaries was skipped stops too (`check_window`): it learns nothing.
Under torchrun both decisions are taken jointly (a minimum over ranks): a batch is skipped on
every rank or on none, and all ranks stop together, so no rank waits forever in a collective.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gausslab.training import parallel
from gausslab.core.errors import TrainingError

_NONE = 2**62  # "no bad step yet": larger than any step count


class NonFiniteGuard:
    """The trainer's watch for NaN or infinite losses under `train.nan_policy`: "skip" drops such a batch, "stop"
    ends the run at the next log line or checkpoint."""

    def __init__(self, policy: str, device: torch.device):
        self.policy, self.skipped = policy, 0  # batches skipped so far
        self._first_bad = torch.full((), _NONE, dtype=torch.long, device=device)
        self._window = (0, 0)  # (first step, batches skipped before it) since the last boundary

    def resume(self, step: int, skipped: int) -> None:
        """Continue from a checkpoint at `step` that had skipped `skipped` batches."""
        self.skipped, self._window = skipped, (step, skipped)

    def admit(self, loss: Tensor, step: int) -> bool:
        """Whether the trainer applies this loss; False only under "skip" for a non-finite value."""
        if self.policy == "skip":
            ok = bool(parallel.all_min(torch.isfinite(loss).to(torch.uint8)))
            self.skipped += not ok
            return ok
        self._first_bad = torch.minimum(self._first_bad, torch.where(torch.isfinite(loss), _NONE, step))
        return True

    def check_window(self, done: int, kept: str = "") -> None:
        """At a boundary after `done` steps: under "skip", raise when every batch since the previous one was
        skipped; then start the next window (skip counts are joint under torchrun, so every rank agrees)."""
        first, before = self._window
        self._window = (done, self.skipped)
        if self.policy == "skip" and done > first and self.skipped - before == done - first:
            raise TrainingError(
                f"every batch of steps {first}-{done - 1} had a non-finite loss and was skipped "
                f"(train.nan_policy=skip){kept}; check the data for huge values, or try a lower learning rate "
                f"(--set train.lr=...) or gradient clipping (--set train.grad_clip=1.0)"
            )

    def check(self, kept: str = "", joint: bool = True) -> None:
        """Raise the one-line TrainingError if any loss so far was non-finite, on any rank (`joint`,
        a collective every rank must reach) or on this one; one host sync."""
        first = int(parallel.all_min(self._first_bad) if joint else self._first_bad)
        if first != _NONE:
            raise TrainingError(
                f"loss became non-finite at step {first}{kept}; try a lower learning rate (--set train.lr=...), "
                f"gradient clipping (--set train.grad_clip=1.0) or --set train.nan_policy=skip"
            )
