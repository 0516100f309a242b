"""Independent per-dimension histograms: the simplest explicit density, the reference line for the others.

Each dimension d of data in [0, 1] gets `levels` equal bins of width 1/L. With c_db training examples
in bin b and a pseudo-count a added to every bin, the density is piecewise constant:

    p(x_d) = (c_db + a) / (N + a L) / (1/L)   for x_d in bin b,     p(x) = prod_d p(x_d).

On data dequantized as x = (k + u) / L every pixel value k fills its own bin, so the bits/dim of this
density is the cross-entropy of the smoothed per-pixel frequencies, and a uniform histogram gives
exactly log2(L). It ignores every dependence between dimensions: whatever a model scores beyond it
comes from modelling them. Fitted in closed form (counting) by one full-batch step of the trainer.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Literal

import torch
from pydantic import Field
from torch import Tensor

from gausslab.core.config import StrictModel
from gausslab.core.errors import DataError
from gausslab.models.base import ClosedFormModel, Loss

DEFAULT_LEVELS = 256  # bins per dimension for data without grey levels (continuous values in [0, 1])


class HistogramConfig(StrictModel):
    """Arguments of `Histogram`: bins per dimension and their pseudo-count."""

    kind: Literal["histogram"] = "histogram"
    levels: int | None = Field(None, ge=2, le=65_536, description=(
        "equal-width bins per dimension on [0, 1]: the data's grey levels (256 for 8-bit images, 17 for digits); "
        f"None: the data set's own (build_model fills it in), {DEFAULT_LEVELS} for data without grey levels"))
    smoothing: float = Field(1.0, gt=0, description="pseudo-count added to every bin (1: add-one, Laplace)")


class Histogram(ClosedFormModel):
    """p(x) = prod_d (c_d,b(x_d) + a) L / (N + a L) on [0, 1]^D, zero outside."""

    config_class = HistogramConfig

    def __init__(self, config: HistogramConfig, shape: tuple[int, ...]):
        super().__init__()
        self.config, self.shape = config, tuple(shape)
        dim = math.prod(self.shape)
        self.levels = config.levels or DEFAULT_LEVELS
        self.register_buffer("counts", torch.zeros(dim, self.levels, dtype=torch.float64))  # [D, L]
        self.register_buffer("examples", torch.zeros((), dtype=torch.float64))  # N

    @property
    def n_parameters(self) -> int:
        """Free parameters: L - 1 bin probabilities per dimension."""
        return self.counts.numel() - self.counts.shape[0]

    def forward(self, x: Tensor) -> Tensor:
        """log p(x) [B]: the per-example log-likelihood the counts maximise."""
        return self.log_prob(x)

    def prepare(self, x: Tensor) -> Tensor:
        """The training set as given, once checked to lie in [0, 1]."""
        low, high = float(x.min()), float(x.max())
        if low < 0 or high > 1:
            raise DataError(f"the histogram model needs data in [0, 1] (images); this data spans "
                            f"[{low:.4g}, {high:.4g}]")
        return x

    def _bins(self, x: Tensor) -> Tensor:
        """Bin index [N, D] of every value of x [N, *shape]; 1.0 falls in the last bin."""
        return (x.flatten(1).double() * self.levels).floor().long().clamp(0, self.levels - 1)

    def log_prob(self, x: Tensor) -> Tensor:
        """log p(x) [N] in the dtype of x (computed in float64); -inf outside [0, 1]^D."""
        levels, smoothing = self.levels, self.config.smoothing
        # log of (c + a) L / (N + a L) [D, L]
        log_density = (self.counts + smoothing).log() - (self.examples + smoothing * levels).log() + math.log(levels)
        per_dim = torch.gather(log_density.T, 0, self._bins(x))  # [N, D]: log p(x_nd)
        flat = x.flatten(1)
        inside = ((flat >= 0) & (flat <= 1)).all(1)
        return torch.where(inside, per_dim.sum(1), -math.inf).to(x.dtype)

    def training_losses(self, x: Tensor, step: int) -> Iterator[Loss]:
        """Count the bins of the whole training set x; the loss is the mean log-likelihood before the update."""
        log_likelihood = self.log_prob(x).double().mean()
        bins = self._bins(x)  # [N, D]
        counts = torch.zeros_like(self.counts).scatter_add_(1, bins.T, torch.ones_like(bins.T, dtype=torch.float64))
        self.counts.copy_(counts)
        self.examples.fill_(x.shape[0])
        yield Loss(None, -log_likelihood, {"log_likelihood": log_likelihood})

    def validation_terms(self, x: Tensor) -> dict[str, Tensor]:
        """Mean log p(x) of held-out rows x (nats per example, float64; -inf when a value lies outside [0, 1])."""
        return {"log_likelihood": self.log_prob(x).double().mean()}

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n draws [n, *shape] in the model's dtype: a bin per dimension by its probability, then uniform within it."""
        weights = self.counts + self.config.smoothing  # [D, L]
        bins = torch.multinomial(weights, n, replacement=True, generator=generator)  # [D, n]
        u = torch.rand(n, bins.shape[0], generator=generator, device=self.device, dtype=torch.float64)
        return ((bins.T + u) / self.levels).to(self.dtype).view(n, *self.shape)
