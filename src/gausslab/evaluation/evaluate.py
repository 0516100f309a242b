"""Metrics on a trained model: every metric that applies to the model and data kind, as one flat record.

`METRICS` maps a name to a function of the shared `EvalContext` returning `{key: value}` with
DESIGN.md's keys, or `{}` when it does not apply (e.g. `nll_iwae` for a GAN). Samples, features
and test examples are computed once and shared. Everything is seeded; torch's global RNG is left
as it was. Sample metrics use domain features (`evaluation.features`), hence `fid_domain`/`kid_domain`,
unless another feature space is chosen (`FEATURE_SPACES`, or a callable): then `fid_<key>`/`kid_<key>`.
The record's `features` names the space whenever a sample metric was computed. Sample metrics compare
the test examples (`n_real`) with `n_generated` model draws. Metrics that average a per-example
quantity also keep it (`Evaluation.per_example`), for intervals over examples.
Likelihoods are scored on the test images as the model sees them (`data.discrete`): density models
on dequantized grey levels, all in one currency (`bits_per_dim`, `metrics.nll.bits_per_dim`);
a Bernoulli VAE on binarized ones, under its own key `nll_bernoulli_binarized`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from gausslab.version import __version__
from gausslab.data import Dataset
from gausslab.core.errors import ConfigError, lookup
from gausslab.data.discrete import changes_data, model_view
from gausslab.evaluation import features, inception
from gausslab.metrics import disentangle, latent, nll, samples
from gausslab.metrics.toy import toy_metrics
from gausslab.models import GenerativeModel


@dataclass
class Evaluation:
    """Flat metric record (keys as in DESIGN.md, nats unless named otherwise)."""

    model: str
    data: str
    values: dict[str, Any] = field(default_factory=dict)
    # per-example values behind some means: `test_nll` / `test_log_likelihood` [test examples] (nats),
    # `prior_holes` [prior draws] (bool), `kde_log_likelihood` [test examples]
    per_example: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The record as metrics.json holds it: model, data, the gausslab version, then every metric."""
        return {"model": self.model, "data": self.data, "gausslab_version": __version__, **self.values}


@dataclass
class EvalContext:
    """What the metrics share: the model, the test examples, options, and lazily computed samples/features."""

    model: GenerativeModel
    data: Dataset
    k: int  # IWAE importance samples
    n: int  # test examples used
    n_generated: int  # model samples drawn for the sample metrics
    hole_draws: int  # prior draws scored by the prior-hole metric
    prdc_k: int
    cache_dir: Path | None
    seed: int
    batch: int
    sampler: Any | None  # latent sampler with sample(n, generator) for VAEs (e.g. an ex-post mixture)
    feature_weights: Path | None
    features: str | Callable  # a name in FEATURE_SPACES, or a callable x [N, *shape] -> [N, F]
    per_example: dict[str, np.ndarray] = field(default_factory=dict)

    def keep(self, key: str, values: torch.Tensor) -> None:
        """Keep the per-example values behind the metric `key` (float32, or bool for memberships)."""
        array = values.detach().cpu().numpy()
        self.per_example[key] = array if array.dtype == bool else array.astype(np.float32)

    @property
    def is_vae(self) -> bool:
        """Whether the model has an encoder, an IWAE bound and a prior, so the latent metrics apply."""
        return all(hasattr(self.model, name) for name in ("encode", "iwae_bound", "prior"))

    def generator(self) -> torch.Generator:
        """A fresh generator on the model's device seeded with `seed`, so each metric's draws are reproducible."""
        return torch.Generator(self.model.device).manual_seed(self.seed)

    @cached_property
    def x(self) -> Tensor:
        """The first `n` test examples, on the model's device."""
        return self.data.test[: self.n].to(self.model.device)

    @cached_property
    def x_model(self) -> Tensor:
        """The test examples as the model is scored on them: dequantized (densities) or binarized (Bernoulli
        pixels) with the evaluation seed; as stored for data without grey levels."""
        return model_view(self.x, self.model.data_transform, self.data.levels, self.generator())

    @property
    def binarized(self) -> bool:
        """Scored on binarized grey levels: other data than the test set, so its NLL gets its own key."""
        return changes_data(self.model.data_transform, self.data.levels)

    def bits_per_dim(self, nats: float) -> dict[str, float]:
        """`bits_per_dim` of the discrete test images, by the one convention of `nll.bits_per_dim`."""
        if self.data.kind != "image" or self.binarized:
            return {}
        levels = self.data.levels if self.model.data_transform == "dequantize" else None
        return {"bits_per_dim": nll.bits_per_dim(nats, self.data.dim, levels)}

    @cached_property
    def extractor(self) -> features.FeatureExtractor | features.UserFeatures:
        """The feature space of the sample metrics: one of `FEATURE_SPACES` by name, or the given callable."""
        if isinstance(self.features, str):
            return FEATURE_SPACES[self.features](self)
        return features.as_features(self.features)

    @cached_property
    def real_features(self) -> Tensor:
        """Features of the first `n` test examples [n, F], as stored."""
        return self.extractor(self.x)

    @cached_property
    def fake_features(self) -> Tensor:
        """Features of `n_generated` model samples, drawn in batches from one seeded generator."""
        options = {"sampler": self.sampler} if self.is_vae and self.sampler is not None else {}
        g = self.generator()
        sizes = [min(self.batch, self.n_generated - start) for start in range(0, self.n_generated, self.batch)]
        return self.extractor(torch.cat([self.model.sample(size, generator=g, **options).float() for size in sizes]))

    def counts(self) -> dict[str, int]:
        """The sizes every sample metric rests on."""
        return {"n_real": len(self.real_features), "n_generated": len(self.fake_features)}

    @property
    def neighbours(self) -> int:
        """PRDC's k, reduced for tiny test sets so that k < n."""
        return max(1, min(self.prdc_k, len(self.x) - 1))


def _elbo(ctx: EvalContext) -> dict[str, Any]:
    if not ctx.is_vae:
        return {}
    elbo = torch.cat([ctx.model.elbo(c).elbo for c in ctx.x_model.split(ctx.batch)])
    return {"elbo": elbo.double().mean().item()}


def _nll_iwae(ctx: EvalContext) -> dict[str, Any]:
    """IWAE NLL in nats with bits/dim; a Bernoulli VAE on grey levels under `nll_bernoulli_binarized` alone."""
    if not ctx.is_vae:
        return {}
    result = nll.iwae_nll(ctx.model, ctx.x_model, k=ctx.k, batch=max(1, ctx.batch // 4), seed=ctx.seed)
    if ctx.binarized:
        ctx.keep("nll_bernoulli_binarized", result.per_example)
        return {"nll_bernoulli_binarized": result.nats}
    ctx.keep("test_nll", result.per_example)
    return {"nll_iwae": result.nats, **ctx.bits_per_dim(result.nats)}


def _latent(ctx: EvalContext) -> dict[str, Any]:
    if not ctx.is_vae:
        return {}
    report = latent.latent_report(ctx.model, ctx.x_model, seed=ctx.seed, hole_draws=ctx.hole_draws)
    ctx.keep("prior_holes", report.hole_membership)
    return report.to_dict() | {"hole_draws": len(report.hole_membership)}


def _prdc(ctx: EvalContext) -> dict[str, Any]:
    return samples.prdc(ctx.real_features, ctx.fake_features, ctx.neighbours) | ctx.counts()


def _fid(ctx: EvalContext) -> dict[str, Any]:
    return {f"fid_{ctx.extractor.key}": samples.fid(ctx.real_features, ctx.fake_features)} | ctx.counts()


def _kid(ctx: EvalContext) -> dict[str, Any]:
    size = min(KID_SUBSET, len(ctx.real_features), len(ctx.fake_features))  # never larger than either set
    result = samples.kid(ctx.real_features, ctx.fake_features, subset_size=size, seed=ctx.seed)
    return {f"kid_{ctx.extractor.key}": result.mean, "kid_subset_size": size} | ctx.counts()


def _latent_fidelity(ctx: EvalContext) -> dict[str, Any]:
    if not ctx.is_vae:
        return {}
    return latent.latent_fidelity(ctx.model, ctx.x, ctx.extractor, k=ctx.neighbours, seed=ctx.seed,
                                  sampler=ctx.sampler, batch=ctx.batch)


def _disentanglement(ctx: EvalContext) -> dict[str, Any]:
    factors = ctx.data.test_factors
    if not ctx.is_vae or factors is None:
        return {}
    codes, _ = latent.encode_all(ctx.model, ctx.x, ctx.batch)
    if codes.shape[1] < 2:
        return {}
    factors = factors[: len(codes)]
    result = disentangle.dci(codes, factors, seed=ctx.seed)
    return {"mig": disentangle.mig(codes, factors), "dci_disentanglement": result.disentanglement,
            "dci_completeness": result.completeness, "dci_informativeness": result.informativeness}


def _toy(ctx: EvalContext) -> dict[str, Any]:
    """Mode coverage and exact-density test log-likelihood on toys (`metrics.toy`)."""
    if ctx.data.modes is None and ctx.data.log_prob is None:
        return {}
    return toy_metrics(ctx.model, ctx.data, seed=ctx.seed, iwae_k=ctx.k, keep=ctx.keep)


def _test_log_likelihood(ctx: EvalContext) -> dict[str, Any]:
    """Mean exact log p(x) on the test examples, with bits/dim, for models with a density (GMM)."""
    if not hasattr(ctx.model, "log_prob"):
        return {}
    values = torch.cat([ctx.model.log_prob(c) for c in ctx.x_model.split(ctx.batch)]).double()
    ctx.keep("test_log_likelihood", values)
    mean = values.mean().item()
    return {"test_log_likelihood": mean, **ctx.bits_per_dim(-mean)}


KID_SUBSET = 1000  # Bińkowski et al. 2018's subset size, capped at the sets' sizes
METRICS: dict[str, Callable[[EvalContext], dict[str, Any]]] = {
    "elbo": _elbo,
    "nll_iwae": _nll_iwae,  # with bits_per_dim for images; nll_bernoulli_binarized instead for Bernoulli pixels
    "latent": _latent,  # rate, distortion, active_units, mutual_info, marginal_kl, prior_holes, collapsed
    "prdc": _prdc,  # precision, recall, density, coverage (domain features), n_real, n_generated
    "fid": _fid,  # fid_domain
    "kid": _kid,  # kid_domain, kid_subset_size
    "latent_fidelity": _latent_fidelity,  # *_vs_recon and latent_* PRDC
    "disentanglement": _disentanglement,  # mig, dci_* (data with factors)
    "toy": _toy,  # modes_captured, high_quality, reverse_kl, test_log_likelihood (toys)
    "test_log_likelihood": _test_log_likelihood,  # with bits_per_dim for images
}
SAMPLE_METRICS = ("prdc", "fid", "kid", "latent_fidelity")  # the metrics computed in a feature space


def _domain(ctx: EvalContext) -> features.FeatureExtractor:
    return features.extractor(ctx.data, cache_dir=ctx.cache_dir, weights=ctx.feature_weights)


def _inception(ctx: EvalContext) -> features.UserFeatures:
    return inception.extractor(ctx.data, ctx.feature_weights)


# Feature spaces of the sample metrics, by name; `feature_weights` is the weights file of the chosen one.
FEATURE_SPACES: dict[str, Callable[[EvalContext], features.FeatureExtractor | features.UserFeatures]] = {
    "domain": _domain,  # trained on the data set (raw coordinates for vectors): fid_domain, kid_domain
    "inception": _inception,  # Inception-v3 pool3 from a local weights file (torch-fidelity): fid_inception, ...
}


@torch.inference_mode()
def evaluate(
    model: GenerativeModel,
    data: Dataset,
    metrics: Sequence[str] | None = None,
    k: int = 1000,
    cache_dir: str | Path | None = None,
    *,
    n: int = 2000,
    n_generated: int = 2000,
    hole_draws: int = 10_000,
    prdc_k: int = 5,
    seed: int = 0,
    batch: int = 256,
    sampler: Any | None = None,
    feature_weights: str | Path | None = None,
    features: str | Callable = "domain",
) -> Evaluation:
    """Every metric in `metrics` (default: all of `METRICS`) that applies to this model and data, on `data.test`.

    k: IWAE importance samples per example. n: at most this many test examples. n_generated:
    model samples drawn for the sample metrics. hole_draws: prior draws scored by the prior-hole metric.
    cache_dir: where the domain feature extractor is cached (the run folder). sampler: evaluate VAE
    samples drawn from this latent sampler instead of the prior. features: the feature space of the
    sample metrics, a name in `FEATURE_SPACES` or a callable x [N, *shape] -> [N, F] (batches of
    rows). feature_weights: the weights file of the named space (the domain network's safetensors,
    see `evaluation.features.extractor`; Inception-v3's, see `evaluation.inception`).
    """
    names = [metrics] if isinstance(metrics, str) else list(metrics if metrics is not None else METRICS)
    model_levels = getattr(getattr(model, "config", None), "levels", None)
    if model_levels is not None and model_levels != data.levels:
        raise ConfigError(f"the model was built for {model_levels} grey levels but {data.name!r} has "
                          f"levels={data.levels}; evaluate it on data of the same kind")
    chosen = {name: lookup(METRICS, "metric", name) for name in names}
    if isinstance(features, str):
        lookup(FEATURE_SPACES, "feature space", features)
    model.eval()
    for name, value in (("n_generated", n_generated), ("hole_draws", hole_draws), ("n", n)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 2:
            raise ConfigError(f"{name}={value!r} is not allowed; it must be an integer >= 2")
    ctx = EvalContext(model, data, k, n, n_generated, hole_draws, prdc_k,
                      Path(cache_dir) if cache_dir is not None else None, seed, batch, sampler,
                      Path(feature_weights) if feature_weights is not None else None, features)
    values: dict[str, Any] = {}
    with torch.random.fork_rng(devices=[ctx.x.device] if ctx.x.device.type == "cuda" else []):
        if any(name in SAMPLE_METRICS for name in chosen):
            values["features"] = ctx.extractor.name  # built first, so a bad feature space fails before any metric
        for compute in chosen.values():
            torch.manual_seed(seed)
            values |= compute(ctx)
    return Evaluation(type(model).__name__.lower(), data.name, values, ctx.per_example)
