"""Small user networks, importable as `tests.models.custom_nets:...` (what `gausslab.network` records)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class Encoder(nn.Module):
    """x [B, *shape] -> [B, 2 * latent_dim]: a two-layer MLP with a LayerNorm (a buffer-free, learned affine)."""

    def __init__(self, shape: list[int], latent_dim: int, width: int = 16):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(math.prod(shape), width), nn.LayerNorm(width), nn.Tanh(),
                                 nn.Linear(width, 2 * latent_dim))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class Decoder(nn.Module):
    """z [B, latent_dim] -> [B, *shape], with a running statistic buffer to check that buffers survive too."""

    def __init__(self, latent_dim: int, shape: list[int], width: int = 16):
        super().__init__()
        self.shape = tuple(shape)
        self.net = nn.Sequential(nn.Linear(latent_dim, width), nn.Tanh(), nn.Linear(width, math.prod(shape)))
        self.register_buffer("calls", torch.zeros(()))

    def forward(self, z: Tensor) -> Tensor:
        if self.training:
            self.calls += 1
        return self.net(z).view(-1, *self.shape)


class Rescaled(Encoder):
    """An Encoder that divides its input by the largest magnitude it reads from it (a data-dependent value,
    which tensors without data, such as torch's meta tensors, cannot give)."""

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x / max(float(x.abs().max()), 1.0))


class Critic(nn.Module):
    """Packed vectors [B', width_in] -> [B', 1]."""

    def __init__(self, width_in: int, width: int = 16):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(width_in, width), nn.LeakyReLU(0.2), nn.Linear(width, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class Wrong(nn.Module):
    """Outputs one number per example whatever it is asked for: breaks every contract."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, x: Tensor) -> Tensor:
        return self.scale * x.flatten(1).sum(1, keepdim=True)
