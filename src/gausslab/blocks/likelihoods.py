"""Observation models p(x|z): the decoder outputs their parameters, these score and sample data.

Every likelihood shares one constructor signature, `Likelihood(shape, *, scale, std, levels, **_)`, so
the VAE builds any of them from its config; `params_per_value` is how many decoder outputs each data
value takes, and `data_transform` names how discrete data reach it (`gausslab.data.discrete`): the
Gaussian and the discretized logistic score dequantized grey levels as densities on [0, 1)^D, the
Bernoulli scores binary values, so grey-level data is binarized for it.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gausslab.core.errors import ConfigError


class Bernoulli(nn.Module):
    """p(x|z) = prod_d Bern(x_d; sigmoid(logits_d)), for binary images (continuous Bernoulli is not used)."""

    params_per_value = 1
    data_transform = "binarize"

    def __init__(self, shape: tuple[int, ...], **_: object):
        super().__init__()

    def log_prob(self, out: Tensor, x: Tensor) -> Tensor:
        """Decoder logits [B, *shape], data [B, *shape] -> log p(x|z) summed over dimensions [B]."""
        return -F.binary_cross_entropy_with_logits(out, x, reduction="none").flatten(1).sum(1)

    def mean(self, out: Tensor) -> Tensor:
        """The mean of p(x|z), sigmoid(logits) [B, *shape]: pixel probabilities in [0, 1]."""
        return torch.sigmoid(out)

    def sample(self, out: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Binary draws x ~ Bern(sigmoid(logits)) [B, *shape], seeded by `generator`."""
        return torch.bernoulli(torch.sigmoid(out), generator=generator)


class Gaussian(nn.Module):
    """p(x|z) = N(x; mean(z), sigma^2 I) with one sigma per data dimension, learned or fixed.

    A shared (not per-example) learned scale keeps the ELBO bounded without the
    degenerate variance collapse of per-example scales (Rybkin et al. 2021, "sigma-VAE").
    """

    params_per_value = 1
    data_transform = "dequantize"

    def __init__(self, shape: tuple[int, ...], *, scale: str = "learned", std: float = 1.0, **_: object):
        super().__init__()
        log_std = torch.full(shape, math.log(std))
        if scale == "learned":
            self.log_std = nn.Parameter(log_std)
        else:
            self.register_buffer("log_std", log_std)

    def log_prob(self, out: Tensor, x: Tensor) -> Tensor:
        """Decoder means [B, *shape], data [B, *shape] -> log N(x; mean, sigma^2) summed over dimensions [B] (nats)."""
        z = (x - out) * torch.exp(-self.log_std)
        per_dim = -0.5 * z.square() - self.log_std - 0.5 * math.log(2 * math.pi)
        return per_dim.flatten(1).sum(1)

    def mean(self, out: Tensor) -> Tensor:
        """The decoder output itself: the mean of p(x|z) [B, *shape]."""
        return out

    def sample(self, out: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Draws mean + sigma * eps [B, *shape], eps ~ N(0, I) from `generator`."""
        noise = torch.randn(out.shape, generator=generator, device=out.device, dtype=out.dtype)
        return out + noise * torch.exp(self.log_std)


class DiscretizedLogistic(nn.Module):
    """One logistic per pixel, discretized to `levels` grey levels (Kingma et al. 2016, sec. 5.2; Salimans
    et al. 2017, "PixelCNN++", eq. 2 with a single mixture component).

    [0, 1) is cut into `levels` equal bins; grey level k owns bin [k, k + 1) / levels, the first and
    last bins stretched to -inf / +inf, so the masses P(k) sum to one over the levels exactly. The
    decoder gives a location and a log-scale per pixel ([B, 2C, H, W]: locations, then log-scales).
    On dequantized data y (bin k of y holds the level) `log_prob` is the log of the piecewise-constant
    density P(k) * levels per dimension, so it is in the same units as every other density of y.
    """

    params_per_value = 2
    data_transform = "dequantize"
    min_log_scale = -7.0  # Salimans et al. 2017's floor: keeps 1/s finite without limiting 8-bit fits

    def __init__(self, shape: tuple[int, ...], *, levels: int | None = None, **_: object):
        super().__init__()
        if levels is None or len(shape) != 3:
            raise ConfigError(f"likelihood 'logistic' needs images with known grey levels (levels={levels!r}, "
                              f"shape {list(shape)}); choose likelihood 'gaussian' or 'bernoulli'")
        self.levels = levels

    def _split(self, out: Tensor) -> tuple[Tensor, Tensor]:
        loc, log_scale = out.chunk(2, dim=1)  # [B, C, H, W] each
        return loc, log_scale.clamp(min=self.min_log_scale)

    def log_mass(self, out: Tensor, k: Tensor) -> Tensor:
        """log P(k) per value [B, C, H, W] for grey levels k (integers as floats, 0 .. levels - 1).

        log(sigmoid(b) - sigmoid(a)) = log sigmoid(b) + log sigmoid(-a) + log(1 - e^(a - b)): exact and
        stable for every bin, the open end bins (a = -inf or b = +inf) included.
        """
        loc, log_scale = self._split(out)
        inv_scale = torch.exp(-log_scale)
        lower = torch.where(k > 0, (k / self.levels - loc) * inv_scale, -math.inf)
        upper = torch.where(k < self.levels - 1, ((k + 1) / self.levels - loc) * inv_scale, math.inf)
        return -F.softplus(-upper) - F.softplus(lower) + torch.log(-torch.expm1(lower - upper))

    def levels_of(self, x: Tensor) -> Tensor:
        """Grey level k of dequantized values y in [0, 1): floor(levels * y)."""
        return (x * self.levels).floor().clamp(0, self.levels - 1)

    def log_prob(self, out: Tensor, x: Tensor) -> Tensor:
        """log p(y|z) [B] of dequantized y [B, C, H, W]: sum_d log P(k_d) + D log(levels)."""
        per_value = self.log_mass(out, self.levels_of(x)) + math.log(self.levels)
        return per_value.flatten(1).sum(1)

    def mean(self, out: Tensor) -> Tensor:
        """The logistic's location, moved from the dequantized scale (bin centres (k + 1/2) / levels) to the
        stored scale of the data (k / (levels - 1), clamped to [0, 1])."""
        return ((self._split(out)[0] * self.levels - 0.5) / (self.levels - 1)).clamp(0, 1)

    def sample(self, out: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Grey levels drawn from P(k), on the stored scale k / (levels - 1)."""
        loc, log_scale = self._split(out)
        u = torch.rand(loc.shape, generator=generator, device=loc.device, dtype=loc.dtype).clamp(1e-6, 1 - 1e-6)
        y = loc + log_scale.exp() * (u.log() - (-u).log1p())  # inverse logistic CDF
        return self.levels_of(y) / (self.levels - 1)


LIKELIHOODS: dict[str, type[nn.Module]] = {
    "bernoulli": Bernoulli,
    "gaussian": Gaussian,
    "logistic": DiscretizedLogistic,
}
