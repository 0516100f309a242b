"""The dimension sweep (claim 3): explicit and implicit models on the main data projected to growing
dimension D, every model at one parameter budget for p(x).
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
    """One dimension of the sweep: the projected data, the latent size and the settings every model shares."""

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

    def recipe(self, model: str, label: str, config: dict[str, Any], steps: int) -> Recipe:
        """The sweep's recipe of `model` at this D: group dim-<D>-<model>, tags {dim, model}."""
        return Recipe(f"dim-{self.dim:04d}-{model}", "dimension", label, "train", self.data, config,
                      train_settings(steps, self.preset), {"dim": self.dim, "model": model})


def _gmm(point: Point, covariance: str) -> dict[str, Any]:
    components = gmm_components(point.preset, point.dim, point.ctx.n_train, covariance)
    return {"kind": "gmm", "components": components, "covariance": covariance}


def _lowrank(point: Point) -> dict[str, Any]:
    """A mixture of probabilistic PCA (Tipping & Bishop 1999): rank min(dim_rank, D - 1) plus isotropic noise."""
    rank = max(1, min(point.preset.dim_rank, point.dim - 1))
    components = gmm_components(point.preset, point.dim, point.ctx.n_train, "lowrank", rank)
    return {"kind": "gmm", "components": components, "covariance": "lowrank", "rank": rank}


def _flow(point: Point) -> dict[str, Any]:
    """A RealNVP coupling flow (Dinh et al. 2017) whose two-layer coupling networks are as wide as the budget pays."""
    return _widest(point, lambda w: {"kind": "flow", "layers": point.preset.dim_flow_layers, "hidden": (w, w)})


def _vae(point: Point) -> dict[str, Any]:
    return _widest(point, lambda w: vae_model(point.latent, (w, w), point.preset))


def _gan(point: Point) -> dict[str, Any]:
    p = point.preset
    return _widest(point, lambda w: gan_model("gan-ns", point.latent, (w, w), p, p.gan_lr))


def _widest(point: Point, model: Callable[[int], dict[str, Any]]) -> dict[str, Any]:
    """`model(w)` at the widest two-layer width w whose p(x) fits the preset's parameter budget at this D."""
    return model(budget_width(point.preset.dim_budget, model, (point.dim,)))


# model tag -> its recipe at one point of the sweep, every model at the preset's parameter budget
DIMENSION_MODELS: dict[str, Callable[[Point], Recipe]] = {
    "gmm": lambda pt: pt.recipe("gmm", "GMM (full covariance)", _gmm(pt, "full"), pt.preset.gmm_steps),
    "gmm-diag": lambda pt: pt.recipe("gmm-diag", "GMM (diagonal)", _gmm(pt, "diag"), pt.preset.gmm_steps),
    "gmm-lowrank": lambda pt: pt.recipe("gmm-lowrank", "GMM (low rank, PPCA)", _lowrank(pt), pt.preset.gmm_steps),
    "flow": lambda pt: pt.recipe("flow", "flow (RealNVP)", _flow(pt), pt.preset.dim_vae_steps),
    "vae": lambda pt: pt.recipe("vae", "VAE", _vae(pt), pt.preset.dim_vae_steps),
    "gan": lambda pt: pt.recipe("gan", "GAN-ns", _gan(pt), pt.preset.dim_steps),
}


def dimension_recipes(ctx: Context) -> list[Recipe]:
    """Claim 3: GMM vs VAE vs GAN on the main data projected to growing dimension, at one parameter budget."""
    chosen = ctx.preset.dim_models or tuple(DIMENSION_MODELS)
    for name in chosen:
        if name not in DIMENSION_MODELS:
            raise unknown_choice("study.dim_models entry", name, DIMENSION_MODELS)
    points = [Point(ctx, dim, ctx.projection(dim)) for dim in dims_for(ctx.preset, math.prod(ctx.shape))]
    return [build(point) for point in points for name, build in DIMENSION_MODELS.items()
            if name in chosen]


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
