"""The `Dataset` container every layer above consumes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor

from gausslab.data.lazy import LazyRows


@dataclass(frozen=True)
class Modes:
    """Mixture modes of a toy: `centres` [M, D] and one isotropic `std` (for the mode-coverage protocol)."""

    centres: Tensor
    std: float


@dataclass
class Dataset:
    """A train / validation / test split of float32 tensors plus whatever is known about the data.

    `valid` is carved from the training examples and is what every choice (early stopping, a
    mixture's K, anything "best") is made on, so the test split is only ever scored; it is None
    when a data set has no validation split. `log_prob(x) -> [N]` is the exact density (in the
    data's own units) when known; `labels`/`factors` hold `[N]` / `[N, F]` tensors for the train
    split and `valid_*` / `test_*` for the others. `levels` is the number of grey levels of discrete
    images, whose pixel k is stored as k / (levels - 1) in [0, 1] (256 for 8-bit data, 17 for
    `digits`); density models see them dequantized (`data.discrete`). None: continuous data.
    A split of data read lazily (`data.lazy`) is `LazyRows`, which reads its rows when asked.
    """

    name: str
    train: Tensor | LazyRows  # [N, *shape] float32
    test: Tensor | LazyRows  # [M, *shape] float32
    kind: Literal["vector", "image"]
    labels: Tensor | None = None  # [N] int64
    test_labels: Tensor | None = None  # [M] int64
    factors: Tensor | None = None  # [N, F] float32 ground-truth generative factors
    test_factors: Tensor | None = None
    factor_names: list[str] = field(default_factory=list)
    log_prob: Callable[[Tensor], Tensor] | None = None
    modes: Modes | None = None
    valid: Tensor | LazyRows | None = None  # [V, *shape] float32
    valid_labels: Tensor | None = None  # [V] int64
    valid_factors: Tensor | None = None  # [V, F] float32
    levels: int | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of one example: (D,) for vectors, (C, H, W) for images."""
        return tuple(self.train.shape[1:])

    @property
    def dim(self) -> int:
        """Number of scalar dimensions per example (for bits/dim)."""
        return int(torch.tensor(self.shape).prod())
