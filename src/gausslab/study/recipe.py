"""The parts every study recipe is made of: a recipe (a task without a seed), what recipes depend on, and
the run settings they share (training budget, the VAE and GAN of the main data).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gausslab.core.config import merge, validate
from gausslab.data.config import DataConfig
from gausslab.models import MODEL_CONFIGS
from gausslab.study.presets import StudyPreset
from gausslab.study.record import Task, TaskKind
from gausslab.training.run_config import resolve

# GAN-ns with spectral normalisation on D (Miyato et al. 2018): without it the short budgets collapse on digits.
# The GANs on the main data, name -> (label, GAN options); WGAN-GP as Gulrajani et al. 2017, alg. 1.
MAIN_GANS: dict[str, tuple[str, dict[str, Any]]] = {
    "gan-ns": ("GAN-ns", {"loss": "ns", "spectral_norm": True}),
    "gan-wgan-gp": ("WGAN-GP", {"loss": "wgan-gp", "n_critic": 5, "betas": (0.5, 0.9)}),
}


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
    levels: int | None = None  # grey levels of the main data (None: continuous values)


def _run_config(recipe: Recipe, seed: int, overrides: dict[str, dict[str, Any]]):
    """The recipe's RunConfig at `seed`, with --set overrides (model keys only where the model has them)."""
    fields = MODEL_CONFIGS[recipe.model["kind"]].model_fields
    model = merge(recipe.model, {k: v for k, v in overrides.get("model", {}).items()
                                 if k in fields and k not in recipe.fixed})
    train = merge({"epochs": 1_000_000, "seed": seed, **recipe.train}, overrides.get("train", {}))
    data = merge(recipe.data.model_dump(), overrides.get("data", {}))
    return resolve({"data": data, "model": model, "train": train})


def train_settings(steps: int, preset: StudyPreset) -> dict[str, Any]:
    """TrainConfig fields of a `steps`-step run: the preset's batch and learning rate, ten log points, two
    checkpoints."""
    every = max(1, steps // 10)
    return {"steps": steps, "batch_size": preset.batch_size, "lr": preset.lr, "log_every": every,
            "checkpoint_every": max(every, steps // 2)}


def vae_model(latent: int, hidden, preset: StudyPreset, **extra: Any) -> dict[str, Any]:
    """VAEConfig fields of the study's VAE with `latent` latents and MLP widths `hidden`, plus `extra`."""
    return {"kind": "vae", "latent_dim": latent, "hidden": hidden, "channels": preset.channels, "arch": preset.arch,
            "prior_components": preset.prior_components, **extra}


def gan_model(name: str, latent: int, hidden, preset: StudyPreset, lr: float) -> dict[str, Any]:
    """GANConfig fields of the main-data GAN `name` of `MAIN_GANS` (generator and discriminator widths `hidden`)."""
    return {"kind": "gan", "latent_dim": latent, "hidden": hidden, "d_hidden": hidden, "channels": preset.channels,
            "arch": preset.arch, "lr_g": lr, "lr_d": lr, **MAIN_GANS[name][1]}
