"""Model registry: `MODELS[kind](config, shape)`, and `build_model` from a name or a config."""

from __future__ import annotations

import itertools

import torch

from gausslab.config import MODEL_CONFIGS, StrictModel, validate
from gausslab.data import Dataset
from gausslab.errors import ConfigError, lookup
from gausslab.resources import check_memory
from gausslab.models.base import GenerativeModel, Loss
from gausslab.models.gan import GAN
from gausslab.models.gmm import GMM
from gausslab.models.vae import VAE, ElboTerms

MODELS: dict[str, type[GenerativeModel]] = {"vae": VAE, "gan": GAN, "gmm": GMM}


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
    _check_size(cls, config, shape)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return cls(config, shape)


def _check_size(cls: type[GenerativeModel], config: StrictModel, shape: tuple[int, ...]) -> None:
    """Refuse a model whose weights alone exceed this machine's memory, counted on the meta device
    (shapes only, nothing allocated), so an absurd size is one line instead of an allocator crash."""
    what = f"a {config.kind} with {_sizes(config)} for data of shape {list(shape)}"
    # Spectral norm adds two vectors per layer, and its power iteration is ~10x slower on meta than the build.
    unnormed = config.model_copy(update={"spectral_norm": False}) if getattr(config, "spectral_norm", False) else config
    try:
        with torch.device("meta"):
            probe = cls(unnormed, shape)
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


__all__ = ["GAN", "GMM", "MODELS", "ElboTerms", "GenerativeModel", "Loss", "VAE", "build_model"]
