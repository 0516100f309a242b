"""A run's full configuration: `RunConfig(data=..., model=..., train=...)`, from YAML and `--set` strings.

Each section's class lives beside its component; the `model` section is the union of the model
registry's configs, told apart by `kind`.
"""

from __future__ import annotations

from typing import Any

from gausslab.core.config import StrictModel, merge, scalar, validate
from gausslab.core.errors import ConfigError
from gausslab.data.config import DataConfig
from gausslab.models import ModelConfig
from gausslab.models.vae import VAEConfig
from gausslab.training.config import TrainConfig


class RunConfig(StrictModel):
    """Everything a run folder's `config.json` records: data, model and trainer settings."""

    data: DataConfig = DataConfig()
    model: ModelConfig = VAEConfig()
    train: TrainConfig = TrainConfig()


SECTIONS = tuple(RunConfig.model_fields)


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """['train.epochs=5', 'model.prior=vamp'] -> {'train': {'epochs': 5}, 'model': {'prior': 'vamp'}}.

    Values are read as YAML scalars, so `5` is an int, `1e-3` a float and `[64, 64]` a list.
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        parts = key.strip().split(".")
        if not sep or len(parts) != 2 or not all(parts):
            raise ConfigError(f"--set {item!r} is not of the form section.key=value (e.g. train.epochs=5)")
        if parts[0] not in SECTIONS:
            raise ConfigError(f"--set {item!r}: unknown section {parts[0]!r}; choose one of: {', '.join(SECTIONS)}")
        out.setdefault(parts[0], {})[parts[1]] = scalar(value)
    return out


def resolve(
    raw: dict[str, Any] | None = None, overrides: list[str] | tuple[str, ...] = (), **sections: dict[str, Any]
) -> RunConfig:
    """The full RunConfig from a YAML mapping, keyword sections and `--set` strings (last wins)."""
    merged = merge(raw or {}, {k: v for k, v in sections.items() if v})
    merged = merge(merged, parse_overrides(list(overrides)))
    model = merged.get("model")
    if model is not None and not isinstance(model, dict):
        raise ConfigError(f"model section must be a mapping, got {model!r}")
    if model is not None and "kind" not in model:
        merged["model"] = {"kind": VAEConfig.model_fields["kind"].default, **model}
    return validate(RunConfig, merged)
