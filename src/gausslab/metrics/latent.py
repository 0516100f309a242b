"""Latent diagnostics of a VAE: rate/distortion, active units, ELBO surgery, prior holes, sampling fidelity.

Hoffman & Johnson 2016 ("ELBO surgery"): the average KL term splits as
    rate = E_x KL(q(z|x) || p(z)) = I(x; z) + KL(q(z) || p(z)),
with q(z) = (1/N) sum_n q(z|x_n) the aggregate posterior of the N examples given. Both parts are
Monte Carlo estimates over z_n ~ q(z|x_n) with q(z) evaluated exactly as that mixture, so their
sum is exactly the Monte Carlo rate on the same samples (and the closed-form rate in expectation).
All N x N mixture evaluations are done in float64 in row chunks (one GEMM each).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import torch
from torch import Tensor

from gausslab.metrics.samples import prdc

_CHUNK = 1 << 22  # query x component log-densities held at once


@dataclass
class AggregateTerms:
    """ELBO-surgery terms (nats): mutual_info + marginal_kl == rate_mc exactly."""

    mutual_info: float
    marginal_kl: float
    rate_mc: float


@dataclass
class LatentReport:
    """Latent diagnostics on a set of examples (keys as in DESIGN.md; nats)."""

    rate: float  # mean KL(q(z|x) || p(z)): closed form when the prior has one, else Monte Carlo
    distortion: float  # mean -log p(x|z), z ~ q(z|x)
    active_units: int  # Burda et al. 2016: Var_x(E_q[z_u]) > 0.01 x the prior's variance of unit u
    mutual_info: float  # I(x; z) under the aggregate posterior
    marginal_kl: float  # KL(q(z) || p(z))
    prior_holes: float  # see `prior_hole_score`
    collapsed: bool  # no active unit, or rate < 0.01 nats
    hole_membership: Tensor | None = field(default=None, repr=False)  # [S] bool: prior draw s lies in a hole

    def to_dict(self) -> dict[str, float | int | bool]:
        """The scalar diagnostics by name (without `hole_membership`)."""
        return {k: v for k, v in asdict(self).items() if k != "hole_membership"}


def diagonal_normal_log_prob(z: Tensor, mu: Tensor, std: Tensor) -> Tensor:
    """log N(z_s; mu_n, diag std_n^2) for every query s and component n [S, N], float64.

    Uses sum_d (z - mu)^2 / std^2 = z^2 . w - 2 z . (mu w) + mu^2 . w with w = 1 / std^2 (a GEMM).
    """
    z, mu, std = z.double(), mu.double(), std.double()
    w = std.pow(-2)  # [N, D]
    const = (mu.square() * w).sum(1) + 2 * std.log().sum(1) + mu.shape[1] * math.log(2 * math.pi)  # [N]
    quad = z.square() @ w.T - 2 * z @ (mu * w).T  # [S, N]
    return -0.5 * (quad + const)


def log_aggregate_posterior(z: Tensor, mu: Tensor, std: Tensor, exclude: Tensor | None = None) -> Tensor:
    """log q(z) = log (1/N) sum_n q(z | x_n) at queries z [S, D] -> [S], float64, chunked over queries.

    exclude: [S] component index left out for each query (leave-one-out: the mean over N - 1 others).
    """
    n = mu.shape[0]
    rows = max(1, _CHUNK // n)
    out = []
    for start in range(0, len(z), rows):
        logp = diagonal_normal_log_prob(z[start : start + rows], mu, std)  # [c, N]
        if exclude is not None:
            logp[torch.arange(len(logp), device=logp.device), exclude[start : start + rows]] = -math.inf
        out.append(torch.logsumexp(logp, dim=1))
    return torch.cat(out) - math.log(n - (exclude is not None))


def sample_posterior(mu: Tensor, std: Tensor, generator: torch.Generator, samples: int = 1) -> Tensor:
    """z ~ q(z|x_n), `samples` per example, ordered sample-major [samples * N, D]."""
    eps = torch.randn(samples, *mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
    return (mu + std * eps).flatten(0, 1)


def aggregate_posterior_terms(mu: Tensor, std: Tensor, log_prior: Callable[[Tensor], Tensor],
                              generator: torch.Generator, samples: int = 1) -> AggregateTerms:
    """I(x; z) = E[log q(z|x_n) - log q(z)] and KL(q(z) || p(z)) = E[log q(z) - log p(z)], z ~ q(z|x_n).

    mu, std: posterior parameters [N, D] of the N examples; log_prior: z [S, D] -> [S].
    """
    z = sample_posterior(mu, std, generator, samples)  # [S*N, D]
    own = torch.arange(len(mu), device=mu.device).repeat(samples)
    log_cond = _own_log_prob(z, mu[own], std[own])
    log_agg = log_aggregate_posterior(z, mu, std)
    log_p = log_prior(z).double()
    mi, mkl = (log_cond - log_agg).mean().item(), (log_agg - log_p).mean().item()
    return AggregateTerms(mi, mkl, mi + mkl)


def _own_log_prob(z: Tensor, mu: Tensor, std: Tensor) -> Tensor:
    """log N(z_i; mu_i, diag std_i^2) row by row [S], float64."""
    z, mu, std = z.double(), mu.double(), std.double()
    return (-0.5 * ((z - mu) / std).square() - std.log() - 0.5 * math.log(2 * math.pi)).sum(1)


def active_units(mu: Tensor, threshold: float = 0.01, prior_variance: Tensor | None = None) -> int:
    """Units whose posterior mean varies across examples: Var_x(E_q[z_u]) > threshold (Burda et al. 2016).

    Unbiased sample variance over the N examples. Burda et al.'s 0.01 is relative to N(0, I), whose
    units have variance 1; with `prior_variance` [D] (a learned prior's marginal variance per unit,
    which need not be 1) the threshold is scaled by it, so "active" means the same for every prior.
    """
    scale = 1.0 if prior_variance is None else prior_variance.to(mu.device).double()
    return int((mu.double().var(dim=0) > threshold * scale).sum())


def prior_hole_membership(mu: Tensor, std: Tensor, prior_samples: Tensor, generator: torch.Generator,
                          quantile: float = 0.01) -> Tensor:
    """For each prior sample [S], whether it lies where the aggregate posterior q(z) is rare [S] bool.

    "Rare" is below the `quantile` (1%) of log q(z) at q's own samples z_n ~ q(z|x_n), each scored
    leave-one-out (without its own component, which would flatter it). So about 1% of draws are
    members when q(z) = p(z) (slightly fewer: a draw is scored against all N components), and
    nearly all as the prior's mass moves into holes of q(z) — regions the decoder never saw in
    training (Rezende & Viola 2018; Dai & Wipf 2019).
    """
    z = sample_posterior(mu, std, generator)
    own = log_aggregate_posterior(z, mu, std, exclude=torch.arange(len(mu), device=mu.device))
    cut = torch.quantile(own, quantile)
    return (log_aggregate_posterior(prior_samples, mu, std) < cut).cpu()


def prior_hole_score(mu: Tensor, std: Tensor, prior_samples: Tensor, generator: torch.Generator,
                     quantile: float = 0.01) -> float:
    """Fraction of prior samples lying where the aggregate posterior q(z) is rare (`prior_hole_membership`)."""
    return prior_hole_membership(mu, std, prior_samples, generator, quantile).double().mean().item()


@torch.inference_mode()
def encode_all(model, x: Tensor, batch: int = 512) -> tuple[Tensor, Tensor]:
    """Posterior means and standard deviations [N, D] of q(z|x), in batches."""
    qs = [model.encode(part) for part in x.to(model.device).split(batch)]
    return torch.cat([q.loc for q in qs]), torch.cat([q.scale for q in qs])


@torch.inference_mode()
def latent_report(model, x: Tensor, samples: int = 1, batch: int = 512, seed: int = 0,
                  hole_draws: int | None = None) -> LatentReport:
    """Every latent diagnostic of `model` on examples x [N, *shape] (e.g. the test split).

    model: a VAE (`encode`, `prior` with `log_prob`/`sample` and optionally closed-form `kl`,
    `decoder_params`, `likelihood.log_prob`). samples: z draws per example for the Monte Carlo terms.
    hole_draws: prior draws scored for holes (default N); they also give the prior's variance per
    unit, the scale of the active-unit threshold.
    """
    model.eval()
    x = x.to(model.device)
    g = torch.Generator(model.device).manual_seed(seed)
    mu, std = encode_all(model, x, batch)
    terms = aggregate_posterior_terms(mu, std, model.prior.log_prob, g, samples)
    rate = _closed_form_rate(model, mu, std)
    rate = terms.rate_mc if rate is None else rate
    z = sample_posterior(mu, std, g)
    distortion = -torch.cat([model.likelihood.log_prob(model.decoder_params(zc), xc)
                             for zc, xc in zip(z.split(batch), x.split(batch))]).double().mean().item()
    draws = model.prior.sample(hole_draws or len(x), generator=g)  # [S, D]
    units = active_units(mu, prior_variance=_prior_variance(model.prior, draws))
    members = prior_hole_membership(mu, std, draws, g)
    return LatentReport(rate, distortion, units, terms.mutual_info, terms.marginal_kl, members.double().mean().item(),
                        collapsed=units == 0 or rate < 0.01, hole_membership=members)


def _prior_variance(prior, draws: Tensor) -> Tensor | None:
    """Per-unit variance of the prior: None (exactly 1) for N(0, I), the one prior with a closed-form KL;
    estimated from its draws [D] for learned priors."""
    return None if getattr(prior, "kl", None) is not None else draws.double().var(dim=0)


@torch.inference_mode()
def sampler_hole_membership(model, x: Tensor, sampler, seed: int = 0, draws: int | None = None,
                            batch: int = 512) -> Tensor:
    """`prior_hole_membership` [draws] bool of `draws` (default len(x)) latents of `sampler`
    (`sample(n, generator) -> z [n, D]`, e.g. an ex-post mixture) in place of the prior's, against the
    aggregate posterior of examples x."""
    mu, std = encode_all(model, x, batch)
    g = torch.Generator(model.device).manual_seed(seed)
    return prior_hole_membership(mu, std, sampler.sample(draws or len(mu), generator=g).to(mu), g)


def sampler_hole_score(model, x: Tensor, sampler, seed: int = 0, batch: int = 512) -> float:
    """Share of len(x) sampler draws in holes: the mean of `sampler_hole_membership`."""
    return sampler_hole_membership(model, x, sampler, seed, batch=batch).double().mean().item()


def _closed_form_rate(model, mu: Tensor, std: Tensor) -> float | None:
    kl = getattr(model.prior, "kl", None)
    if kl is None:
        return None
    return kl(torch.distributions.Normal(mu, std)).sum(-1).double().mean().item()


@torch.inference_mode()
def latent_fidelity(model, x: Tensor, features: Callable[[Tensor], Tensor], k: int = 5, seed: int = 0,
                    sampler=None, batch: int = 512) -> dict[str, float]:
    """How well prior samples (or `sampler`'s) match what the encoder actually uses, with PRDC.

    `*_vs_recon`: decoded latent samples against decoded reconstructions of x (both through the
    decoder, so its blur cancels and only the latent distribution differs), in `features` space.
    `latent_*`: latent samples against the encoded means of x, in latent space.
    sampler: any object with `sample(n, generator) -> z [n, D]` (e.g. an ex-post mixture); default the prior.
    """
    model.eval()
    x = x.to(model.device)
    g = torch.Generator(model.device).manual_seed(seed)
    mu, _ = encode_all(model, x, batch)
    z = (sampler if sampler is not None else model.prior).sample(len(x), generator=g)
    recon = torch.cat([model.decode(part) for part in mu.split(batch)])
    decoded = torch.cat([model.decode(part) for part in z.split(batch)])
    pixels = prdc(features(recon), features(decoded), k)
    latent = prdc(mu.cpu().float(), z.cpu().float(), k)
    return {**{f"{key}_vs_recon": v for key, v in pixels.items()}, **{f"latent_{key}": v for key, v in latent.items()}}


__all__ = [
    "AggregateTerms", "LatentReport", "active_units", "aggregate_posterior_terms", "diagonal_normal_log_prob",
    "latent_fidelity", "latent_report", "log_aggregate_posterior", "prior_hole_membership", "prior_hole_score",
    "sampler_hole_membership", "sampler_hole_score",
]
