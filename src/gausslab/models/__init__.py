"""Model registry: `MODELS[kind](config, shape)`, and `build_model` from a name or a config."""

from __future__ import annotations

import itertools
from typing import Annotated, Union

import torch
from pydantic import Field
from torch import nn

from gausslab.blocks import usernets
from gausslab.core.config import StrictModel, validate
from gausslab.core.errors import ConfigError, lookup
from gausslab.core.resources import check_memory
from gausslab.data import Dataset
from gausslab.models.base import GenerativeModel, Loss
from gausslab.models.flow import Flow, FlowConfig
from gausslab.models.gan import GAN, GANConfig
from gausslab.models.gmm import GMM, GMMConfig
from gausslab.models.histogram import Histogram, HistogramConfig
from gausslab.models.vae import VAE, ElboTerms, IwaeTerms, VAEConfig

MODELS: dict[str, type[GenerativeModel]] = {"vae": VAE, "gan": GAN, "gmm": GMM, "flow": Flow, "histogram": Histogram}
# Derived from the registry: a new model's config joins the `model:` section with no other edit.
MODEL_CONFIGS: dict[str, type[StrictModel]] = {kind: cls.config_class for kind, cls in MODELS.items()}
ModelConfig = Annotated[Union[tuple(MODEL_CONFIGS.values())], Field(discriminator="kind")]


def build_model(
    kind_or_config: str | StrictModel, data: Dataset | tuple[int, ...], seed: int = 0, **options
) -> GenerativeModel:
    """A freshly initialised model (weights seeded by `seed`) for data of `data`'s shape.

    `build_model("vae", ds, prior="vamp", latent_dim=16)` or `build_model(VAEConfig(...), ds)`.
    A config with a `levels` field left at None takes the grey levels of a Dataset given as `data`.
    Torch's global RNG is left as it was.

    Your own networks: `encoder=` / `decoder=` (VAE), `generator=` / `discriminator=` (GAN), each
    an nn.Module built by `gausslab.network("module:Class", **kwargs)` (used as it is, weights
    included; the config records its spec) or a spec mapping {"target": ..., "kwargs": {...}}
    (built here, seeded). Their input and output shapes are in `VAE` / `GAN`.
    """
    networks = {role: net for role, net in options.items() if isinstance(net, nn.Module)}
    options |= {role: usernets.spec_of(net, role).model_dump() for role, net in networks.items()}
    if isinstance(kind_or_config, str):
        config_cls = lookup(MODEL_CONFIGS, "model", kind_or_config)
        config = validate(config_cls, {"kind": kind_or_config, **options})
    else:
        config = validate(type(kind_or_config), {**kind_or_config.model_dump(), **options})
    shape = data.shape if isinstance(data, Dataset) else tuple(data)
    levels = data.levels if isinstance(data, Dataset) else None
    if levels is not None and "levels" in type(config).model_fields and config.levels is None:
        config = config.model_copy(update={"levels": levels})
    cls = lookup(MODELS, "model", config.kind)
    _check_size(cls, config, shape)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return cls(config, shape, **networks)


def _check_size(cls: type[GenerativeModel], config: StrictModel, shape: tuple[int, ...]) -> None:
    """Refuse a model whose weights alone exceed this machine's memory, counted on the meta device
    (shapes only, nothing allocated), so an absurd size is one line instead of an allocator crash."""
    what = f"a {config.kind} with {_sizes(config)} for data of shape {list(shape)}"
    # Spectral norm adds two vectors per layer, and its power iteration is ~10x slower on meta than the build.
    # Users' networks are left out: they are built for real anyway, and their forward check may not run on meta.
    update = {name: None for name, value in config if isinstance(value, usernets.NetworkSpec)}
    if getattr(config, "spectral_norm", False):
        update["spectral_norm"] = False
    try:
        with torch.device("meta"):
            probe = cls(config.model_copy(update=update), shape)
    except (RuntimeError, TypeError, ValueError, OverflowError) as err:
        if "overflow" not in str(err).lower():
            raise
        raise ConfigError(f"{what} cannot be built: a size overflows 64-bit integers") from None
    n = sum(t.numel() for t in itertools.chain(probe.parameters(), probe.buffers()))
    nbytes = sum(t.numel() * t.element_size() for t in itertools.chain(probe.parameters(), probe.buffers()))
    check_memory(nbytes, f"{what} ({n:.3g} weights)")


def _sizes(config: StrictModel) -> str:
    """The size settings (integers and lists of them) that differ from their defaults: 'latent_dim=64, hidden=(8,)'."""
    fields = type(config).model_fields
    changed = [f"{k}={v}" for k, v in config if v != fields[k].default and not isinstance(v, (bool, float, str))
               and (isinstance(v, int) or isinstance(v, tuple) and all(isinstance(e, int) for e in v))]
    return ", ".join(changed) or "default sizes"


__all__ = [
    "GAN", "GANConfig", "GMM", "GMMConfig", "MODELS", "MODEL_CONFIGS", "ElboTerms", "Flow", "FlowConfig", "GenerativeModel",
    "Histogram", "HistogramConfig", "IwaeTerms", "Loss", "ModelConfig", "VAE", "VAEConfig", "build_model",
]
