"""A gausslab VAE whose networks are a 1-D linear-Gaussian model: p(x), the posterior and the ELBO in closed form.

p(z) = N(0, 1), p(x|z) = N(z, NOISE^2)  =>  p(x) = N(0, 1 + NOISE^2), p(z|x) = N(x / (1 + NOISE^2), POST_VAR).
The encoder q(z|x) = N(gain * x / (1 + NOISE^2), (std_scale^2) POST_VAR) is the exact posterior for
gain = std_scale = 1; otherwise the importance weights p(x, z) / q(z|x) vary and
ELBO(x) = log p(x) - KL(q(z|x) || p(z|x)) < IWAE_k(x) < log p(x).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

import gausslab as gl

NOISE = 0.6
POST_VAR = NOISE**2 / (1 + NOISE**2)


def linear_gaussian_vae(gain: float = 1.0, std_scale: float = 1.0) -> gl.models.VAE:
    model = gl.build_model("vae", (1,), latent_dim=1, likelihood="gaussian", gaussian_scale="fixed",
                           gaussian_std=NOISE, hidden=(4,))
    std = std_scale * math.sqrt(POST_VAR)
    encoder, decoder = nn.Linear(1, 2), nn.Linear(1, 1)
    with torch.no_grad():
        encoder.weight.copy_(torch.tensor([[gain / (1 + NOISE**2)], [0.0]]))
        encoder.bias.copy_(torch.tensor([0.0, math.log(math.expm1(std - 1e-5))]))  # softplus^-1 (the VAE adds 1e-5)
        decoder.weight.fill_(1.0)
        decoder.bias.fill_(0.0)
    model.encoder, model.decoder = encoder, decoder
    return model.eval()


def log_px(x: Tensor) -> Tensor:
    """Exact log p(x) [N] of x [N, 1], float64."""
    return torch.distributions.Normal(0.0, math.sqrt(1 + NOISE**2)).log_prob(x.double()).sum(1)


def exact_elbo(x: Tensor, gain: float, std_scale: float) -> Tensor:
    """log p(x) - KL(q(z|x) || p(z|x)) [N], both Gaussians in closed form, float64."""
    x = x.double()[:, 0]
    post_mean, q_mean = x / (1 + NOISE**2), gain * x / (1 + NOISE**2)
    ratio = std_scale**2  # q variance / posterior variance
    kl = 0.5 * (ratio + (q_mean - post_mean) ** 2 / POST_VAR - 1 - math.log(ratio))
    return log_px(x[:, None]) - kl
