"""A run's full configuration: `RunConfig(data=..., model=..., train=...)`, from YAML and `--set` strings.

Each section's class lives beside its component; the `model` section is the union of the model
registry's configs, told apart by `kind`.
"""

from __future__ import annotations

from typing import Any

from gausslab.core.config import StrictModel, merge, scalar, validate
from gausslab.core.errors import ConfigError, brief
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
            raise ConfigError(f"--set {brief(item)} is not of the form section.key=value (e.g. train.epochs=5)")
        if parts[0] not in SECTIONS:
            raise ConfigError(f"--set {brief(item)}: unknown section {brief(parts[0])}; choose one of: "
                              f"{', '.join(SECTIONS)}")
        out.setdefault(parts[0], {})[parts[1]] = scalar(value)
    return out


def check_sections(raw: dict[str, Any]) -> None:
    """A ConfigError unless every data/model/train section present is a mapping (or empty)."""
    for section in SECTIONS:
        value = raw.get(section)
        if value is not None and not isinstance(value, dict):
            raise ConfigError(f"section {section!r} must be a mapping of settings (e.g. {section}: {{...}}), "
                              f"got {brief(value)}")


def resolve(
    raw: dict[str, Any] | None = None, overrides: list[str] | tuple[str, ...] = (), **sections: dict[str, Any]
) -> RunConfig:
    """The full RunConfig from a YAML mapping, keyword sections and `--set` strings (last wins)."""
    check_sections(raw or {})  # before merging, where a keyword section would hide a broken one
    merged = merge(raw or {}, {k: v for k, v in sections.items() if v})
    merged = merge(merged, parse_overrides(list(overrides)))
    check_sections(merged)
    model = merged.get("model")
    if model is not None and "kind" not in model:
        merged["model"] = {"kind": VAEConfig.model_fields["kind"].default, **model}
    return validate(RunConfig, merged)
