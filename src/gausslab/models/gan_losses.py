"""GAN objectives as (d_loss, g_loss) pairs on discriminator outputs, and the WGAN-GP penalty.

Every loss takes raw discriminator outputs (logits or critic values) `[B]` and returns a scalar.
With sigmoid D(x) = σ(t): -log D = softplus(-t) and -log(1 - D) = softplus(t).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass(frozen=True)
class GANLoss:
    """d_loss(real_out, fake_out) and g_loss(fake_out); `penalty`: add the WGAN-GP gradient penalty to d_loss."""

    d_loss: Callable[[Tensor, Tensor], Tensor]
    g_loss: Callable[[Tensor], Tensor]
    penalty: bool = False


def _bce_d(real: Tensor, fake: Tensor) -> Tensor:
    # Goodfellow et al. 2014, eq. 1: D maximises log D(x) + log(1 - D(G(z))).
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def _minimax_g(fake: Tensor) -> Tensor:
    # The saturating generator loss: minimise log(1 - D(G(z))) = -softplus(t).
    return -F.softplus(fake).mean()


def _ns_g(fake: Tensor) -> Tensor:
    # Goodfellow et al. 2014, sec. 3: maximise log D(G(z)) instead (strong gradients early on).
    return F.softplus(-fake).mean()


def _wasserstein_d(real: Tensor, fake: Tensor) -> Tensor:
    # Arjovsky et al. 2017: the critic maximises E[f(x)] - E[f(G(z))].
    return fake.mean() - real.mean()


def _negative_mean(fake: Tensor) -> Tensor:
    return -fake.mean()


def _hinge_d(real: Tensor, fake: Tensor) -> Tensor:
    # Lim & Ye 2017; Miyato et al. 2018, eq. 16.
    return F.relu(1 - real).mean() + F.relu(1 + fake).mean()


GAN_LOSSES: dict[str, GANLoss] = {
    "minimax": GANLoss(_bce_d, _minimax_g),
    "ns": GANLoss(_bce_d, _ns_g),
    "wgan-gp": GANLoss(_wasserstein_d, _negative_mean, penalty=True),
    "hinge": GANLoss(_hinge_d, _negative_mean),
}


def gradient_penalty(critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor) -> Tensor:
    """E[(||∇f(x̂)||₂ - 1)²] at x̂ = εx + (1-ε)G(z), ε ~ U[0, 1] per example (Gulrajani et al. 2017, Alg. 1).

    real, fake: `[B, *shape]` (already packed); ε comes from torch's global RNG.
    """
    eps = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device, dtype=real.dtype)
    mixed = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()
