"""Early stopping: end a run once its held-out objective stops improving (Prechelt 1998, "Early stopping —
but when?", the "patience" criterion).

The loop scores the validation split once per epoch (`valid_elbo` for VAEs, `valid_log_likelihood`
for densities; higher is better). With `train.patience = P` a run ends at the first check that
makes P checks in a row without beating the best one, and keeps the weights of that step (the best
ones are not restored: the last P epochs trained on no worse than noise). It stops on the validation
split only, never on the test split, and models with no held-out objective (GANs) train every
step. The state is a function of the logged checks, so a resumed run rebuilds it from log.jsonl.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

# `validation_terms` keys the held-out objective can be, higher is better, in order of preference
HELD_OUT_OBJECTIVES = ("elbo", "log_likelihood")


def objective(record: dict) -> float | None:
    """The validation objective in a log record (`valid_elbo` or `valid_log_likelihood`), or None."""
    return next((record[f"valid_{key}"] for key in HELD_OUT_OBJECTIVES if f"valid_{key}" in record), None)


@dataclass
class EarlyStop:
    """Counts validation checks since the best one; `patience` None never stops."""

    patience: int | None
    best: float = -math.inf
    waited: int = 0  # checks since the best

    def update(self, record: dict) -> bool:
        """Take one log record (records without a validation check change nothing); whether to stop now."""
        value = objective(record)
        if self.patience is None or value is None:
            return False
        if value > self.best:  # NaN never is: a diverging run waits out its patience
            self.best, self.waited = value, 0
        else:
            self.waited += 1
        return self.due

    @property
    def due(self) -> bool:
        """Whether `patience` checks in a row have passed without a new best."""
        return self.patience is not None and self.waited >= self.patience

    def replay(self, records: Iterable[dict]) -> None:
        """The state after the checks in `records` (a resumed run's log up to its checkpoint)."""
        for record in records:
            self.update(record)
