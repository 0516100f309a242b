"""gausslab VAEs whose networks are linear-Gaussian models, where p(x), the posterior and the ELBO are closed form.

`scalar_vae` (1-D, any encoder):

p(z) = N(0, 1), p(x|z) = N(z, NOISE^2)  =>  p(x) = N(0, 1 + NOISE^2), p(z|x) = N(x / (1 + NOISE^2), POST_VAR).
The encoder q(z|x) = N(gain * x / (1 + NOISE^2), (std_scale^2) POST_VAR) is the exact posterior for
gain = std_scale = 1; otherwise the importance weights p(x, z) / q(z|x) vary and
ELBO(x) = log p(x) - KL(q(z|x) || p(z|x)) < IWAE_k(x) < log p(x).
`linear_gaussian_vae` (D-dim data, random linear decoder): p(x) = N(b, W W^T + std^2 I), and
`set_exact_posterior` makes its encoder the true posterior.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.distributions import MultivariateNormal

from gausslab.models.vae import VAEConfig
from gausslab.models import VAE, build_model

NOISE = 0.6
POST_VAR = NOISE**2 / (1 + NOISE**2)


def scalar_vae(gain: float = 1.0, std_scale: float = 1.0) -> VAE:
    model = build_model("vae", (1,), latent_dim=1, likelihood="gaussian", gaussian_scale="fixed",
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


def linear_gaussian_vae(dim=3, latent=2, std=0.5) -> VAE:
    """Decoder x = W z + b + N(0, std^2 I) with a linear encoder: p(x) = N(b, W W^T + std^2 I) in closed form."""
    cfg = VAEConfig(latent_dim=latent, hidden=(), likelihood="gaussian", gaussian_scale="fixed", gaussian_std=std)
    return build_model(cfg, (dim,), seed=1)


def exact_log_px(model: VAE, x: torch.Tensor) -> torch.Tensor:
    lin = model.decoder.net[0]
    w, b = lin.weight.double(), lin.bias.double()
    cov = w @ w.T + model.config.gaussian_std**2 * torch.eye(w.shape[0], dtype=torch.float64)
    return MultivariateNormal(b, cov).log_prob(x.double())


def set_exact_posterior(model: VAE) -> None:
    """Encoder := the true posterior N(S W^T (x - b) / s^2, S), S = (I + W^T W / s^2)^-1."""
    lin, enc = model.decoder.net[0], model.encoder.net[0]
    w, b, s2 = lin.weight.double(), lin.bias.double(), model.config.gaussian_std**2
    cov = torch.linalg.inv(torch.eye(w.shape[1], dtype=torch.float64) + w.T @ w / s2)
    gain = cov @ w.T / s2  # [D, dim]
    std = cov.diagonal().sqrt()
    d = w.shape[1]
    with torch.no_grad():
        enc.weight.zero_()
        enc.weight[:d] = gain.float()
        enc.bias[:d] = (-gain @ b).float()
        enc.bias[d:] = torch.log(torch.expm1(std - 1e-5)).float()
