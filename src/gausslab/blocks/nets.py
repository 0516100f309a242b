"""Network builders: MLPs for vectors, small stride-2 conv stacks for images.

Only layers live here; objectives are in `models/`, the loop in `train.py`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import Tensor, nn

from gausslab.core.errors import ConfigError


def mlp(sizes: Sequence[int], act: type[nn.Module] = nn.ReLU) -> nn.Sequential:
    """Linear layers of `sizes` with `act` between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


ARCHS = ("auto", "mlp", "conv")  # `arch` choices of every model's networks (see `use_conv`)


def default_hidden(dim: int) -> tuple[int, ...]:
    """MLP widths scaled to the data: 2-D toys get (128, 128), 784-d images (512, 512)."""
    width = min(512, max(128, 2 ** math.ceil(math.log2(2 * dim))))
    return (width, width)


def use_conv(shape: tuple[int, ...], arch: str) -> bool:
    """`auto` picks convolutions for images whose smaller side is at least 16 pixels."""
    if arch == "auto":
        return len(shape) == 3 and min(shape[1:]) >= 16
    if arch == "conv" and len(shape) != 3:
        raise ConfigError(f"arch='conv' needs image data [C, H, W]; this data has shape {list(shape)}")
    return arch == "conv"


def conv_sizes(side: int, stages: int) -> list[int]:
    """Spatial sides after each stride-2 stage (k=4, p=1 halves, flooring odd sides): 28 -> [28, 14, 7]."""
    sides = [side]
    for _ in range(stages):
        if sides[-1] < 8:
            break
        sides.append(sides[-1] // 2)
    return sides


class ConvEncoder(nn.Module):
    """[B, C, H, W] -> [B, out_dim] through stride-2 convs (DCGAN-style) and a linear head."""

    def __init__(self, shape: tuple[int, ...], channels: Sequence[int], out_dim: int, act=nn.ReLU):
        super().__init__()
        c, h, w = shape
        hs, ws = conv_sizes(h, len(channels)), conv_sizes(w, len(channels))
        n = min(len(hs), len(ws)) - 1
        widths = [c, *channels[:n]]
        layers: list[nn.Module] = []
        for a, b in zip(widths[:-1], widths[1:]):
            layers += [nn.Conv2d(a, b, 4, 2, 1), act()]
        self.features = nn.Sequential(*layers, nn.Flatten())
        self.head = nn.Linear(widths[-1] * hs[n] * ws[n], out_dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


class ConvDecoder(nn.Module):
    """[B, in_dim] -> [B, C, H, W]: the mirror of `ConvEncoder`, hitting odd sides exactly via output_padding."""

    def __init__(self, in_dim: int, shape: tuple[int, ...], channels: Sequence[int], act=nn.ReLU):
        super().__init__()
        c, h, w = shape
        hs, ws = conv_sizes(h, len(channels)), conv_sizes(w, len(channels))
        n = min(len(hs), len(ws)) - 1
        widths = [c, *channels[:n]][::-1]  # deepest first
        hs, ws = hs[: n + 1][::-1], ws[: n + 1][::-1]
        self.start = (widths[0], hs[0], ws[0])
        self.head = nn.Sequential(nn.Linear(in_dim, widths[0] * hs[0] * ws[0]), act())
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
            pad = (hs[i + 1] - 2 * hs[i], ws[i + 1] - 2 * ws[i])
            layers.append(nn.ConvTranspose2d(a, b, 4, 2, 1, output_padding=pad))
            if i < n - 1:
                layers.append(act())
        self.body = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.body(self.head(z).view(-1, *self.start))


class VectorEncoder(nn.Module):
    """[B, *shape] -> [B, out_dim] through an MLP on the flattened input."""

    def __init__(self, shape: tuple[int, ...], hidden: Sequence[int], out_dim: int, act=nn.ReLU):
        super().__init__()
        self.net = mlp([math.prod(shape), *hidden, out_dim], act)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x.flatten(1))


class VectorDecoder(nn.Module):
    """[B, in_dim] -> [B, *shape] through an MLP."""

    def __init__(self, in_dim: int, shape: tuple[int, ...], hidden: Sequence[int], act=nn.ReLU):
        super().__init__()
        self.shape = tuple(shape)
        self.net = mlp([in_dim, *hidden, math.prod(shape)], act)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z).view(-1, *self.shape)


def encoder(shape, out_dim: int, *, arch: str, hidden, channels, act=nn.ReLU) -> nn.Module:
    """x [B, *shape] -> [B, out_dim], conv or MLP by `use_conv`."""
    if use_conv(shape, arch):
        return ConvEncoder(shape, channels, out_dim, act)
    widths = hidden if hidden is not None else default_hidden(math.prod(shape))
    return VectorEncoder(shape, widths, out_dim, act)


def decoder(in_dim: int, shape, *, arch: str, hidden, channels, act=nn.ReLU) -> nn.Module:
    """z [B, in_dim] -> [B, *shape], conv or MLP by `use_conv`."""
    if use_conv(shape, arch):
        return ConvDecoder(in_dim, shape, channels, act)
    widths = hidden if hidden is not None else default_hidden(math.prod(shape))
    return VectorDecoder(in_dim, shape, tuple(reversed(widths)), act)
