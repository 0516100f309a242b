"""Distributions over the latent z of a VAE; `nn.Module`s so learnable priors train with the model.

Every prior has `sample(n, generator)` -> [n, D] and `log_prob(z)` [..., D] -> [...]. `kl(q)` returns
the closed-form per-unit KL(q(z|x) || p(z)) [B, D] where it exists; the other priors do not
define it, and the VAE then uses the single-sample Monte Carlo estimate log q(z|x) - log p(z)
(Kingma & Welling 2014), which is unbiased for the KL and keeps the ELBO a valid bound.
All priors share one constructor signature so the VAE builds any of them from its config:
`Prior(latent_dim, *, components, flow_layers, data_shape, encode, **_)`.
Why a learnable prior at all: the README's "What the prior costs".
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.distributions import Normal

from gausslab.blocks.coupling import alternating_couplings, checkerboard, pull_back, push_forward

# The VAE hands priors that need it (VampPrior) its encoder: x [K, *shape] -> q(z|x).
Encode = Callable[[Tensor], Normal]


def diagonal_mixture_log_prob(z: Tensor, loc: Tensor, scale: Tensor, logits: Tensor) -> Tensor:
    """log sum_k pi_k N(z; loc_k, diag scale_k^2): z [..., D], loc/scale [K, D], logits [K] -> [...]."""
    per_component = Normal(loc, scale, validate_args=False).log_prob(z.unsqueeze(-2)).sum(-1)  # [..., K]
    return torch.logsumexp(per_component + logits.log_softmax(-1), dim=-1)


def diagonal_mixture_sample(
    n: int, loc: Tensor, scale: Tensor, logits: Tensor, generator: torch.Generator | None = None
) -> Tensor:
    """n draws [n, D]: a component k ~ softmax(logits), then loc_k + scale_k * eps."""
    k = torch.multinomial(logits.softmax(-1), n, replacement=True, generator=generator)  # [n]
    eps = torch.randn(n, loc.shape[-1], generator=generator, device=loc.device, dtype=loc.dtype)
    return loc[k] + scale[k] * eps


class StandardNormal(nn.Module):
    """p(z) = N(0, I): the fixed base whose cost gausslab measures."""

    label = "N(0, I) prior"  # how reports name it

    def __init__(self, latent_dim: int, **_: object):
        super().__init__()
        self.latent_dim = latent_dim
        self.register_buffer("_zero", torch.zeros(()))  # follows .to(device)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n draws z ~ N(0, I) [n, D] on the prior's device, in its dtype."""
        return torch.randn(n, self.latent_dim, generator=generator, device=self._zero.device, dtype=self._zero.dtype)

    def log_prob(self, z: Tensor) -> Tensor:
        """log N(z; 0, I) summed over units: z [..., D] -> [...] (nats)."""
        return -0.5 * (z.square() + math.log(2 * math.pi)).sum(-1)

    def kl(self, q: Normal) -> Tensor:
        """KL(N(mu, s^2) || N(0, 1)) = (mu^2 + s^2 - 1) / 2 - log s per unit [B, D] (Kingma & Welling 2014, app. B)."""
        return 0.5 * (q.loc.square() + q.scale.square() - 1) - q.scale.log()


class MixtureOfGaussians(nn.Module):
    """p(z) = sum_k pi_k N(mu_k, diag sigma_k^2) with learnable means, log-stds and mixture logits."""

    label = "MoG prior"  # how reports name it
    # Its parameters are in latent units (~1), where Adam moves each by about lr per step: at the CLI
    # defaults (lr 1e-3, a few hundred steps) they could hardly leave their start. Ten times the
    # model's rate lets the mixture follow q(z) (on digits, 60 epochs: 3 seeds, see the README).
    lr_scale = 10.0
    spread = 0.5  # sd of the initial means; components then get variance 1 - spread^2

    def __init__(self, latent_dim: int, *, components: int, **_: object):
        super().__init__()
        # Start as N(0, I) in mean and covariance (means ~ N(0, spread^2 I), variances 1 - spread^2), so
        # the mixture begins where the fixed prior is and moves towards q(z) from there. Means drawn
        # from N(0, I) itself with unit variances start at twice the prior's variance, away from the codes.
        self.means = nn.Parameter(self.spread * torch.randn(components, latent_dim))  # [K, D]
        log_std = 0.5 * math.log(1 - self.spread**2)
        self.log_stds = nn.Parameter(torch.full((components, latent_dim), log_std))  # [K, D]
        self.logits = nn.Parameter(torch.zeros(components))  # [K]

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n draws [n, D]: a component k by softmax(logits), then mu_k + sigma_k * eps."""
        return diagonal_mixture_sample(n, self.means, self.log_stds.exp(), self.logits, generator)

    def log_prob(self, z: Tensor) -> Tensor:
        """log sum_k pi_k N(z; mu_k, diag sigma_k^2): z [..., D] -> [...] (nats)."""
        return diagonal_mixture_log_prob(z, self.means, self.log_stds.exp(), self.logits)


class VampPrior(nn.Module):
    """p(z) = (1/K) sum_k q(z | u_k), K learnable pseudo-inputs u_k (Tomczak & Welling 2018, eq. 9).

    The encoder is kept as a plain callable, not a submodule: it belongs to the VAE, and
    registering it here would store its weights twice in the state_dict.
    """

    label = "VampPrior"  # how reports name it

    def __init__(self, latent_dim: int, *, components: int, data_shape: tuple[int, ...], encode: Encode, **_: object):
        super().__init__()
        object.__setattr__(self, "encode", encode)  # bypasses nn.Module's registration of submodules
        # Images: as in the paper's code, pseudo-inputs start at small values around the data's dark
        # background, N(0.05, 0.01^2), and pass through hardtanh(0, 1), so they stay in the pixel range
        # (uniform noise in [0, 1] starts them far from any digit). Vectors: N(0, I), in the user's units.
        self.images = len(data_shape) == 3
        noise = torch.randn(components, *data_shape)
        self.pseudo_inputs = nn.Parameter(0.05 + 0.01 * noise if self.images else noise)  # [K, *shape]

    def inputs(self) -> Tensor:
        """The pseudo-inputs u_k the encoder sees [K, *shape]: clipped to [0, 1] for images."""
        return F.hardtanh(self.pseudo_inputs, 0.0, 1.0) if self.images else self.pseudo_inputs

    def _components(self) -> Normal:
        return self.encode(self.inputs())  # loc, scale [K, D]

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n draws [n, D]: a pseudo-input u_k uniformly at random, then z ~ q(z | u_k)."""
        q = self._components()
        return diagonal_mixture_sample(n, q.loc, q.scale, self._uniform_logits(q), generator)

    def log_prob(self, z: Tensor) -> Tensor:
        """log (1/K) sum_k q(z | u_k): z [..., D] -> [...] (nats; Tomczak & Welling 2018, eq. 9)."""
        q = self._components()
        return diagonal_mixture_log_prob(z, q.loc, q.scale, self._uniform_logits(q))

    @staticmethod
    def _uniform_logits(q: Normal) -> Tensor:
        return torch.zeros(q.loc.shape[0], device=q.loc.device, dtype=q.loc.dtype)


class FlowPrior(nn.Module):
    """p(z) = N(f(z); 0, I) |det df/dz| with f a stack of `flow_layers` RealNVP couplings (Dinh et al. 2017).

    Masks alternate between the even and odd latent units; sampling inverts f exactly.
    """

    label = "flow prior"  # how reports name it

    def __init__(self, latent_dim: int, *, flow_layers: int, **_: object):
        super().__init__()
        self.latent_dim = latent_dim
        self.layers = alternating_couplings(checkerboard((latent_dim,)), flow_layers, max(32, 4 * latent_dim))
        self.base = StandardNormal(latent_dim)

    def log_prob(self, z: Tensor) -> Tensor:
        """log N(f(z); 0, I) + log|det df/dz| by the change of variables: z [..., D] -> [...] (nats)."""
        u, log_det = push_forward(self.layers, z)
        return self.base.log_prob(u) + log_det

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n draws z = f^-1(u) [n, D], u ~ N(0, I), through the inverse couplings."""
        return pull_back(self.layers, self.base.sample(n, generator))


PRIORS: dict[str, type[nn.Module]] = {
    "standard": StandardNormal,
    "mog": MixtureOfGaussians,
    "vamp": VampPrior,
    "flow": FlowPrior,
}
