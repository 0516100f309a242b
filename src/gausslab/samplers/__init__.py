"""Where a trained VAE draws its latents from: its prior, an ex-post mixture, or a second VAE on the codes.

A sampler has `fit(model, data, ...)` and `sample(n, generator) -> z [n, D]`, so that
`model.sample(n, sampler=ExPostSampler.fit(model, ds, k=10))` decodes its draws. The ex-post and
two-stage samplers wrap a gausslab model fitted to the encoder means of the training set by the
one trainer; `fit(..., out=FOLDER)` writes it there as a run folder, which `checkpoint.load`
rebuilds (see `saved_samplers`). `options` names the fit options that tell fitted samplers apart.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import Tensor, nn

from gausslab.models.vae import VAEConfig
from gausslab.data import Dataset
from gausslab.core.errors import CheckpointError, ConfigError
from gausslab.core.fileio import atomic_write_json
from gausslab.models import VAE, build_model
from gausslab.models.gmm import GMM
from gausslab.training.fitting import fit_gmm, fit_steps


class PriorSampler:
    """z ~ p(z), the model's own prior (what `VAE.sample` does without a sampler)."""

    options: tuple[str, ...] = ()

    def __init__(self, prior: nn.Module):
        self.prior = prior

    @classmethod
    def fit(cls, model: nn.Module, data: Dataset | None = None, **_: object) -> PriorSampler:
        """The sampler of `model`'s own prior: nothing is fitted and `data` is not used."""
        return cls(_check_vae(model, "prior").prior)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n draws z ~ p(z) [n, D]."""
        return self.prior.sample(n, generator=generator)


class ExPostSampler:
    """z ~ a K-component Gaussian mixture fitted to the training set's encoder means.

    Ghosh et al. 2020 ("From variational to deterministic autoencoders", sec. 4): sampling
    from a density estimate of the aggregate posterior q(z) avoids the prior's holes, the
    regions where p(z) is high but no training example is encoded (pythae's GaussianMixtureSampler).
    """

    options: tuple[str, ...] = ("k", "covariance", "steps")

    def __init__(self, gmm: GMM):
        self.gmm = gmm

    @classmethod
    def fit(
        cls, model: nn.Module, data: Dataset, k: int = 10, covariance: str = "full", seed: int = 0, steps: int = 100,
        out: str | Path | None = None,
    ) -> ExPostSampler:
        """EM (the GMM model, trained by `train.fit`) on the encoder means of `data.train`.

        seed: fixes the k-means++ initialisation; steps: EM iterations (fewer when `tol` is reached);
        out: save the mixture there as a run folder.
        """
        codes = aggregate_posterior(_check_vae(model, "expost"), data)
        return cls(fit_gmm(codes, steps, seed, device=_device(codes), out=out, components=k, covariance=covariance))

    @classmethod
    def restore(cls, gmm: GMM, folder: str | Path) -> ExPostSampler:
        """The sampler saved in `folder` by `fit(..., out=folder)`, around its reloaded mixture."""
        return cls(gmm)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n draws z [n, D] from the fitted mixture."""
        return self.gmm.sample(n, generator=generator)  # [n, D]

    def log_prob(self, z: Tensor) -> Tensor:
        """log density of the fitted mixture at z [N, D] -> [N]."""
        return self.gmm.log_prob(z)


class TwoStageSampler:
    """z ~ the density of a second VAE trained on the training set's encoder means (Dai & Wipf 2019, sec. 4).

    A first VAE can find the data's manifold but not the density on it, so its codes do not follow
    N(0, I); a second VAE with as many latents as the codes and a learned Gaussian p(z|u) models them.
    It is trained on the codes standardised per unit (units that barely vary would otherwise sit below
    its initial noise scale and be left to it), and a draw is u ~ N(0, I), z ~ p(z|u), mapped back:
    its decoder mean alone would lack the spread the second VAE leaves to the variance of p(z|u).
    """

    options: tuple[str, ...] = ("steps", "hidden", "latent_dim", "batch_size", "lr")
    STATS = "codes.json"  # the standardisation, beside the second VAE's run folder files

    def __init__(self, vae: VAE, shift: Tensor, scale: Tensor):
        self.vae, self.shift, self.scale = vae, shift, scale  # shift, scale [D]

    @classmethod
    def fit(
        cls, model: nn.Module, data: Dataset, seed: int = 0, steps: int = 1000, hidden: tuple[int, ...] = (128, 128),
        latent_dim: int | None = None, batch_size: int = 128, lr: float = 1e-3, out: str | Path | None = None,
    ) -> TwoStageSampler:
        """The second VAE (MLP `hidden`, `latent_dim` latents, default the codes' size) trained for `steps`
        Adam steps by `train.fit` on the standardised encoder means of `data.train`; out: save it there as a
        run folder (with the standardisation in codes.json)."""
        codes = aggregate_posterior(_check_vae(model, "two-stage"), data)
        shift, scale = codes.train.mean(0), codes.train.std(0).clamp(min=1e-6)  # [D]
        if out is not None:
            Path(out).mkdir(parents=True, exist_ok=True)
            atomic_write_json(Path(out) / cls.STATS, {"shift": shift.tolist(), "scale": scale.tolist()})
        codes = _standardised(codes, shift, scale)
        config = VAEConfig(latent_dim=latent_dim or codes.shape[0], hidden=hidden, arch="mlp", likelihood="gaussian")
        stage2 = build_model(config, codes, seed=seed)
        # force: the run folder shares `out` with codes.json, written first
        fit_steps(stage2, codes, steps, seed, _device(codes), out, force=True, batch_size=batch_size, lr=lr)
        return cls(stage2.eval(), shift, scale)

    @classmethod
    def restore(cls, vae: VAE, folder: str | Path) -> TwoStageSampler:
        """The sampler saved in `folder` by `fit(..., out=folder)`, around its reloaded second VAE."""
        path = Path(folder) / cls.STATS
        try:
            stats = json.loads(path.read_text())
            shift, scale = (torch.tensor(stats[key], dtype=torch.float32, device=vae.device)
                            for key in ("shift", "scale"))
        except (OSError, ValueError, KeyError, TypeError):
            raise CheckpointError(f"{str(path)!r} is missing or corrupt") from None
        if shift.shape != vae.shape or scale.shape != vae.shape:  # [D]: the codes the second VAE models
            raise CheckpointError(f"{str(path)!r} does not fit the second VAE in {str(folder)!r}")
        return cls(vae, shift, scale)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n draws z [n, D]: u ~ N(0, I), z ~ p(z|u) of the second VAE, mapped back from standardised units."""
        u = self.vae.prior.sample(n, generator=generator)  # [n, D2]
        z = self.vae.likelihood.sample(self.vae.decoder_params(u), generator=generator)  # [n, D], standardised
        return z * self.scale + self.shift


@torch.no_grad()
def aggregate_posterior(model: nn.Module, data: Dataset, batch: int = 1024) -> Dataset:
    """The encoder means E_q[z|x] of every split, as a vector Dataset [N, D] on the model's device."""

    def means(x: Tensor) -> Tensor:
        return torch.cat([model.encode(chunk.to(model.device)).loc for chunk in x.split(batch)])

    valid = means(data.valid) if data.valid is not None else None
    return Dataset(f"{data.name}-codes", means(data.train), means(data.test), "vector", valid=valid)


def _standardised(codes: Dataset, shift: Tensor, scale: Tensor) -> Dataset:
    """(codes - shift) / scale on every split."""
    valid = (codes.valid - shift) / scale if codes.valid is not None else None
    return Dataset(codes.name, (codes.train - shift) / scale, (codes.test - shift) / scale, "vector", valid=valid)


def _device(codes: Dataset) -> str:
    return "cuda" if codes.train.is_cuda else "cpu"


def _check_vae(model: nn.Module, sampler: str) -> nn.Module:
    if not (hasattr(model, "encode") and hasattr(model, "prior")):
        raise ConfigError(f"sampler {sampler!r} needs a VAE (an encoder and a prior), not a {type(model).__name__}")
    return model


SAMPLERS: dict[str, type] = {"prior": PriorSampler, "expost": ExPostSampler, "two-stage": TwoStageSampler}
