"""Variational autoencoder (Kingma & Welling 2014) with a pluggable prior and likelihood.

Objective per example: ELBO = E_q[log p(x|z)] - KL(q(z|x) || p(z)), trained as
-(recon - beta_t * KL) with linear KL warm-up (Bowman et al. 2016) and optional free bits
(Kingma et al. 2016, "Improved variational inference with inverse autoregressive flow", eq. 15).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.distributions import Normal

from gausslab import nets
from gausslab.config import TrainConfig, VAEConfig
from gausslab.likelihoods import LIKELIHOODS
from gausslab.models.base import GenerativeModel, Loss, adam
from gausslab.priors import PRIORS


@dataclass
class ElboTerms:
    """Per-example terms [B]: elbo = recon - kl (nats)."""

    elbo: Tensor
    recon: Tensor
    kl: Tensor


class VAE(GenerativeModel):
    """Encoder q(z|x) = N(mu, diag sigma^2), decoder p(x|z), prior p(z) from `PRIORS`."""

    def __init__(self, config: VAEConfig, shape: tuple[int, ...]):
        super().__init__()
        self.config, self.shape = config, tuple(shape)
        arch = dict(arch=config.arch, hidden=config.hidden, channels=config.channels)
        likelihood = LIKELIHOODS[self.likelihood_kind(config, self.shape)]
        params_shape = (likelihood.params_per_value * self.shape[0], *self.shape[1:])  # [C', H, W] or [D']
        self.encoder = nets.encoder(self.shape, 2 * config.latent_dim, **arch)
        self.decoder = nets.decoder(config.latent_dim, params_shape, **arch)
        self.likelihood = likelihood(self.shape, scale=config.gaussian_scale, std=config.gaussian_std,
                                     levels=config.levels)
        self.prior = PRIORS[config.prior](
            latent_dim=config.latent_dim,
            components=config.prior_components,
            flow_layers=config.flow_layers,
            data_shape=self.shape,
            encode=self.encode,
        )

    @staticmethod
    def likelihood_kind(config: VAEConfig, shape: tuple[int, ...]) -> str:
        """`auto`: Gaussian for vectors in the user's units; for images the discretized logistic when they have
        grey levels (a proper mass on them: on mnist5k after 5 epochs 1.84 bits/dim, where the Gaussian
        with learned per-pixel scales has 9.18), else the Bernoulli (binary or continuous images)."""
        if config.likelihood != "auto":
            return config.likelihood
        if len(shape) != 3:
            return "gaussian"
        return "logistic" if config.levels is not None and config.levels > 2 else "bernoulli"

    @property
    def data_transform(self) -> str:
        """The likelihood's: dequantized grey levels for densities, binarized ones for Bernoulli pixels."""
        return self.likelihood.data_transform

    def encode(self, x: Tensor) -> Normal:
        mu, raw = self.encoder(x).float().chunk(2, dim=-1)  # [B, D] each; float32 under autocast too
        # No argument validation: its checks cost a host sync and ~6 small ops per step.
        return Normal(mu, F.softplus(raw) + 1e-5, validate_args=False)

    def decoder_params(self, z: Tensor) -> Tensor:
        """Parameters of p(x|z) (logits, means, or locations and log-scales) [B, params_per_value * C, ...]."""
        return self.decoder(z)

    def decode(self, z: Tensor) -> Tensor:
        """The mean of p(x|z) [B, *shape]."""
        return self.likelihood.mean(self.decoder(z))

    def reconstruct(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x).loc)

    def sample(self, n: int, generator: torch.Generator | None = None, sampler=None) -> Tensor:
        """Decoded means of z ~ p(z), or of z ~ `sampler` (e.g. an ex-post mixture) when given."""
        source = sampler if sampler is not None else self.prior
        return self.decode(source.sample(n, generator=generator))

    def kl(self, q: Normal, z: Tensor) -> tuple[Tensor, Tensor | None]:
        """KL(q || p) per example [B], and per latent unit [B, D] when the prior has a closed form."""
        per_unit = self.prior.kl(q) if hasattr(self.prior, "kl") else None
        if per_unit is not None:
            return per_unit.sum(-1), per_unit
        # Monte Carlo: log q(z|x) - log p(z) (Kingma & Welling 2014). The reparameterised gradient of
        # log q(z|x) is exact; the noise is in the prior term, so that one may average `kl_samples` draws.
        log_p = self.prior.log_prob(z)  # [B]
        if self.config.kl_samples > 1:
            more = self.prior.log_prob(q.rsample((self.config.kl_samples - 1,)))  # [S - 1, B]
            log_p = torch.cat([log_p.unsqueeze(0), more]).mean(0)
        return q.log_prob(z).sum(-1) - log_p, None

    def elbo(self, x: Tensor) -> ElboTerms:
        """Single-sample ELBO terms per example."""
        q = self.encode(x)
        z = q.rsample()
        recon = self.likelihood.log_prob(self.decoder(z), x)
        kl, _ = self.kl(q, z)
        return ElboTerms(elbo=recon - kl, recon=recon, kl=kl)

    def iwae_bound(self, x: Tensor, k: int, chunk: int = 256) -> Tensor:
        """log (1/k) sum_i p(x, z_i) / q(z_i|x), z_i ~ q(z|x) (Burda et al. 2016, eq. 8) [B].

        Computed in chunks of `chunk` samples with a running logsumexp so memory is O(B * chunk).
        """
        q = self.encode(x)
        total = torch.full((x.shape[0],), -math.inf, device=x.device)
        for start in range(0, k, chunk):
            m = min(chunk, k - start)
            z = q.sample((m,))  # [m, B, D]
            out = self.decoder(z.flatten(0, 1))  # [m*B, *shape]
            xs = x.unsqueeze(0).expand(m, *x.shape).flatten(0, 1)
            log_px = self.likelihood.log_prob(out, xs).view(m, -1)
            log_w = log_px + self.prior.log_prob(z) - q.log_prob(z).sum(-1)  # [m, B]
            total = torch.logaddexp(total, torch.logsumexp(log_w, 0))
        return total - math.log(k)

    def optimizers(self, train: TrainConfig) -> dict[str, torch.optim.Optimizer]:
        """One Adam; a prior with its own `lr_scale` (the mixture's) learns at that multiple of train.lr."""
        scale = getattr(self.prior, "lr_scale", 1.0)
        if scale == 1.0:
            return super().optimizers(train)
        prior = {id(p) for p in self.prior.parameters()}
        rest = [p for p in self.parameters() if id(p) not in prior]
        groups = [{"params": rest}, {"params": list(self.prior.parameters()), "lr": scale * train.lr}]
        return {"model": adam(groups, lr=train.lr)}

    def beta_at(self, step: int) -> float:
        warm = self.config.warmup_steps
        return self.config.beta * (min(1.0, step / warm) if warm else 1.0)

    def training_losses(self, x: Tensor, step: int) -> Iterator[Loss]:
        q = self.encode(x)
        z = q.rsample()
        recon = self.likelihood.log_prob(self.decoder(z), x)  # [B]
        kl, per_unit = self.kl(q, z)
        recon_mean, kl_mean = recon.mean(), kl.mean()
        beta = self.beta_at(step)
        yield Loss("model", beta * self._free_bits(kl_mean, per_unit) - recon_mean, {
            "recon": recon_mean.detach(),
            "kl": kl_mean.detach(),
            "beta": torch.tensor(beta),
        })

    def _free_bits(self, kl_mean: Tensor, per_unit: Tensor | None) -> Tensor:
        """Batch-mean KL with each unit's KL floored at `free_bits` nats (Kingma et al. 2016).

        Priors without a per-unit closed form floor the total at free_bits * latent_dim.
        """
        lam = self.config.free_bits
        if lam == 0:
            return kl_mean
        if per_unit is not None:
            return per_unit.mean(0).clamp(min=lam).sum()
        return kl_mean.clamp(min=lam * self.config.latent_dim)

    def validation_terms(self, x: Tensor) -> dict[str, Tensor]:
        terms = self.elbo(x)
        return {"elbo": terms.elbo.mean(), "recon": terms.recon.mean(), "kl": terms.kl.mean()}
