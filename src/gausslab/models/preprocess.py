"""Fixed maps y = f(x) applied to the data before a density model, with their log-Jacobian.

A model of y gives a density of x in data space by the change of variables
log p(x) = log p_Y(f(x)) + log|det df/dx|, so likelihoods (and bits/dim) stay comparable across
models whichever space they were fitted in. `PREPROCESSORS` maps `model.preprocess` to a map;
`auto` picks `logit` for images (pixels in [0, 1]) and `none` for vectors in the user's units.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from gausslab.core.errors import DataError


@dataclass
class Mapped:
    """y = f(x) [N, D] and log|det df/dx| [N]."""

    y: Tensor
    log_det: Tensor


class Identity:
    """y = x: the model works in data space."""

    def check(self, x: Tensor) -> None:
        """Any finite data is in the domain."""

    def forward(self, x: Tensor) -> Mapped:
        """y = x [N, D], with log|det dy/dx| = 0 [N]."""
        return Mapped(x, torch.zeros(x.shape[0], dtype=x.dtype, device=x.device))

    def inverse(self, y: Tensor) -> Tensor:
        """x = y."""
        return y


class Logit:
    """y = logit(alpha + (1 - 2 alpha) x) on x in [0, 1], alpha = 0.05 (Dinh et al. 2017, sec. 4.1).

    The squeeze by alpha keeps pixels at exactly 0 or 1 finite; log|dy/dx| = log(1 - 2 alpha) - log p - log(1 - p)
    per dimension with p = alpha + (1 - 2 alpha) x. Its inverse maps the real line onto
    (-alpha / (1 - 2 alpha), (1 - alpha) / (1 - 2 alpha)), slightly wider than [0, 1], so a model fitted
    here puts a little of its mass just outside the pixel range, as RealNVP does.
    """

    alpha = 0.05

    def check(self, x: Tensor) -> None:
        """x must lie in the map's domain: pixels in [0, 1], or the model's own samples just beyond."""
        low, high = float(x.min()), float(x.max())
        edge = self.alpha / (1 - 2 * self.alpha)
        if low <= -edge or high >= 1 + edge:
            raise DataError(f"model.preprocess=logit needs pixel data in [0, 1]; this data spans "
                            f"[{low:.4g}, {high:.4g}]; use model.preprocess=none")

    def forward(self, x: Tensor) -> Mapped:
        """y = logit(p) [N, D], p = alpha + (1 - 2 alpha) x, with log|det dy/dx| [N] summed over dimensions."""
        p = self.alpha + (1 - 2 * self.alpha) * x  # [N, D]
        log_p, log_q = p.log(), torch.log1p(-p)
        return Mapped(log_p - log_q, (math.log(1 - 2 * self.alpha) - log_p - log_q).sum(-1))

    def inverse(self, y: Tensor) -> Tensor:
        """x = (sigmoid(y) - alpha) / (1 - 2 alpha) [N, D]: the exact inverse of `forward`."""
        return (torch.sigmoid(y) - self.alpha) / (1 - 2 * self.alpha)


PREPROCESSORS: dict[str, type[Identity] | type[Logit]] = {"none": Identity, "logit": Logit}
# `model.preprocess` of the models that take one (choices: `auto` and the names above)
PREPROCESS_HELP = ("fixed map applied to the data before the density is fitted, its Jacobian counted so log_prob "
                   "stays a density in data space: logit = RealNVP's logit(0.05 + 0.9 x) for pixels in [0, 1]; "
                   "auto = logit for images, none for vectors")


def preprocessor(name: str, shape: tuple[int, ...]) -> Identity | Logit:
    """The map named by `model.preprocess` for data of `shape`; `auto`: logit for images [C, H, W], else none."""
    if name == "auto":
        name = "logit" if len(shape) == 3 else "none"
    return PREPROCESSORS[name]()
