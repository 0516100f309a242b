"""2-D toy metrics: the mode-collapse protocol on `ring8` / `grid25`, and test log-likelihood.

Mode coverage follows Metz et al. 2017 (Unrolled GAN, sec. 3.1), Srivastava et al. 2017
(VEEGAN, sec. 5.1) and Lin et al. 2018 (PacGAN, sec. 5.1): a sample is high quality when it lies
within 3 standard deviations of its nearest mode centre; a mode is captured when at least one
high-quality sample falls on it; the reverse KL compares the histogram of high-quality samples
over modes with the uniform distribution (PacGAN, Table 2).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from gausslab.data import Dataset, Modes
from gausslab.core.errors import DataError

Keep = Callable[[str, Tensor], None]  # receives per-example values behind a mean
HIGH_QUALITY_STDS = 3.0  # VEEGAN / PacGAN: "within three standard deviations" of a mode


@dataclass
class ModeCoverage:
    """Mode-collapse summary of a sample set on a mixture toy."""

    modes_captured: int  # modes with at least one high-quality sample
    n_modes: int
    high_quality: float  # percent (0-100) of samples within 3 std of their nearest mode
    reverse_kl: float  # KL(high-quality mode histogram || uniform), nats; nan when no sample is high quality
    counts: list[int] = field(default_factory=list)  # high-quality samples per mode [M]

    def to_dict(self) -> dict[str, float]:
        """The four summaries under their metrics.json keys (without the per-mode `counts`)."""
        return {"modes_captured": self.modes_captured, "n_modes": self.n_modes, "high_quality": self.high_quality,
                "reverse_kl": self.reverse_kl}


def mode_coverage(samples: Tensor | np.ndarray, data: Dataset | Modes) -> ModeCoverage:
    """Modes captured, % high-quality samples and reverse KL of `samples` [N, D] against `data`'s modes."""
    modes = _modes(data)
    centres = modes.centres.to(torch.float64)  # [M, D]
    x = _points(samples, centres.shape[1])
    dist, nearest = torch.cdist(x, centres, compute_mode="donot_use_mm_for_euclid_dist").min(dim=1)  # [N]
    good = dist <= HIGH_QUALITY_STDS * modes.std
    counts = torch.bincount(nearest[good], minlength=len(centres))  # [M]
    return ModeCoverage(
        modes_captured=int((counts > 0).sum()),
        n_modes=len(centres),
        high_quality=100.0 * good.double().mean().item(),
        reverse_kl=_kl_to_uniform(counts),
        counts=counts.tolist(),
    )


def _kl_to_uniform(counts: Tensor) -> float:
    """KL(p || U) = sum_i p_i log(M p_i) for the histogram p = counts / sum, with 0 log 0 = 0."""
    total = counts.sum()
    if total == 0:
        return math.nan
    p = counts.double() / total
    return torch.xlogy(p, p * len(counts)).sum().item()


def kde_log_likelihood(samples: Tensor, x: Tensor, chunk: int = 1024) -> Tensor:
    """log of a Gaussian KDE fitted on `samples` [N, D], evaluated at `x` [K, D] (float64 [K]).

    Bandwidth by Scott's rule on the full sample covariance, as `scipy.stats.gaussian_kde`:
    kernel covariance = cov(samples) * N^(-2/(D+4)).
    """
    s = _points(samples, x.shape[1])
    n, d = s.shape
    if n < 2:
        raise DataError(f"a kernel density estimate needs at least 2 samples, got {n}")
    cov = torch.cov(s.T).reshape(d, d) * n ** (-2.0 / (d + 4))
    # A fully collapsed sample set has a singular covariance; the tiny ridge keeps the (terrible) score finite.
    chol = torch.linalg.cholesky(cov + 1e-12 * torch.eye(d, dtype=cov.dtype))

    def whiten(t: Tensor) -> Tensor:  # [K, D] -> L^-1 t: kernel distances become Euclidean
        return torch.linalg.solve_triangular(chol, t.T, upper=False).T

    ws = whiten(s)
    log_norm = -0.5 * d * math.log(2 * math.pi) - chol.diagonal().log().sum() - math.log(n)
    out = [torch.logsumexp(-0.5 * torch.cdist(whiten(c), ws, compute_mode="donot_use_mm_for_euclid_dist") ** 2, 1)
           for c in _points(x, d).split(chunk)]
    return torch.cat(out) + log_norm


def _exact(model, x: Tensor, iwae_k: int) -> Tensor:
    return model.log_prob(x)


def _iwae(model, x: Tensor, iwae_k: int) -> Tensor:
    return torch.cat([model.iwae_bound(c, iwae_k) for c in x.split(256)])


# Model method -> per-example test log-likelihood [K]; the first the model has wins (exact density
# first, then the IWAE bound of VAEs, Burda et al. 2016); models with neither get the KDE estimate.
LIKELIHOODS: dict[str, Callable[[Any, Tensor, int], Tensor]] = {"log_prob": _exact, "iwae_bound": _iwae}


def held_out_log_likelihood(model, data: Dataset, samples: Tensor, iwae_k: int = 1000,
                            keep: Keep | None = None) -> dict[str, float]:
    """Mean log-likelihood of `data.test` under the model: `test_log_likelihood` (exact, or the IWAE
    bound), or `kde_log_likelihood` (a KDE on `samples`) for models without a density; `keep(key,
    values)` receives the per-example values [M], and `true_test_log_likelihood` is the data's own."""
    test = data.test.flatten(1)
    key, values = "kde_log_likelihood", None
    for method, estimate in LIKELIHOODS.items():
        if hasattr(model, method):
            key, values = "test_log_likelihood", estimate(model, test.to(model.device), iwae_k).double().cpu()
            break
    if values is None:
        values = kde_log_likelihood(samples.flatten(1).cpu(), test)
    if keep is not None:
        keep(key, values)
    return {key: values.mean().item(), "true_test_log_likelihood": data.log_prob(test.double()).mean().item()}


@torch.inference_mode()
def toy_metrics(model, data: Dataset, n: int = 2500, seed: int = 0, iwae_k: int = 1000,
                keep: Keep | None = None) -> dict[str, float]:
    """The toy protocol on `n` seeded samples: mode coverage (when `data.modes` is known) and the test
    log-likelihood (on toys with an exact density, whose own `data.log_prob(data.test)` is the reference).
    keep: receives per-example test log-likelihoods (see `held_out_log_likelihood`)."""
    model.eval()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        samples = model.sample(n, generator=torch.Generator(model.device).manual_seed(seed)).float().cpu()
        out: dict[str, float] = {}
        if data.modes is not None:
            out |= mode_coverage(samples, data).to_dict()
        if data.log_prob is not None:
            out |= held_out_log_likelihood(model, data, samples, iwae_k, keep)
    return out


def _modes(data: Dataset | Modes) -> Modes:
    modes = data if isinstance(data, Modes) else data.modes
    if modes is None:
        raise DataError(f"mode coverage needs a mixture toy with known modes (ring8, grid25); {data.name!r} has none")
    return modes


def _points(samples: Tensor | np.ndarray, dim: int) -> Tensor:
    """samples as float64 [N, dim], or a DataError naming the shape they have."""
    x = torch.as_tensor(samples).detach().cpu()
    if x.dim() != 2 or x.shape[1] != dim or x.shape[0] == 0:
        raise DataError(f"expected samples shaped [N > 0, {dim}], got {list(x.shape)}")
    return x.to(torch.float64)
