"""Model registry: `MODELS[kind](config, shape)`, and `build_model` from a name or a config."""

from __future__ import annotations

from typing import Annotated, Union

import torch
from pydantic import Field

from gausslab.core.config import StrictModel, validate
from gausslab.core.errors import lookup
from gausslab.data import Dataset
from gausslab.models.base import GenerativeModel, Loss
from gausslab.models.gan import GAN, GANConfig
from gausslab.models.gmm import GMM, GMMConfig
from gausslab.models.vae import VAE, ElboTerms, IwaeTerms, VAEConfig

MODELS: dict[str, type[GenerativeModel]] = {"vae": VAE, "gan": GAN, "gmm": GMM}
# Derived from the registry: a new model's config joins the `model:` section with no other edit.
MODEL_CONFIGS: dict[str, type[StrictModel]] = {kind: cls.config_class for kind, cls in MODELS.items()}
ModelConfig = Annotated[Union[tuple(MODEL_CONFIGS.values())], Field(discriminator="kind")]


def build_model(
    kind_or_config: str | StrictModel, data: Dataset | tuple[int, ...], seed: int = 0, **options
) -> GenerativeModel:
    """A freshly initialised model (weights seeded by `seed`) for data of `data`'s shape.

    `build_model("vae", ds, prior="vamp", latent_dim=16)` or `build_model(VAEConfig(...), ds)`.
    Torch's global RNG is left as it was.
    """
    if isinstance(kind_or_config, str):
        config_cls = lookup(MODEL_CONFIGS, "model", kind_or_config)
        config = validate(config_cls, {"kind": kind_or_config, **options})
    else:
        config = validate(type(kind_or_config), {**kind_or_config.model_dump(), **options})
    shape = data.shape if isinstance(data, Dataset) else tuple(data)
    cls = lookup(MODELS, "model", config.kind)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return cls(config, shape)


__all__ = [
    "GAN", "GANConfig", "GMM", "GMMConfig", "MODELS", "MODEL_CONFIGS", "ElboTerms", "GenerativeModel", "IwaeTerms", "Loss",
    "ModelConfig", "VAE", "VAEConfig", "build_model",
]
