"""Model registry: `MODELS[kind](config, shape)`, and `build_model` from a name or a config."""

from __future__ import annotations

import torch

from gausslab.config import MODEL_CONFIGS, StrictModel, validate
from gausslab.data import Dataset
from gausslab.errors import lookup
from gausslab.models.base import GenerativeModel, Loss
from gausslab.models.flow import Flow
from gausslab.models.gan import GAN
from gausslab.models.gmm import GMM
from gausslab.models.histogram import Histogram
from gausslab.models.vae import VAE, ElboTerms

MODELS: dict[str, type[GenerativeModel]] = {"vae": VAE, "gan": GAN, "gmm": GMM, "flow": Flow, "histogram": Histogram}


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


__all__ = ["GAN", "GMM", "MODELS", "ElboTerms", "Flow", "GenerativeModel", "Histogram", "Loss", "VAE", "build_model"]
