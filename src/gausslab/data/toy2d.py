"""Seeded 2-D toy distributions, with their exact densities where those are known.

`ring8` and `grid25` are the mode-collapse benchmarks of Metz et al. 2017 (Unrolled GANs),
Srivastava et al. 2017 (VEEGAN) and Lin et al. 2018 (PacGAN): equal-weight isotropic
Gaussian mixtures whose modes and log density are exact, so mode coverage and test
log-likelihood need no estimate. Points are float32 `[N, 2]`, used as given (no rescaling).
"""

from __future__ import annotations

import math
from functools import partial

import torch
from torch import Tensor

from gausslab.data.dataset import Modes
from gausslab.data.raw import RawData, check_count
from gausslab.core.errors import DataError

# A 0.2 test split of 12,500 leaves 10,000 train / 2,500 test: the 2,500-sample protocol.
DEFAULT_N = 12_500

_BOARD_HALF = 4.0  # checkerboard covers [-4, 4]²
_SQUARE = 2.0  # side of one of its 4 × 4 squares
_BLACK = torch.tensor([(i, j) for i in range(4) for j in range(4) if (i + j) % 2 == 0])  # [8, 2]
_BLACK_AREA = len(_BLACK) * _SQUARE**2  # 32


def mixture_log_prob(x: Tensor, centres: Tensor, std: float) -> Tensor:
    """Exact log density `[N]` (float64) of an equal-weight isotropic Gaussian mixture.

    x: points `[N, D]`; centres: component means `[M, D]`; std: the shared standard deviation.
    """
    c = centres.to(torch.float64)  # [M, D]
    x = _check_points(x, c.shape[1])
    d2 = torch.cdist(x, c, compute_mode="donot_use_mm_for_euclid_dist") ** 2  # [N, M]
    log_norm = -0.5 * c.shape[1] * math.log(2 * math.pi * std**2)
    return torch.logsumexp(-0.5 * d2 / std**2, dim=1) + log_norm - math.log(len(c))


def checkerboard_log_prob(x: Tensor) -> Tensor:
    """Exact log density `[N]` (float64) of `checkerboard`: -log(32) on black squares, -inf elsewhere."""
    x = _check_points(x, 2)
    cell = torch.floor((x + _BOARD_HALF) / _SQUARE)  # [N, 2] square index per axis
    inside = ((cell >= 0) & (cell < 4)).all(dim=1) & (cell.sum(dim=1) % 2 == 0)
    out = torch.full((len(x),), -math.inf, dtype=torch.float64)
    return out.masked_fill(inside, -math.log(_BLACK_AREA))


def ring8(*, n: int = DEFAULT_N, seed: int = 0) -> RawData:
    """8 Gaussians (std 0.01) evenly spaced on the unit circle (PacGAN's 2-D ring)."""
    # Lin et al. 2018, sec. 5.1: means (cos 2πi/8, sin 2πi/8), variance 1e-4. Metz et al.
    # 2017 use radius 2 and std 0.02, the same shape at twice the scale.
    angle = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
    centres = torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)  # [8, 2]
    return _mixture(centres, 0.01, n, seed)


def grid25(*, n: int = DEFAULT_N, seed: int = 0) -> RawData:
    """25 Gaussians (std 0.05) on the grid {-4, -2, 0, 2, 4}² (VEEGAN / PacGAN's 2-D grid)."""
    # Srivastava et al. 2017, sec. 5.1; Lin et al. 2018, sec. 5.1 (variance 0.0025).
    axis = torch.arange(-4.0, 5.0, 2.0, dtype=torch.float64)
    centres = torch.cartesian_prod(axis, axis)  # [25, 2]
    return _mixture(centres, 0.05, n, seed)


# The toys with known modes, where mode coverage (Srivastava et al. 2017) is measured.
MIXTURE_TOYS = {"ring8": ring8, "grid25": grid25}


def moons(*, n: int = DEFAULT_N, seed: int = 0) -> RawData:
    """Two interleaved half circles plus Gaussian noise (std 0.1), as sklearn's make_moons; labels = moon."""
    n, g = check_count(n), _generator(seed)
    moon = torch.randint(2, (n,), generator=g)  # [N] 0 = upper, 1 = lower
    t = math.pi * torch.rand(n, generator=g, dtype=torch.float64)
    sign = 1.0 - 2.0 * moon
    x = torch.stack([sign * torch.cos(t) + moon, sign * torch.sin(t) + 0.5 * moon], dim=1)
    return RawData(_noisy(x, 0.1, g), labels=moon)


def spiral(*, n: int = DEFAULT_N, seed: int = 0) -> RawData:
    """Two interleaved spiral arms (FFJORD's "2spirals", Grathwohl et al. 2019); labels = arm."""
    n, g = check_count(n), _generator(seed)
    arm = torch.randint(2, (n,), generator=g)  # [N]
    r = torch.sqrt(torch.rand(n, generator=g, dtype=torch.float64)) * 3 * math.pi  # up to 540°
    jitter = 0.5 * torch.rand(n, 2, generator=g, dtype=torch.float64)
    x = torch.stack([-torch.cos(r) * r, torch.sin(r) * r], dim=1) + jitter  # [N, 2]
    x = (1.0 - 2.0 * arm)[:, None] * x / 3
    return RawData(_noisy(x, 0.1, g), labels=arm)


def pinwheel(*, n: int = DEFAULT_N, seed: int = 0) -> RawData:
    """Five curved arms, the pinwheel of Johnson et al. 2016 (SVAE); labels = arm."""
    # Johnson et al.'s make_pinwheel_data(radial_std=0.3, tangential_std=0.05, 5 classes,
    # rate=0.25), scaled by 2 (as FFJORD does) instead of 10 so it spans about [-4, 4]².
    n, g = check_count(n), _generator(seed)
    arm = torch.randint(5, (n,), generator=g)  # [N]
    feat = torch.randn(n, 2, generator=g, dtype=torch.float64) * torch.tensor([0.3, 0.05])
    feat[:, 0] += 1.0
    angle = arm * (2 * math.pi / 5) + 0.25 * torch.exp(feat[:, 0])
    cos, sin = torch.cos(angle), torch.sin(angle)
    x = torch.stack([feat[:, 0] * cos + feat[:, 1] * sin, feat[:, 1] * cos - feat[:, 0] * sin], 1)
    return RawData((2.0 * x).float(), labels=arm)


def checkerboard(*, n: int = DEFAULT_N, seed: int = 0) -> RawData:
    """Uniform on the 8 black squares of a 4 × 4 board on [-4, 4]²; exact log density."""
    n, g = check_count(n), _generator(seed)
    square = _BLACK[torch.randint(len(_BLACK), (n,), generator=g)]  # [N, 2] square index
    x = -_BOARD_HALF + _SQUARE * (square + torch.rand(n, 2, generator=g, dtype=torch.float64))
    return RawData(x.float(), log_prob=checkerboard_log_prob)


def _mixture(centres: Tensor, std: float, n: int, seed: int) -> RawData:
    """Sample an equal-weight isotropic mixture; labels = component."""
    n, g = check_count(n), _generator(seed)
    component = torch.randint(len(centres), (n,), generator=g)  # [N]
    x = _noisy(centres[component], std, g)
    density = partial(mixture_log_prob, centres=centres, std=std)
    return RawData(x, labels=component, log_prob=density, modes=Modes(centres.float(), std))


def _noisy(x: Tensor, std: float, g: torch.Generator) -> Tensor:
    """x `[N, 2]` float64 plus isotropic Gaussian noise, as float32."""
    return (x + std * torch.randn(x.shape, generator=g, dtype=torch.float64)).float()


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _check_points(x: object, dim: int) -> Tensor:
    """x as a float64 `[N, dim]` tensor, or a DataError naming the shape it has."""
    if not isinstance(x, Tensor) or x.dim() != 2 or x.shape[1] != dim:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise DataError(f"log_prob expects points shaped [N, {dim}], got {shape}")
    return x.to(torch.float64)
