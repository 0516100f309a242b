"""Variational autoencoder (Kingma & Welling 2014) with a pluggable prior and likelihood.

Objective per example: ELBO = E_q[log p(x|z)] - KL(q(z|x) || p(z)), trained as
-(recon - beta_t * KL) with linear KL warm-up (Bowman et al. 2016) and optional free bits
(Kingma et al. 2016, "Improved variational inference with inverse autoregressive flow", eq. 15).
With `objective="iwae"` it is trained on the k-sample importance-weighted bound instead
(Burda et al. 2016, eq. 8), which tightens towards log p(x) as k grows; its k = 1 case is
the ELBO, and is trained by the very same code.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import Tensor, nn
from torch.distributions import Normal
from torch.utils.checkpoint import checkpoint

from gausslab.blocks import nets, usernets
from gausslab.blocks.likelihoods import LIKELIHOODS
from gausslab.blocks.priors import PRIORS
from gausslab.blocks.usernets import NetworkSpec, UserNetwork
from gausslab.core.config import Size, StrictModel, choices
from gausslab.core.errors import ConfigError
from gausslab.models.base import GenerativeModel, Loss, adam, full_precision


# What the IWAE objective needs: its bound has no separate KL term to weight, warm up or floor.
IWAE_PLAIN: dict[str, float | int] = {"beta": 1.0, "warmup_steps": 0, "free_bits": 0.0}


class VAEConfig(StrictModel):
    """Arguments of `VAE`: latent size, prior, likelihood, objective weights and networks."""

    kind: Literal["vae"] = "vae"
    latent_dim: int = Field(16, gt=0, description="size of the latent code z")
    prior: choices(PRIORS) = Field("standard", description="p(z): " + ", ".join(PRIORS))
    prior_components: int = Field(10, gt=0, description="mixture components / VampPrior pseudo-inputs")
    flow_layers: int = Field(4, gt=0, le=1000, description="coupling layers of the `flow` prior")
    likelihood: choices(["auto", *LIKELIHOODS]) = Field("auto", description=(
        "p(x|z): auto picks logistic (discretized, per pixel) for grey-level images, bernoulli for binary or "
        "continuous images, gaussian for vectors"))
    levels: int | None = Field(None, ge=2, le=65_536, description=(
        "grey levels of the data, for the logistic likelihood; None: the data set's own (build_model fills it in)"))
    kl_samples: int = Field(1, ge=1, le=10_000, description=(
        "draws of z for the prior term of the Monte Carlo KL (priors without a closed form: mog, vamp, flow); "
        "more draws, less gradient noise"))
    gaussian_scale: Literal["learned", "fixed"] = Field("learned", description="the gaussian likelihood's scale")
    gaussian_std: float = Field(1.0, gt=0, description="the scale when gaussian_scale is fixed")
    beta: float = Field(1.0, ge=0, description="weight of the KL term (Higgins et al. 2017)")
    warmup_steps: int = Field(0, ge=0, description="steps of linear KL annealing (Bowman et al. 2016)")
    free_bits: float = Field(0.0, ge=0, description="nats per latent unit not charged (Kingma et al. 2016)")
    objective: Literal["elbo", "iwae"] = Field(
        "elbo", description="training bound: the ELBO, or the importance-weighted bound on iwae_k samples "
        "(Burda et al. 2016, eq. 8), which needs beta=1, warmup_steps=0 and free_bits=0")
    iwae_k: int = Field(5, ge=1, le=100_000, description="importance samples per example of the iwae objective (1 is the "
                        "ELBO); ignored by the elbo objective")
    arch: choices(nets.ARCHS) = Field("auto", description="networks; auto: conv for images of side >= 16")
    hidden: tuple[Size, ...] | None = Field(None, description="MLP widths; none: picked from the data size")
    channels: tuple[Size, ...] = Field((32, 64, 128), description="conv widths, one per stride-2 stage")
    encoder: NetworkSpec | None = UserNetwork  # x [B, *shape] -> [B, 2 * latent_dim]: mean, raw scale
    decoder: NetworkSpec | None = UserNetwork  # z [B, latent_dim] -> parameters of p(x|z) (see `VAE`)

    @model_validator(mode="after")
    def _plain_bound_for_iwae(self) -> VAEConfig:
        if self.objective == "iwae":
            for name, plain in IWAE_PLAIN.items():
                if getattr(self, name) != plain:
                    raise ConfigError(f"model.{name}={getattr(self, name)!r} is not allowed with model.objective="
                                      f"'iwae' (the bound has no KL term to weight); use {name}={plain} or "
                                      "objective='elbo'")
        return self


@dataclass
class ElboTerms:
    """Per-example terms [B]: elbo = recon - kl (nats)."""

    elbo: Tensor
    recon: Tensor
    kl: Tensor


@dataclass
class IwaeTerms:
    """Per-example terms [B] of the k-sample bound: bound = log (1/k) sum_i p(x, z_i) / q(z_i|x) (nats);
    recon and kl average log p(x|z_i) and log q(z_i|x) - log p(z_i) over the k draws."""

    bound: Tensor
    recon: Tensor
    kl: Tensor


class VAE(GenerativeModel):
    """Encoder q(z|x) = N(mu, diag sigma^2), decoder p(x|z), prior p(z) from `PRIORS`.

    encoder / decoder: your own networks (built by `gausslab.network`) instead of the MLP / conv ones;
    without them, those named by `config.encoder` / `config.decoder`, else the built-in ones.
    The encoder maps x [B, *shape] to [B, 2 * latent_dim]: the posterior mean, then a raw scale
    (sigma = softplus(raw) + 1e-5). The decoder maps z [B, latent_dim] to the parameters of p(x|z)
    (`likelihood_kind`): [B, *shape] Bernoulli logits or Gaussian means, or for the discretized
    logistic [B, 2C, H, W] (locations, then log-scales).
    """

    config_class = VAEConfig

    def __init__(
        self, config: VAEConfig, shape: tuple[int, ...], encoder: nn.Module | None = None,
        decoder: nn.Module | None = None,
    ):
        super().__init__()
        self.config, self.shape = config, tuple(shape)
        arch = dict(arch=config.arch, hidden=config.hidden, channels=config.channels)
        latent = config.latent_dim
        likelihood = LIKELIHOODS[self.likelihood_kind(config, self.shape)]
        params_shape = (likelihood.params_per_value * self.shape[0], *self.shape[1:])  # [C', H, W] or [D']
        self.encoder = usernets.resolve(encoder, config.encoder, lambda: nets.encoder(self.shape, 2 * latent, **arch))
        self.decoder = usernets.resolve(decoder, config.decoder, lambda: nets.decoder(latent, params_shape, **arch))
        if config.encoder is not None:
            usernets.check_output(self.encoder, "encoder", (2, *self.shape), (2, 2 * latent), "mean, raw scale")
        if config.decoder is not None:
            usernets.check_output(self.decoder, "decoder", (2, latent), (2, *params_shape), "parameters of p(x|z)")
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

    def forward(self, x: Tensor) -> ElboTerms:
        """The per-example terms training combines (before beta, warm-up and free bits): `elbo(x)`."""
        return self.elbo(x)

    def encode(self, x: Tensor) -> Normal:
        """q(z|x) = N(mu, diag sigma^2) of x [B, *shape]: loc and scale [B, latent_dim], float32 under autocast too."""
        mu, raw = full_precision(self.encoder(x)).chunk(2, dim=-1)  # [B, D] each; float32 under autocast too
        # No argument validation: its checks cost a host sync and ~6 small ops per step.
        return Normal(mu, F.softplus(raw) + 1e-5, validate_args=False)

    def decoder_params(self, z: Tensor) -> Tensor:
        """Parameters of p(x|z) (logits, means, or locations and log-scales) [B, params_per_value * C, ...]."""
        return self.decoder(z)

    def decode(self, z: Tensor) -> Tensor:
        """The mean of p(x|z) [B, *shape]."""
        return self.likelihood.mean(self.decoder(z))

    def reconstruct(self, x: Tensor) -> Tensor:
        """The mean of p(x|z) [B, *shape] at the posterior mean z = E_q[z|x] of x [B, *shape]."""
        return self.decode(self.encode(x).loc)

    def sample(self, n: int, generator: torch.Generator | None = None, sampler=None) -> Tensor:
        """Decoded means of z ~ p(z), or of z ~ `sampler` (e.g. an ex-post mixture) when given."""
        source = sampler if sampler is not None else self.prior
        return self.decode(source.sample(n, generator=generator).to(self.dtype))

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
        """log (1/k) sum_i p(x, z_i) / q(z_i|x), z_i ~ q(z|x) (Burda et al. 2016, eq. 8) [B]."""
        return self.iwae_terms(x, k, chunk).bound

    def iwae_terms(self, x: Tensor, k: int, chunk: int = 256) -> IwaeTerms:
        """The k-sample bound and its parts [B], differentiable (reparameterised draws).

        The draws are made `chunk` at a time, so the decoder holds O(B * chunk) rows. Under autograd with
        more than one chunk, each chunk's decoder activations are recomputed in the backward pass
        (activation checkpointing), so training memory stays bounded as k grows, too.
        """
        q = self.encode(x)
        recompute = torch.is_grad_enabled() and k > chunk
        log_px, log_ratio = [], []
        for start in range(0, k, chunk):
            z = q.rsample((min(chunk, k - start),))  # [m, B, D]
            log_px.append(checkpoint(self._log_px, z, x, use_reentrant=False) if recompute else self._log_px(z, x))
            log_ratio.append(q.log_prob(z).sum(-1) - self.prior.log_prob(z))  # [m, B]
        recon, kl = torch.cat(log_px), torch.cat(log_ratio)  # [k, B]
        return IwaeTerms(torch.logsumexp(recon - kl, 0) - math.log(k), recon.mean(0), kl.mean(0))

    def _log_px(self, z: Tensor, x: Tensor) -> Tensor:
        """log p(x|z_i) [m, B] for draws z [m, B, D] of examples x [B, *shape]."""
        m = z.shape[0]
        xs = x.unsqueeze(0).expand(m, *x.shape).flatten(0, 1)  # [m*B, *shape]
        return self.likelihood.log_prob(self.decoder(z.flatten(0, 1)), xs).view(m, -1)

    @property
    def importance_samples(self) -> int:
        """k of the training bound: iwae_k under the iwae objective, else 1 (the ELBO, Burda et al.'s L_1)."""
        return self.config.iwae_k if self.config.objective == "iwae" else 1

    def optimizers(self, lr: float) -> dict[str, torch.optim.Optimizer]:
        """One Adam; a prior with its own `lr_scale` (the mixture's) learns at that multiple of `lr`."""
        scale = getattr(self.prior, "lr_scale", 1.0)
        if scale == 1.0:
            return super().optimizers(lr)
        prior = {id(p) for p in self.prior.parameters()}
        rest = [p for p in self.parameters() if id(p) not in prior]
        groups = [{"params": rest}, {"params": list(self.prior.parameters()), "lr": scale * lr}]
        return {"model": adam(groups, lr=lr)}

    def beta_at(self, step: int) -> float:
        """The KL weight at `step`: beta, ramped up linearly from 0 over `warmup_steps` (Bowman et al. 2016)."""
        warm = self.config.warmup_steps
        return self.config.beta * (min(1.0, step / warm) if warm else 1.0)

    def training_losses(self, x: Tensor, step: int) -> Iterator[Loss]:
        """One loss per step: beta * KL (free bits applied) - reconstruction log-likelihood, batch means.

        Under the iwae objective with k > 1, the negative k-sample bound instead (Burda et al. 2016, eq. 8).
        """
        k = self.importance_samples
        yield self._elbo_loss(x, step) if k == 1 else self._iwae_loss(x, k)

    def _elbo_loss(self, x: Tensor, step: int) -> Loss:
        q = self.encode(x)
        z = q.rsample()
        recon = self.likelihood.log_prob(self.decoder(z), x)  # [B]
        kl, per_unit = self.kl(q, z)
        recon_mean, kl_mean = recon.mean(), kl.mean()
        beta = self.beta_at(step)
        return Loss("model", beta * self._free_bits(kl_mean, per_unit) - recon_mean, {
            "recon": recon_mean.detach(),
            "kl": kl_mean.detach(),
            "beta": torch.tensor(beta),
        })

    def _iwae_loss(self, x: Tensor, k: int) -> Loss:
        """-mean IWAE bound (beta, warm-up and free bits are off: VAEConfig checks it); recon and kl are
        logged as the averages over the k draws, beside the bound itself."""
        terms = self.iwae_terms(x, k)
        bound = terms.bound.mean()
        return Loss("model", -bound, {
            "recon": terms.recon.mean().detach(),
            "kl": terms.kl.mean().detach(),
            "iwae_bound": bound.detach(),
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
        """Mean single-sample ELBO, reconstruction and KL of held-out rows x (nats); the IWAE bound too if k > 1."""
        terms = self.elbo(x)
        out = {"elbo": terms.elbo.mean(), "recon": terms.recon.mean(), "kl": terms.kl.mean()}
        k = self.importance_samples
        return out | ({"iwae_bound": self.iwae_bound(x, k).mean()} if k > 1 else {})
