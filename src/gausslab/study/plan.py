"""The task list of a study: which models, on which data, with which budgets — one recipe per claim.

A recipe is a task without a seed; `plan` expands every recipe over the seeds and applies the
user's `--set` run overrides on top of the preset. Seeds vary the model initialisation and the
training order; the data split stays fixed (data seed 0 unless overridden) so every run of a
group is scored on the same test examples.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gausslab.blocks.priors import PRIORS as PRIOR_CLASSES
from gausslab.core.config import merge, validate
from gausslab.data.config import DataConfig
from gausslab.data.toy2d import MIXTURE_TOYS
from gausslab.models import MODEL_CONFIGS
from gausslab.models.vae import IWAE_PLAIN
from gausslab.training.run_config import resolve
from gausslab.core.errors import ConfigError, unknown_choice
from gausslab.models import build_model
from gausslab.study.presets import StudyPreset
from gausslab.study.record import Task, TaskKind

PRIORS = tuple(PRIOR_CLASSES)  # every prior of the registry, N(0, I) first
PRIOR_LABELS = {name: cls.label for name, cls in PRIOR_CLASSES.items()}
RD_PRIORS = ("standard", "vamp")  # the priors of the rate-distortion sweep
# GAN-ns with spectral normalisation on D (Miyato et al. 2018): without it the short budgets collapse on digits.
# The GANs on the main data, name -> (label, GAN options); WGAN-GP as Gulrajani et al. 2017, alg. 1.
MAIN_GANS: dict[str, tuple[str, dict[str, Any]]] = {
    "gan-ns": ("GAN-ns", {"loss": "ns", "spectral_norm": True}),
    "gan-wgan-gp": ("WGAN-GP", {"loss": "wgan-gp", "n_critic": 5, "betas": (0.5, 0.9)}),
}
# The toys' mode-collapse comparison (Lin et al. 2018, PacGAN, sec. 5.1): name -> (label, options, preset budget).
# WGAN-GP as Gulrajani et al. 2017's 2-D toys (their gan_toy.py): 5 critic steps, Adam(1e-4, (0.5, 0.9)),
# lambda = 0.1 ("smaller lambda seems to help for toy tasks").
TOY_GANS: dict[str, tuple[str, dict[str, Any], str]] = {
    "gan": ("GAN (pack 1)", {"loss": "ns", "pack": 1}, "toy_gan_steps"),
    "pacgan2": ("PacGAN2", {"loss": "ns", "pack": 2}, "toy_gan_steps"),
    "wgan-gp": ("WGAN-GP", {"loss": "wgan-gp", "pack": 1, "n_critic": 5, "lr_g": 1e-4, "lr_d": 1e-4,
                            "betas": (0.5, 0.9), "gp_weight": 0.1}, "toy_wgan_steps"),
}
GAUSSIAN_LABEL = "one Gaussian (no network)"
TOY_TRIALS = (  # what the short trials behind the toy budgets found (seed 0, one thread; the preset's defaults)
    "PacGAN2 reached 8/8 ring8 modes with 9 % high-quality samples at 1,000 steps and 78-81 % at 3,000; WGAN-GP "
    "8/8 with 14 % at 1,000 generator steps (31 % at width 256, for 4x the cost); the vanilla GAN (pack 1) "
    "captured no ring8 mode at 3,000 steps at any learning rate tried (1e-3, 2e-4, 1e-4), width (128, 256) or "
    "with weight averaging off. On grid25 none converged within the budgets tried: PacGAN2 22/25 modes with 2 % "
    "high-quality samples at 3,000 steps, 19/25 and 4 % at 6,000")


@dataclass
class Recipe:
    """A task without a seed."""

    group: str
    section: str
    label: str
    kind: TaskKind
    data: DataConfig
    model: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    fixed: tuple[str, ...] = ()  # model settings that --set leaves alone: what the recipe is about

    def at(self, seed: int, overrides: dict[str, dict[str, Any]]) -> Task:
        """The task of this recipe at `seed`, with the --set overrides (model settings in `fixed` left alone)."""
        config = _run_config(self, seed, overrides) if self.kind == "train" else None
        data = config.data if config else validate(DataConfig, merge(self.data.model_dump(), overrides.get("data", {})))
        return Task(name=f"{self.group}-s{seed}", group=self.group, section=self.section, label=self.label,
                    seed=seed, kind=self.kind, data=data, tags=self.tags, config=config, options=self.options)


@dataclass
class Context:
    """What the recipes depend on besides the preset: the main data and where projections live."""

    preset: StudyPreset
    main: DataConfig
    shape: tuple[int, ...]
    n_train: int
    projection: Callable[[int], DataConfig]  # dim -> the main data projected to `dim` dimensions


def plan(ctx: Context, seeds: int, overrides: dict[str, dict[str, Any]]) -> list[Task]:
    """Every task of the study, grouped by section, seeds innermost."""
    _check_model_overrides(overrides.get("model", {}))
    if "name" in overrides.get("data", {}):
        raise ConfigError("--set data.name is not allowed in a study; choose the data set with --data")
    recipes = [r for build in RECIPES for r in build(ctx)]
    return [recipe.at(seed, overrides) for recipe in recipes for seed in range(seeds)]


def _run_config(recipe: Recipe, seed: int, overrides: dict[str, dict[str, Any]]):
    """The recipe's RunConfig at `seed`, with --set overrides (model keys only where the model has them)."""
    fields = MODEL_CONFIGS[recipe.model["kind"]].model_fields
    model = merge(recipe.model, {k: v for k, v in overrides.get("model", {}).items()
                                 if k in fields and k not in recipe.fixed})
    train = merge({"epochs": 1_000_000, "seed": seed, **recipe.train}, overrides.get("train", {}))
    data = merge(recipe.data.model_dump(), overrides.get("data", {}))
    return resolve({"data": data, "model": model, "train": train})


def _check_model_overrides(model: dict[str, Any]) -> None:
    known = {name for cls in MODEL_CONFIGS.values() for name in cls.model_fields}
    for key in model:
        if key not in known or key == "kind":
            raise unknown_choice("model setting for --set model.<key>", key, known - {"kind"})


def _train(steps: int, preset: StudyPreset, **extra: Any) -> dict[str, Any]:
    every = max(1, steps // 10)
    return {"steps": steps, "batch_size": preset.batch_size, "lr": preset.lr, "log_every": every,
            "checkpoint_every": max(every, steps // 2), **extra}


def _vae(latent: int, hidden, preset: StudyPreset, **extra: Any) -> dict[str, Any]:
    return {"kind": "vae", "latent_dim": latent, "hidden": hidden, "channels": preset.channels, "arch": preset.arch,
            "prior_components": preset.prior_components, **extra}


def _gan(name: str, latent: int, hidden, preset: StudyPreset, lr: float) -> dict[str, Any]:
    return {"kind": "gan", "latent_dim": latent, "hidden": hidden, "d_hidden": hidden, "channels": preset.channels,
            "arch": preset.arch, "lr_g": lr, "lr_d": lr, **MAIN_GANS[name][1]}


def _is_2d(ctx: Context) -> bool:
    return ctx.shape == (2,)


def toy_recipes(ctx: Context) -> list[Recipe]:
    """Claim 1: a 2-D Gaussian base pushed through a VAE decoder / GAN generator onto multimodal toys, next to
    the Gaussian alone (one full-covariance component fitted by EM: the base without a network)."""
    p = ctx.preset
    toys = [DataConfig(name=t, n=p.toy_n) for t in p.toys]
    if _is_2d(ctx) and ctx.main.name not in p.toys:
        toys.append(ctx.main)
    out = []
    for data in toys:
        tags, slug = {"toy": data.name}, _slug(data.name)
        out.append(Recipe(f"toy-{slug}-gaussian", "toys", GAUSSIAN_LABEL, "train", data,
                          {"kind": "gmm", "components": 1, "covariance": "full"}, _train(p.gmm_steps, p),
                          {**tags, "model": "gaussian"}))
        out.append(Recipe(f"toy-{slug}-vae", "toys", "VAE", "train", data,
                          _vae(2, p.toy_hidden, p), _train(p.toy_steps, p), {**tags, "model": "vae"}))
        for name, (label, options, budget) in TOY_GANS.items():
            model = {"kind": "gan", "latent_dim": 2, "hidden": p.toy_gan_hidden, "d_hidden": p.toy_gan_hidden[:-1]
                     or p.toy_gan_hidden, "lr_g": p.toy_gan_lr, "lr_d": p.toy_gan_lr, **options}
            out.append(Recipe(f"toy-{slug}-{name}", "toys", label, "train", data, model,
                              _train(getattr(p, budget), p), {**tags, "model": name}))
    return out


def mixture_recipes(ctx: Context) -> list[Recipe]:
    """Claim 2: explicit Gaussian mixtures of growing K on a toy and on the main data."""
    p = ctx.preset
    out = []
    toy = DataConfig(name=p.toys[0], n=p.toy_n)
    main_ks = sorted({k for k in p.main_gmm_ks if k <= ctx.n_train})
    sweeps = [(toy, 1e-6, list(p.gmm_ks), p.gmm_steps), (ctx.main, _reg_covar(ctx), main_ks, p.main_gmm_steps)]
    for data, reg, ks, steps in sweeps[:1] if ctx.main.name == toy.name else sweeps:  # a toy as main data: one sweep
        out.append(Recipe(f"gmm-ksweep-{_slug(data.name)}", "mixtures", "GMM k-sweep", "ksweep", data,
                          tags={"toy": data.name} if data.name in MIXTURE_TOYS else {},
                          options={"ks": ks, "steps": steps, "reg_covar": reg}))
    return out


def _reg_covar(ctx: Context) -> float:
    """A covariance floor for images (pixels that never vary would make the density unbounded)."""
    return ctx.preset.gmm_reg_covar if len(ctx.shape) == 3 else 1e-6


def dimension_recipes(ctx: Context) -> list[Recipe]:
    """Claim 3: GMM vs VAE vs GAN on the main data projected to growing dimension, at one parameter budget."""
    p = ctx.preset
    out = []
    for dim in dims_for(p, math.prod(ctx.shape)):
        data = ctx.projection(dim)
        latent = min(p.latent_dim, dim)
        width = budget_width(p.dim_budget, lambda w: _vae(latent, (w, w), p), (dim,))
        g_width = budget_width(p.dim_budget, lambda w: _gan("gan-ns", latent, (w, w), p, p.gan_lr), (dim,))
        train, tags = _train(p.dim_steps, p), {"dim": dim}
        out += [
            Recipe(f"dim-{dim:04d}-gmm", "dimension", "GMM (full covariance)", "train", data,
                   {"kind": "gmm", "components": gmm_components(p, dim, ctx.n_train), "covariance": "full"},
                   _train(p.gmm_steps, p), {**tags, "model": "gmm"}),
            Recipe(f"dim-{dim:04d}-gmm-diag", "dimension", "GMM (diagonal)", "train", data,
                   {"kind": "gmm", "components": gmm_components(p, dim, ctx.n_train, "diag"), "covariance": "diag"},
                   _train(p.gmm_steps, p), {**tags, "model": "gmm-diag"}),
            Recipe(f"dim-{dim:04d}-vae", "dimension", "VAE", "train", data, _vae(latent, (width, width), p),
                   _train(p.dim_vae_steps, p), {**tags, "model": "vae"}),
            Recipe(f"dim-{dim:04d}-gan", "dimension", "GAN-ns", "train", data,
                   _gan("gan-ns", latent, (g_width, g_width), p, p.gan_lr), train, {**tags, "model": "gan"}),
        ]
    return out


def dims_for(preset: StudyPreset, full: int) -> list[int]:
    """The sweep's dimensions: the preset's `dims` capped at the data's `full` dimension, sorted, without repeats."""
    return sorted({min(d, full) for d in preset.dims})


def gmm_components(preset: StudyPreset, dim: int, n_train: int, covariance: str = "full") -> int:
    """As many components as the budget pays for (K-1 + K·D + K·D(D+1)/2 full, K-1 + 2K·D diagonal), at
    least 1: one full-covariance component at D = 784 costs 308,504 parameters, beyond any budget here."""
    per = 1 + dim + (dim * (dim + 1) // 2 if covariance == "full" else dim)
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


def prior_recipes(ctx: Context) -> list[Recipe]:
    """Claim 4: the same VAE with four priors, trained on the IWAE bound, through the ex-post and two-stage
    samplers, and with 2-D latents for the picture."""
    p = ctx.preset
    latent = min(p.latent_dim, math.prod(ctx.shape))
    train = _train(p.steps, p)
    out = [Recipe(f"prior-{prior}", "priors", f"VAE ({PRIOR_LABELS[prior]})", "train", ctx.main,
                  _vae(latent, p.hidden, p, prior=prior), train, {"prior": prior}) for prior in PRIORS]
    out += [Recipe(f"prior-iwae{k}", "priors", f"VAE (N(0, I) prior, IWAE k={k})", "train", ctx.main,
                   _vae(latent, p.hidden, p, objective="iwae", iwae_k=k, **IWAE_PLAIN), train,
                   {"prior": "standard", "iwae_k": k}, fixed=("objective", "iwae_k", *IWAE_PLAIN)) for k in p.iwae_ks]
    out.append(Recipe("prior-expost", "priors", "VAE (N(0, I) prior) + ex-post sampler", "expost", ctx.main,
                      tags={"prior": "expost"}, options={"source": "prior-standard", "k": p.expost_components}))
    out.append(Recipe("prior-two-stage", "priors", "VAE (N(0, I) prior) + two-stage VAE sampler", "two-stage",
                      ctx.main, tags={"prior": "two-stage"},
                      options={"source": "prior-standard", "steps": p.two_stage_steps, "hidden": p.hidden}))
    out += [Recipe(f"latent2-{prior}", "latent2d", f"VAE (2-D latent, {PRIOR_LABELS[prior]})", "train", ctx.main,
                   _vae(2, p.hidden, p, prior=prior), train, {"prior": prior}) for prior in p.latent2_priors]
    return out


def rate_distortion_recipes(ctx: Context) -> list[Recipe]:
    """The beta sweep of the N(0, I) and VampPrior VAEs (Alemi et al. 2018); beta = 1 is the priors section's run."""
    p = ctx.preset
    latent = min(p.latent_dim, math.prod(ctx.shape))
    return [Recipe(f"rd-{prior}-b{beta:g}", "ratedistortion", f"VAE ({PRIOR_LABELS[prior]}, β={beta:g})", "train",
                   ctx.main, _vae(latent, p.hidden, p, prior=prior, beta=beta), _train(p.steps, p),
                   {"prior": prior, "beta": beta})
            for prior in RD_PRIORS for beta in p.betas if beta != 1.0]


def shapes_recipes(ctx: Context) -> list[Recipe]:
    """Claim 4, interpretability: disentanglement of N(0, I) at beta 1 and 4 and of the VampPrior on `shapes`."""
    p = ctx.preset
    data, train = DataConfig(name="shapes", n=p.shapes_n), _train(p.shapes_steps, p)
    variants = {"shapes-beta1": ("VAE (N(0, I) prior, β=1)", {}),
                "shapes-beta4": ("β-VAE (N(0, I) prior, β=4)", {"beta": 4.0}),
                "shapes-vamp": ("VAE (VampPrior, β=1)", {"prior": "vamp"})}
    return [Recipe(group, "shapes", label, "train", data,
                   _vae(p.shapes_latent_dim, p.hidden, p, arch=p.shapes_arch, **extra), train,
                   {"variant": group.removeprefix("shapes-")}) for group, (label, extra) in variants.items()]


def gan_recipes(ctx: Context) -> list[Recipe]:
    """Claim 5: GAN-ns and WGAN-GP on the main data."""
    p = ctx.preset
    steps = {"gan-ns": p.steps, "gan-wgan-gp": p.wgan_steps}
    return [Recipe(name, "gans", MAIN_GANS[name][0], "train", ctx.main,
                   _gan(name, p.gan_latent_dim, p.hidden, p, p.gan_lr), _train(steps[name], p), {"model": name})
            for name in MAIN_GANS]


def _slug(name: str) -> str:
    """A folder-safe short name for a data set name or path."""
    base = name.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in base)[:40] or "data"


RECIPES = (toy_recipes, mixture_recipes, dimension_recipes, prior_recipes, rate_distortion_recipes, shapes_recipes,
           gan_recipes)

