"""`RawData`: what a builder or file reader returns before the train/test split."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from torch import Tensor

from gausslab.data.dataset import Modes
from gausslab.core.errors import ConfigError


@dataclass
class RawData:
    """All examples of one data set, unsplit; `registry.split` turns it into a `Dataset`."""

    x: Tensor  # [N, D] vectors or [N, C, H, W] images, float32
    labels: Tensor | None = None  # [N] int64
    factors: Tensor | None = None  # [N, F] float32
    factor_names: list[str] = field(default_factory=list)
    log_prob: Callable[[Tensor], Tensor] | None = None
    modes: Modes | None = None
    levels: int | None = None  # grey levels k of discrete data stored as k / (levels - 1); None: continuous
    stratify: bool = False  # split each label's examples in the same proportions (`registry.split`)

    @property
    def kind(self) -> Literal["vector", "image"]:
        """`image` for examples x [N, C, H, W], else `vector`."""
        return "image" if self.x.dim() == 4 else "vector"


def check_count(n: object, option: str = "n") -> int:
    """`n` as a positive int, or a ConfigError naming the option and its value."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"{option}={n!r} is not allowed; {option} must be a positive integer")
    return n
