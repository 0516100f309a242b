"""The task list of a study: which models, on which data, with which budgets — one recipe per claim.

A recipe is a task without a seed; `plan` expands every recipe over the seeds and applies the
user's `--set` run overrides on top of the preset. Seeds vary the model initialisation and the
training order; the data split stays fixed (data seed 0 unless overridden) so every run of a
group is scored on the same test examples.
"""

from __future__ import annotations

import math
from typing import Any

from gausslab.blocks.priors import PRIORS as PRIOR_CLASSES
from gausslab.core.errors import ConfigError, unknown_choice
from gausslab.data.config import DataConfig
from gausslab.data.toy2d import MIXTURE_TOYS
from gausslab.models import MODEL_CONFIGS
from gausslab.models.vae import IWAE_PLAIN
from gausslab.study.dimension import dimension_recipes
from gausslab.study.recipe import MAIN_GANS, Context, Recipe, gan_model, train_settings, vae_model
from gausslab.study.record import Task

PRIORS = tuple(PRIOR_CLASSES)  # every prior of the registry, N(0, I) first
PRIOR_LABELS = {name: cls.label for name, cls in PRIOR_CLASSES.items()}
RD_PRIORS = ("standard", "vamp")  # the priors of the rate-distortion sweep
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


def plan(ctx: Context, seeds: int, overrides: dict[str, dict[str, Any]]) -> list[Task]:
    """Every task of the study, grouped by section, seeds innermost."""
    _check_model_overrides(overrides.get("model", {}))
    if "name" in overrides.get("data", {}):
        raise ConfigError("--set data.name is not allowed in a study; choose the data set with --data")
    recipes = [r for build in RECIPES for r in build(ctx)]
    return [recipe.at(seed, overrides) for recipe in recipes for seed in range(seeds)]


def _check_model_overrides(model: dict[str, Any]) -> None:
    known = {name for cls in MODEL_CONFIGS.values() for name in cls.model_fields}
    for key in model:
        if key not in known or key == "kind":
            raise unknown_choice("model setting for --set model.<key>", key, known - {"kind"})


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
                          {"kind": "gmm", "components": 1, "covariance": "full"}, train_settings(p.gmm_steps, p),
                          {**tags, "model": "gaussian"}))
        out.append(Recipe(f"toy-{slug}-vae", "toys", "VAE", "train", data,
                          vae_model(2, p.toy_hidden, p), train_settings(p.toy_steps, p), {**tags, "model": "vae"}))
        for name, (label, options, budget) in TOY_GANS.items():
            model = {"kind": "gan", "latent_dim": 2, "hidden": p.toy_gan_hidden, "d_hidden": p.toy_gan_hidden[:-1]
                     or p.toy_gan_hidden, "lr_g": p.toy_gan_lr, "lr_d": p.toy_gan_lr, **options}
            out.append(Recipe(f"toy-{slug}-{name}", "toys", label, "train", data, model,
                              train_settings(getattr(p, budget), p), {**tags, "model": name}))
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


def prior_recipes(ctx: Context) -> list[Recipe]:
    """Claim 4: the same VAE with four priors, trained on the IWAE bound, through the ex-post and two-stage
    samplers, and with 2-D latents for the picture."""
    p = ctx.preset
    latent = min(p.latent_dim, math.prod(ctx.shape))
    train = train_settings(p.steps, p)
    out = [Recipe(f"prior-{prior}", "priors", f"VAE ({PRIOR_LABELS[prior]})", "train", ctx.main,
                  vae_model(latent, p.hidden, p, prior=prior), train, {"prior": prior}) for prior in PRIORS]
    out += [Recipe(f"prior-iwae{k}", "priors", f"VAE (N(0, I) prior, IWAE k={k})", "train", ctx.main,
                   vae_model(latent, p.hidden, p, objective="iwae", iwae_k=k, **IWAE_PLAIN), train,
                   {"prior": "standard", "iwae_k": k}, fixed=("objective", "iwae_k", *IWAE_PLAIN)) for k in p.iwae_ks]
    out.append(Recipe("prior-expost", "priors", "VAE (N(0, I) prior) + ex-post sampler", "expost", ctx.main,
                      tags={"prior": "expost"}, options={"source": "prior-standard", "k": p.expost_components}))
    out.append(Recipe("prior-two-stage", "priors", "VAE (N(0, I) prior) + two-stage VAE sampler", "two-stage",
                      ctx.main, tags={"prior": "two-stage"},
                      options={"source": "prior-standard", "steps": p.two_stage_steps, "hidden": p.hidden}))
    out += [Recipe(f"latent2-{prior}", "latent2d", f"VAE (2-D latent, {PRIOR_LABELS[prior]})", "train", ctx.main,
                   vae_model(2, p.hidden, p, prior=prior), train, {"prior": prior}) for prior in p.latent2_priors]
    return out


def rate_distortion_recipes(ctx: Context) -> list[Recipe]:
    """The beta sweep of the N(0, I) and VampPrior VAEs (Alemi et al. 2018); beta = 1 is the priors section's run."""
    p = ctx.preset
    latent = min(p.latent_dim, math.prod(ctx.shape))
    return [Recipe(f"rd-{prior}-b{beta:g}", "ratedistortion", f"VAE ({PRIOR_LABELS[prior]}, β={beta:g})", "train",
                   ctx.main, vae_model(latent, p.hidden, p, prior=prior, beta=beta), train_settings(p.steps, p),
                   {"prior": prior, "beta": beta})
            for prior in RD_PRIORS for beta in p.betas if beta != 1.0]


def shapes_recipes(ctx: Context) -> list[Recipe]:
    """Claim 4, interpretability: disentanglement of N(0, I) at beta 1 and 4 and of the VampPrior on `shapes`."""
    p = ctx.preset
    data, train = DataConfig(name="shapes", n=p.shapes_n), train_settings(p.shapes_steps, p)
    variants = {"shapes-beta1": ("VAE (N(0, I) prior, β=1)", {}),
                "shapes-beta4": ("β-VAE (N(0, I) prior, β=4)", {"beta": 4.0}),
                "shapes-vamp": ("VAE (VampPrior, β=1)", {"prior": "vamp"})}
    return [Recipe(group, "shapes", label, "train", data,
                   vae_model(p.shapes_latent_dim, p.hidden, p, arch=p.shapes_arch, **extra), train,
                   {"variant": group.removeprefix("shapes-")}) for group, (label, extra) in variants.items()]


def gan_recipes(ctx: Context) -> list[Recipe]:
    """Claim 5: GAN-ns and WGAN-GP on the main data."""
    p = ctx.preset
    steps = {"gan-ns": p.steps, "gan-wgan-gp": p.wgan_steps}
    return [Recipe(name, "gans", MAIN_GANS[name][0], "train", ctx.main,
                   gan_model(name, p.gan_latent_dim, p.hidden, p, p.gan_lr), train_settings(steps[name], p),
                   {"model": name})
            for name in MAIN_GANS]


def _slug(name: str) -> str:
    """A folder-safe short name for a data set name or path."""
    base = name.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in base)[:40] or "data"


RECIPES = (toy_recipes, mixture_recipes, dimension_recipes, prior_recipes, rate_distortion_recipes, shapes_recipes,
           gan_recipes)

