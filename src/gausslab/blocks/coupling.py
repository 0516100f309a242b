"""RealNVP affine coupling layers (Dinh et al. 2017), shared by the VAE's flow prior and the data-space flow.

A stack of couplings maps z [..., D] to u [..., D] with a triangular Jacobian, so log|det du/dz| is a
sum of the predicted log-scales and the inverse is exact. Masks alternate between a checkerboard
pattern and its complement (Dinh et al. 2017, sec. 3.4), so every unit is transformed every two layers.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from gausslab.blocks import nets


class AffineCoupling(nn.Module):
    """RealNVP coupling (Dinh et al. 2017, eq. 7-9): the masked half conditions an affine map of the rest.

    u = m*z + (1-m) * (z * exp(s) + t), with (s, t) = net(m*z) and s = tanh(.) bounded for stability.
    hidden: one int (two hidden layers of that width) or the widths. zero_init: start as the identity
    (last layer zeroed, as Glow's zero initialisation, Kingma & Dhariwal 2018, sec. 3.3).
    """

    def __init__(self, mask: Tensor, hidden: int | Sequence[int], *, zero_init: bool = False):
        super().__init__()
        dim = mask.numel()
        widths = (hidden, hidden) if isinstance(hidden, int) else tuple(hidden)
        self.register_buffer("mask", mask, persistent=False)  # [D], rebuilt from the config
        self.net = nets.mlp([dim, *widths, 2 * dim], nn.Tanh)
        if zero_init:
            nn.init.zeros_(self.net[-1].weight)
            nn.init.zeros_(self.net[-1].bias)

    def _shift_scale(self, z: Tensor) -> tuple[Tensor, Tensor]:
        s, t = self.net(z * self.mask).chunk(2, dim=-1)
        keep = 1 - self.mask
        return torch.tanh(s) * keep, t * keep

    def forward(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """z [..., D] -> (u [..., D], log|det du/dz| [...])."""
        s, t = self._shift_scale(z)
        return z * s.exp() + t, s.sum(-1)

    def inverse(self, u: Tensor) -> Tensor:
        """The exact inverse of `forward`: u [..., D] -> z [..., D]."""
        s, t = self._shift_scale(u)  # the masked half is unchanged, so the conditioner sees the same input
        return (u - t) * (-s).exp()


def checkerboard(shape: Sequence[int]) -> Tensor:
    """1 where the sum of an element's indices is even, flattened [prod(shape)] (float32).

    Vectors [D]: the even units; images [C, H, W]: a checkerboard in every channel, shifted by one per channel.
    """
    grids = torch.meshgrid(*[torch.arange(n) for n in shape], indexing="ij")
    return (sum(grids) % 2 == 0).float().flatten()


def alternating_couplings(pattern: Tensor, layers: int, hidden: int | Sequence[int], **options) -> nn.ModuleList:
    """`layers` couplings whose masks alternate between `pattern` [D] and its complement."""
    return nn.ModuleList(
        AffineCoupling(pattern if i % 2 == 0 else 1 - pattern, hidden, **options) for i in range(layers)
    )


def push_forward(layers: nn.ModuleList, z: Tensor) -> tuple[Tensor, Tensor]:
    """z [..., D] through every layer: (u [..., D], summed log|det du/dz| [...])."""
    log_det = torch.zeros(z.shape[:-1], device=z.device, dtype=z.dtype)
    for layer in layers:
        z, ld = layer(z)
        log_det = log_det + ld
    return z, log_det


def pull_back(layers: nn.ModuleList, u: Tensor) -> Tensor:
    """The exact inverse of `push_forward`: u [..., D] -> z [..., D]."""
    for layer in reversed(layers):
        u = layer.inverse(u)
    return u
