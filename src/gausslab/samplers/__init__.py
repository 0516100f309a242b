"""Where a trained VAE draws its latents from: its prior, or an ex-post mixture on the aggregate posterior.

A sampler has `fit(model, data, ...)` and `sample(n, generator) -> z [n, D]`, so that
`model.sample(n, sampler=ExPostSampler.fit(model, ds, k=10))` decodes its draws.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gausslab.data import Dataset
from gausslab.core.errors import ConfigError
from gausslab.models.gmm import GMM
from gausslab.training.mixtures import fit_gmm


class PriorSampler:
    """z ~ p(z), the model's own prior (what `VAE.sample` does without a sampler)."""

    def __init__(self, prior: nn.Module):
        self.prior = prior

    @classmethod
    def fit(cls, model: nn.Module, data: Dataset | None = None, **_: object) -> PriorSampler:
        return cls(_check_vae(model, "prior").prior)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        return self.prior.sample(n, generator=generator)


class ExPostSampler:
    """z ~ a K-component Gaussian mixture fitted to the training set's encoder means.

    Ghosh et al. 2020 ("From variational to deterministic autoencoders", sec. 4): sampling
    from a density estimate of the aggregate posterior q(z) avoids the prior's holes, the
    regions where p(z) is high but no training example is encoded (pythae's GaussianMixtureSampler).
    """

    def __init__(self, gmm: GMM):
        self.gmm = gmm

    @classmethod
    def fit(
        cls, model: nn.Module, data: Dataset, k: int = 10, covariance: str = "full", seed: int = 0, steps: int = 100
    ) -> ExPostSampler:
        """EM (the GMM model, trained by `train.fit`) on the encoder means of `data.train`.

        seed: fixes the k-means++ initialisation; steps: EM iterations (fewer when `tol` is reached).
        """
        codes = aggregate_posterior(_check_vae(model, "expost"), data)
        device = "cuda" if codes.train.is_cuda else "cpu"
        return cls(fit_gmm(codes, steps, seed, device=device, components=k, covariance=covariance))

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        return self.gmm.sample(n, generator=generator)  # [n, D]

    def log_prob(self, z: Tensor) -> Tensor:
        """log density of the fitted mixture at z [N, D] -> [N]."""
        return self.gmm.log_prob(z)


@torch.no_grad()
def aggregate_posterior(model: nn.Module, data: Dataset, batch: int = 1024) -> Dataset:
    """The encoder means E_q[z|x] of both splits, as a vector Dataset [N, D] on the model's device."""

    def means(x: Tensor) -> Tensor:
        return torch.cat([model.encode(chunk.to(model.device)).loc for chunk in x.split(batch)])

    return Dataset(f"{data.name}-codes", means(data.train), means(data.test), "vector")


def _check_vae(model: nn.Module, sampler: str) -> nn.Module:
    if not (hasattr(model, "encode") and hasattr(model, "prior")):
        raise ConfigError(f"sampler {sampler!r} needs a VAE (an encoder and a prior), not a {type(model).__name__}")
    return model


SAMPLERS: dict[str, type] = {"prior": PriorSampler, "expost": ExPostSampler}
