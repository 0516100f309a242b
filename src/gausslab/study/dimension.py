"""The dimension sweep (claim 3): explicit and implicit models on the main data projected to growing
dimension D, and on the data itself at its full dimension, every model at one parameter budget for p(x).

At the full dimension of image data the sweep fits the pixels themselves (dequantized, in bits/dim), so
it adds what only pixels allow: each mixture fitted again in RealNVP's logit space (Dinh et al. 2017,
sec. 4.1; its Jacobian counted) and independent per-pixel histograms, the simplest explicit density,
as the reference line.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gausslab.core.errors import unknown_choice
from gausslab.data.config import DataConfig
from gausslab.models import MODEL_CONFIGS, build_model
from gausslab.models.lowrank import ppca_parameters
from gausslab.study.presets import StudyPreset
from gausslab.study.recipe import Context, Recipe, gan_model, train_settings, vae_model


@dataclass(frozen=True)
class Point:
    """One dimension of the sweep: its data (a projection, or the main data itself at full D), the latent
    size and the settings every model shares."""

    ctx: Context
    dim: int
    data: DataConfig

    @property
    def preset(self) -> StudyPreset:
        """The study's preset."""
        return self.ctx.preset

    @property
    def latent(self) -> int:
        """The preset's latent size, at most D."""
        return min(self.preset.latent_dim, self.dim)

    @property
    def itself(self) -> bool:
        """Whether this point is the main data as it is (its full dimension), not a projection."""
        return self.data is self.ctx.main

    @property
    def pixels(self) -> bool:
        """Whether the models see image pixels in [0, 1] here (the main data itself, when it is images)."""
        return self.itself and len(self.ctx.shape) == 3

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of one example: the main data's at full D, (D,) for a projection."""
        return self.ctx.shape if self.itself else (self.dim,)

    def recipe(self, model: str, label: str, config: dict[str, Any], steps: int, patience: int | None) -> Recipe:
        """The sweep's recipe of `model` at this D: group dim-<D>-<model>, tags {dim, model}; `patience`: early
        stopping on validation (`train.patience`)."""
        train = train_settings(steps, self.preset) | ({"patience": patience} if patience else {})
        return Recipe(f"dim-{self.dim:04d}-{model}", "dimension", label, "train", self.data, config, train,
                      {"dim": self.dim, "model": model})


def _gmm(point: Point, covariance: str) -> dict[str, Any]:
    components = gmm_components(point.preset, point.dim, point.ctx.n_train, covariance)
    return {"kind": "gmm", "components": components, "covariance": covariance, **_floor(point)}


def _lowrank(point: Point) -> dict[str, Any]:
    """A mixture of probabilistic PCA (Tipping & Bishop 1999): rank min(dim_rank, D - 1) plus isotropic noise."""
    rank = max(1, min(point.preset.dim_rank, point.dim - 1))
    components = gmm_components(point.preset, point.dim, point.ctx.n_train, "lowrank", rank)
    return {"kind": "gmm", "components": components, "covariance": "lowrank", "rank": rank, **_floor(point)}


def _floor(point: Point) -> dict[str, Any]:
    """On pixels, the covariance floor of the mixture k-sweep (study.gmm_reg_covar): a pixel that is 0 in every
    training image varies by 1/256 once dequantized, which a full covariance turns into a spike of density."""
    return {"reg_covar": point.preset.gmm_reg_covar} if point.pixels else {}


def _flow(point: Point) -> dict[str, Any]:
    """A RealNVP coupling flow (Dinh et al. 2017) whose two-layer coupling networks are as wide as the budget pays
    (on pixels in logit space, `preprocess: auto`)."""
    return _widest(point, lambda w: {"kind": "flow", "layers": point.preset.dim_flow_layers, "hidden": (w, w)})


def _vae(point: Point) -> dict[str, Any]:
    """The study's VAE as an MLP; on grey-level pixels its likelihood (the discretized logistic) needs the data's
    levels."""
    levels = {"levels": point.ctx.levels} if point.pixels and point.ctx.levels else {}
    return _widest(point, lambda w: vae_model(point.latent, (w, w), point.preset, arch="mlp", **levels))


def _gan(point: Point) -> dict[str, Any]:
    """The study's GAN-ns as an MLP (a conv net's size does not follow the width the budget sets)."""
    p = point.preset
    return _widest(point, lambda w: gan_model("gan-ns", point.latent, (w, w), p, p.gan_lr) | {"arch": "mlp"})


def _widest(point: Point, model: Callable[[int], dict[str, Any]]) -> dict[str, Any]:
    """`model(w)` at the widest two-layer width w whose p(x) fits the preset's parameter budget at this D."""
    return model(budget_width(point.preset.dim_budget, model, point.shape))


@dataclass(frozen=True)
class SweepModel:
    """One model of the sweep: its label, its model config at a point, its training steps."""

    label: str
    config: Callable[[Point], dict[str, Any]]
    steps: Callable[[StudyPreset], int]
    pixels_only: bool = False  # fitted only where the data is image pixels in [0, 1] (the full dimension)
    stops_early: bool = False  # a network with a held-out objective: stops on validation (study.dim_patience)

    def in_logit_space(self) -> SweepModel:
        """The same model fitted to logit(0.05 + 0.9 x) of the pixels (`models.preprocess.Logit`)."""
        return SweepModel(f"{self.label}, logit space", lambda pt: self.config(pt) | {"preprocess": "logit"},
                          self.steps, pixels_only=True)


def _em_steps(preset: StudyPreset) -> int:
    return preset.gmm_steps


_MIXTURES: dict[str, SweepModel] = {
    "gmm": SweepModel("GMM (full covariance)", lambda pt: _gmm(pt, "full"), _em_steps),
    "gmm-diag": SweepModel("GMM (diagonal)", lambda pt: _gmm(pt, "diag"), _em_steps),
    "gmm-lowrank": SweepModel("GMM (low rank, PPCA)", _lowrank, _em_steps),
}

# model tag -> the model at one point of the sweep, every model but the histograms at the preset's parameter budget
DIMENSION_MODELS: dict[str, SweepModel] = {
    **_MIXTURES,
    **{f"{tag}-logit": model.in_logit_space() for tag, model in _MIXTURES.items()},
    # L - 1 free bin probabilities per pixel (199,920 at D = 784, 256 levels): a reference line beyond the budget;
    # levels None (continuous images): the histogram's 256 bins
    "histogram": SweepModel("per-pixel histograms", lambda pt: {"kind": "histogram", "levels": pt.ctx.levels},
                            lambda p: 1, pixels_only=True),
    "flow": SweepModel("flow (RealNVP)", _flow, lambda p: p.dim_vae_steps, stops_early=True),
    "vae": SweepModel("VAE", _vae, lambda p: p.dim_vae_steps, stops_early=True),
    "gan": SweepModel("GAN-ns", _gan, lambda p: p.dim_steps),
}


def dimension_recipes(ctx: Context) -> list[Recipe]:
    """Claim 3: explicit models, the VAE and the GAN on the main data projected to growing dimension and on the
    data itself, at one parameter budget."""
    chosen = ctx.preset.dim_models or tuple(DIMENSION_MODELS)
    for name in chosen:
        if name not in DIMENSION_MODELS:
            raise unknown_choice("study.dim_models entry", name, DIMENSION_MODELS)
    full = math.prod(ctx.shape)
    points = [Point(ctx, dim, ctx.main if dim == full else ctx.projection(dim)) for dim in dims_for(ctx.preset, full)]
    patience = ctx.preset.dim_patience
    return [point.recipe(name, model.label, model.config(point), model.steps(point.preset),
                         patience if model.stops_early else None)
            for point in points for name, model in DIMENSION_MODELS.items()
            if name in chosen and (point.pixels or not model.pixels_only)]


def dims_for(preset: StudyPreset, full: int) -> list[int]:
    """The sweep's dimensions: the preset's `dims` capped at the data's `full` dimension, sorted, without repeats."""
    return sorted({min(d, full) for d in preset.dims})


def gmm_components(preset: StudyPreset, dim: int, n_train: int, covariance: str = "full", rank: int = 1) -> int:
    """As many components as the budget pays for (K-1 + K·D + K·D(D+1)/2 full, K-1 + 2K·D diagonal, K-1 + K·D +
    K·PPCA(D, rank) low rank), at least 1: one full-covariance component at D = 784 costs 308,504 parameters,
    beyond any budget here."""
    covariances = {"full": dim * (dim + 1) // 2, "diag": dim, "lowrank": ppca_parameters(dim, rank)}
    per = 1 + dim + covariances[covariance]
    return max(1, min((preset.dim_budget + 1) // per, preset.dim_max_components, n_train // 2))


def budget_width(budget: int, model: Any, shape: tuple[int, ...]) -> int:
    """The widest two-layer MLP width whose generative side (decoder/generator) fits `budget` parameters."""
    lo, hi = 1, 4096
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if generative_parameters(build_model(_config_of(model(mid)), shape)) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _config_of(model: dict[str, Any]):
    return MODEL_CONFIGS[model["kind"]].model_validate(model)


def generative_parameters(model) -> int:
    """Parameters that define p(x): GMM weights/means/covariances, VAE decoder + likelihood + prior, GAN generator."""
    if hasattr(model, "n_parameters"):
        return int(model.n_parameters)
    parts = [model.generator] if hasattr(model, "generator") else [model.decoder, model.likelihood, model.prior]
    return sum(p.numel() for part in parts for p in part.parameters())
