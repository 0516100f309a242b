"""How discrete data reaches a model: uniform dequantization for densities, binarization for Bernoulli pixels.

A pixel of `levels` grey levels is stored as k / (levels - 1) in [0, 1] (`Dataset.levels`).
Dequantized, it becomes y = (k + u) / levels with u ~ U[0, 1): bin k of [0, 1) cut into `levels`
equal bins. For any density p on [0, 1)^D, E_u[log p(y)] + D log(levels) <= log P(k), the
log-mass p gives the discrete image (Theis et al. 2016, "A note on the evaluation of generative
models", sec. 3.1), so bits/dim of dequantized data bound those of the discrete data from above
(`metrics.nll.bits_per_dim`). A Bernoulli likelihood is a distribution over binary
pixels, so grey levels are binarized for it instead: x_b ~ Bernoulli(x) (dynamic binarization,
Salakhutdinov & Murray 2008). Data without levels (continuous) and binary data pass unchanged.

The trainer draws fresh noise for every batch from torch's global RNG (which a checkpoint saves,
so a resumed run continues bit-identically); evaluation passes a seeded generator.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from gausslab.core.errors import lookup

_BELOW_ONE = 1.0 - 2.0**-24  # the largest float32 below 1: k + u may round up to k + 1 in float32


def dequantize(x: Tensor, levels: int | None, generator: torch.Generator | None = None) -> Tensor:
    """y = (k + u) / levels in [0, 1), u ~ U[0, 1), for stored values x = k / (levels - 1); x when levels is None."""
    if levels is None:
        return x
    k = torch.round(x * (levels - 1))
    u = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return ((k + u) / levels).clamp_(max=_BELOW_ONE)


def binarize(x: Tensor, levels: int | None, generator: torch.Generator | None = None) -> Tensor:
    """x_b ~ Bernoulli(x) for grey-level data (levels > 2); binary and continuous data unchanged."""
    if levels is None or levels <= 2:
        return x
    return torch.bernoulli(x, generator=generator)


# name -> transform(x, levels, generator); a model's `data_transform` names one (None: data as stored).
TRANSFORMS: dict[str, Callable[..., Tensor]] = {"dequantize": dequantize, "binarize": binarize}


def model_view(x: Tensor, how: str | None, levels: int | None, generator: torch.Generator | None = None) -> Tensor:
    """x [N, *shape] as a model with `data_transform = how` trains on it and is scored on it."""
    return x if how is None else lookup(TRANSFORMS, "data transform", how)(x, levels, generator)


def changes_data(how: str | None, levels: int | None) -> bool:
    """Whether `model_view` with `how` turns this data into other data (binarized grey levels), rather
    than into a continuous view of the same discrete values (dequantization) or leaving it as stored."""
    return how == "binarize" and levels is not None and levels > 2
