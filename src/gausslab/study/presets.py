"""Study presets: the budgets of every run of `gausslab study`, as a dict registry of pydantic configs.

`quick` is for tests (digits, about two minutes on 2 CPU cores), `standard` the default (mnist5k,
3 seeds, the `make run` job), `full` longer budgets for a GPU.
Any field can be overridden with `--set study.<field>=value`; run settings with
`--set train.steps=...` / `--set model.<field>=...` (applied to every run that has the field).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from gausslab.core.config import Size, StrictModel, choices, field_like, validate, value_like
from gausslab.core.errors import lookup
from gausslab.data.config import DataConfig
from gausslab.data.toy2d import MIXTURE_TOYS
from gausslab.models.flow import FlowConfig
from gausslab.models.gan import GANConfig
from gausslab.models.gmm import GMMConfig
from gausslab.models.vae import VAEConfig
from gausslab.training.config import TrainConfig

# A setting that feeds a run's field takes that field's type and check (and its default where the study needs
# no other), so each is declared once: a budget in steps is checked as `train.steps`, widths as `model.hidden`.
Steps = value_like(TrainConfig, "steps")
Examples = value_like(DataConfig, "n")  # examples of a generated data set


class StudyPreset(StrictModel):
    """The budgets and settings of every run of one study; `--set study.<field>=value` overrides a field."""

    description: str = ""
    data: str = Field("mnist5k", min_length=1, description="the main data when --data is not given: a built-in "
                      "data set or a path")
    seeds: int = Field(3, gt=0, description="seeds per model: tables show mean ± sd over them, verdicts 95 % "
                                            "intervals of the per-seed differences (--seeds overrides it)")
    steps: Steps = 1000  # training steps of each neural run on the main data (36 epochs of mnist5k's 3,500 training digits)
    toy_steps: Steps = 1500  # ... of the VAEs on the 2-D toys
    wgan_steps: Steps = Field(1000, description="generator steps of WGAN-GP on the main data (5 critic steps "
                                                "each: about 2.5x the cost of `steps` GAN-ns steps)")
    latent2_priors: tuple[value_like(VAEConfig, "prior"), ...] = Field(
        ("standard", "vamp"), description="priors of the 2-D-latent VAEs drawn as aggregate posterior over prior")
    toys: tuple[choices(MIXTURE_TOYS), ...] = Field(
        ("ring8", "grid25"), min_length=1, description="2-D toys with known modes of the push-forward claims; the "
                                                       "first also gets the mixture k-sweep")
    # Toy GAN budgets from short trials: see study.plan.TOY_TRIALS (the report prints it).
    toy_gan_steps: Steps = Field(3000, description="steps of the GAN and PacGAN2 runs on the 2-D toys")
    toy_wgan_steps: Steps = Field(1000, description="generator steps of the WGAN-GP runs on the 2-D toys")
    toy_gan_hidden: field_like(GANConfig, "hidden", default=(128, 128, 128), description=(
        "generator MLP widths on the 2-D toys; the discriminator has one layer less"))
    shapes_steps: Steps = 1500  # ... of the interpretability VAEs on `shapes`
    dim_steps: Steps = 1000  # ... of the GANs of the dimension sweep
    dim_vae_steps: Steps = Field(4000, description="steps of the dimension sweep's VAEs (on digits at D = 64 "
                                 "a 1,000-step VAE was still improving on validation; 4,000 steps took 16 s)")
    batch_size: field_like(TrainConfig, "batch_size")
    lr: field_like(TrainConfig, "lr")
    latent_dim: field_like(VAEConfig, "latent_dim")  # VAE latent size on the main data
    # MLP widths of VAEs and GANs on the main data: checked as the GAN's, which needs at least one layer
    hidden: field_like(GANConfig, "hidden", default=(256, 256), description="MLP widths on the main data")
    toy_hidden: value_like(VAEConfig, "hidden") = (128, 128, 128)  # VAE MLP widths on the 2-D toys
    arch: field_like(VAEConfig, "arch", default="mlp", description=(
        "networks of the VAEs and GANs on the main data (MLPs: a conv net on 28x28 images costs about 5x more "
        "per step)"))
    # conv widths (with arch conv or auto on images of side >= 16)
    channels: field_like(VAEConfig, "channels", default=(16, 32, 64))
    gan_latent_dim: field_like(GANConfig, "latent_dim", default=16)  # GAN base size on the main data (2 on toys)
    gan_lr: field_like(GANConfig, "lr_g", default=2e-4)  # Adam lr of both GAN networks (Radford et al. 2016)
    toy_gan_lr: field_like(GANConfig, "lr_g")  # ... on the 2-D toys: the GAN's default, tuned on ring8
    prior_components: field_like(VAEConfig, "prior_components")  # mog components / VampPrior pseudo-inputs
    # components of the ex-post mixture (Ghosh et al. 2020)
    expost_components: field_like(GMMConfig, "components", default=10)
    iwae_ks: tuple[value_like(VAEConfig, "iwae_k"), ...] = Field(
        (5,), description="importance samples of the N(0, I) VAEs trained on the IWAE bound (Burda et al. 2016), "
                          "one run per k")
    two_stage_steps: Steps = Field(1000, description="Adam steps of the second VAE of the two-stage sampler "
                                   "(Dai & Wipf 2019), which has the main VAE's widths")
    toy_n: Examples = 4000  # examples per toy (train + test)
    shapes_n: Examples = 3000
    shapes_latent_dim: field_like(VAEConfig, "latent_dim", default=8)
    shapes_arch: field_like(VAEConfig, "arch", default="mlp")  # MLPs as Higgins et al. 2017 on dSprites; fast on CPU
    eval_k: int = Field(500, gt=0)  # importance samples of the IWAE NLL
    n_generated: int = Field(2000, ge=2, description="model samples drawn for every sample metric")
    hole_draws: int = Field(10_000, ge=2, description="prior draws scored by the prior-hole metric")
    # KL weights > 0, stricter than the VAE's >= 0: at 0 the rate is free, which is no point of the sweep
    betas: tuple[Annotated[float, Field(gt=0)], ...] = Field(
        (0.25, 0.5, 1.0, 2.0, 4.0), description="KL weights of the rate-distortion sweep of the N(0, I) and "
                                                 "VampPrior VAEs (Alemi et al. 2018)")
    gmm_ks: tuple[value_like(GMMConfig, "components"), ...] = (1, 2, 4, 8, 16, 25, 32)  # mixture sizes of the k-sweep
    gmm_steps: Steps = 100  # EM iterations
    # The k-sweep on the main data: at D = 784 one EM iteration costs about 9 GFLOP per full-covariance component
    main_gmm_ks: tuple[value_like(GMMConfig, "components"), ...] = (1, 2, 4, 8, 16, 25, 32)
    main_gmm_steps: Steps = 100
    # covariance floor on image data (pixels with no variance)
    gmm_reg_covar: field_like(GMMConfig, "reg_covar", default=1e-3)
    # data dimensions of the dimension sweep (capped at the data's; at the data's own, 784 for mnist5k, the data itself)
    dims: tuple[Size, ...] = (2, 8, 32, 128, 784)
    dim_budget: int = Field(20_000, gt=0)  # matched parameter budget of the dimension sweep
    dim_noise: float = Field(0.05, gt=0)  # Gaussian noise std added to the projected data
    dim_max_components: int = Field(64, gt=0)
    dim_models: tuple[str, ...] | None = Field(None, min_length=1, description=(
        "the models of the dimension sweep, tags of study.dimension.DIMENSION_MODELS (None: all of them)"))
    dim_rank: int = Field(8, gt=0)  # rank of each low-rank (PPCA) component, at most D - 1
    dim_flow_layers: value_like(FlowConfig, "layers") = 4  # couplings of the sweep's flow
    dim_patience: field_like(TrainConfig, "patience", default=10, description=(
        "validation checks (one per epoch) without a new best after which the sweep's VAEs and flows stop "
        "(train.patience); null: they train every step"))
    # torch CPU threads during the study (None: torch's default). The study's networks are small, so one
    # thread wastes little, and it keeps a busy machine from slowing to a crawl under thread oversubscription.
    threads: int | None = Field(1, gt=0)
    skip_metrics: tuple[str, ...] = ()  # evaluate.METRICS names left out of every run (same metrics for all)


PRESETS: dict[str, StudyPreset] = {
    "quick": StudyPreset(
        description="tiny budgets for tests and smoke checks on digits (about 2 minutes on 2 cores)", data="digits",
        seeds=2, n_generated=300, hole_draws=1000, betas=(0.5, 1.0), toy_gan_steps=60, toy_wgan_steps=20,
        wgan_steps=30, toy_gan_hidden=(32, 32), steps=60, toy_steps=60, shapes_steps=30, dim_steps=40, dim_vae_steps=40,
        batch_size=64,
        latent_dim=4, hidden=(32,),
        toy_hidden=(32, 32), channels=(8, 16), gan_latent_dim=4, prior_components=4, expost_components=3,
        toy_n=600, shapes_n=300, shapes_latent_dim=4, eval_k=8, gmm_ks=(1, 4, 8), gmm_steps=15, iwae_ks=(3,),
        main_gmm_ks=(1, 4, 8), main_gmm_steps=15,
        two_stage_steps=30,
        dims=(2, 64), dim_budget=1500, dim_max_components=8, skip_metrics=("kid",),
    ),
    # The `make run` job, sized for 2 CPU cores. CPU time of one run on mnist5k, measured: a 1,000-step VAE
    # trains in about 25 s, an IWAE k=5 one in 90 s; its test NLL with k=200 importance samples took 27 s more
    # (12 s since metrics.nll decodes 2,048 rows at a time), KID 7 s. So the standard study trims: 800 steps on
    # the main data (there the priors' validation ELBO made 5-8 % of its gain in the last quarter; 10 % marks a
    # run not converged), ring8 alone (no GAN converged on grid25 within the budgets tried, TOY_TRIALS), three
    # sweep dimensions, three betas, k=100 for the test NLL, no KID (FID stays), the main k-sweep to K=4, the
    # 2-D-latent picture of N(0, I) alone, and short WGAN-GP budgets (their toy runs mode-collapsed at 500 steps).
    # The sweep's VAEs get 2,000 steps: its 784-pixel VAE (discretized logistic) trains 3,000 in about 40 s, and
    # from step 2,000 to 3,000 its validation ELBO rose by 6 nats (of 3,276) at D = 784 and 5 nats at D = 64.
    "standard": StudyPreset(
        description="the default: mnist5k, 3 seeds, the dimension sweep up to 784, trimmed for 2 cores",
        steps=800, toys=("ring8",), toy_wgan_steps=300, wgan_steps=200, shapes_steps=800, dims=(8, 64, 784),
        latent2_priors=("standard",),
        dim_vae_steps=2000, betas=(0.25, 1.0, 4.0), eval_k=100, skip_metrics=("kid",), main_gmm_ks=(1, 2, 4),
        main_gmm_steps=30, dim_models=("gmm", "gmm-diag", "gmm-logit", "gmm-diag-logit", "histogram", "vae", "gan"),
    ),
    "full": StudyPreset(
        description="longer budgets for a GPU",
        steps=20_000, toy_steps=10_000, arch="auto", iwae_ks=(5, 50), shapes_steps=10_000, dim_steps=5000,
        dim_vae_steps=20_000,
        batch_size=128, latent_dim=32,
        hidden=(512, 512), toy_hidden=(400, 400, 400), channels=(32, 64, 128), gan_latent_dim=32,
        prior_components=50, expost_components=20, toy_n=12_500, shapes_n=20_000, shapes_latent_dim=10,
        shapes_arch="conv",
        eval_k=5000, gmm_ks=(1, 2, 4, 8, 16, 25, 32, 64, 100), gmm_steps=300,
        main_gmm_ks=(1, 2, 4, 8, 16, 25, 32, 64, 100), main_gmm_steps=300, dims=(2, 8, 32, 128, 784),
        wgan_steps=10_000, latent2_priors=("standard", "mog", "vamp", "flow"),
        dim_budget=200_000, dim_max_components=200, threads=None,
    ),
}


def preset_with(name: str, overrides: dict[str, Any] | None = None) -> StudyPreset:
    """The named preset with `--set study.<field>=value` overrides applied (validated, one-line errors)."""
    base = lookup(PRESETS, "preset", name)
    if not overrides:
        return base
    return validate(StudyPreset, {**base.model_dump(), **overrides})
