"""Observation models p(x|z): the decoder outputs their parameters, these score and sample data."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class Bernoulli(nn.Module):
    """p(x|z) = prod_d Bern(x_d; sigmoid(logits_d)), for images in [0, 1] (continuous Bernoulli is not used)."""

    def __init__(self, shape: tuple[int, ...]):
        super().__init__()

    def log_prob(self, out: Tensor, x: Tensor) -> Tensor:
        """Decoder logits [B, *shape], data [B, *shape] -> log p(x|z) summed over dimensions [B]."""
        return -F.binary_cross_entropy_with_logits(out, x, reduction="none").flatten(1).sum(1)

    def mean(self, out: Tensor) -> Tensor:
        return torch.sigmoid(out)

    def sample(self, out: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return torch.bernoulli(torch.sigmoid(out), generator=generator)


class Gaussian(nn.Module):
    """p(x|z) = N(x; mean(z), sigma^2 I) with one sigma per data dimension, learned or fixed.

    A shared (not per-example) learned scale keeps the ELBO bounded without the
    degenerate variance collapse of per-example scales (Rybkin et al. 2021, "sigma-VAE").
    """

    def __init__(self, shape: tuple[int, ...], scale: str = "learned", std: float = 1.0):
        super().__init__()
        log_std = torch.full(shape, math.log(std))
        if scale == "learned":
            self.log_std = nn.Parameter(log_std)
        else:
            self.register_buffer("log_std", log_std)

    def log_prob(self, out: Tensor, x: Tensor) -> Tensor:
        z = (x - out) * torch.exp(-self.log_std)
        per_dim = -0.5 * z.square() - self.log_std - 0.5 * math.log(2 * math.pi)
        return per_dim.flatten(1).sum(1)

    def mean(self, out: Tensor) -> Tensor:
        return out

    def sample(self, out: Tensor, generator: torch.Generator | None = None) -> Tensor:
        noise = torch.randn(out.shape, generator=generator, device=out.device, dtype=out.dtype)
        return out + noise * torch.exp(self.log_std)


LIKELIHOODS: dict[str, type[nn.Module]] = {"bernoulli": Bernoulli, "gaussian": Gaussian}
