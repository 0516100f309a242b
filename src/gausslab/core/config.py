"""Config machinery shared by every layer: the strict pydantic base, one-line validation errors, YAML.

Each component's config class lives beside the component (DataConfig in `data`, VAEConfig beside the
VAE, TrainConfig beside the trainer); `training.run_config` joins them into a run. A validation
problem becomes one `ConfigError` line naming the field, the value and what is allowed.
"""

from __future__ import annotations

import difflib
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from gausslab.core.errors import ConfigError


class StrictModel(BaseModel):
    """Frozen, typo-proof base: unknown keys are errors and configs are never mutated."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def choices(names: typing.Iterable[str]) -> Any:
    """`Literal[...]` of a registry's names, so a config's choices are derived from the registry, never retyped."""
    return typing.Literal[tuple(names)]


def validate(cls: type[StrictModel], raw: dict[str, Any]) -> StrictModel:
    """cls(**raw), turning pydantic's report into a one-line ConfigError."""
    try:
        return cls.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(_one_line(err, cls, raw)) from None


def _one_line(err: ValidationError, cls: type[StrictModel], raw: dict[str, Any]) -> str:
    first = err.errors()[0]
    parts = _user_location(first["loc"], raw)
    loc = ".".join(str(p) for p in parts)
    value = first.get("input")
    kind = first["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(cls, [p for p in parts[:-1] if isinstance(p, str)], raw)
        close = difflib.get_close_matches(str(parts[-1]), allowed, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"unknown setting {loc!r}{hint}; allowed: {', '.join(allowed)}"
    if kind == "literal_error":
        expected = first["ctx"]["expected"]
        options = [o.strip().strip("'") for o in expected.replace(" or ", ", ").split(",")]
        close = difflib.get_close_matches(str(value), options, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"{loc}={value!r} is not allowed{hint}; choose one of: {', '.join(options)}"
    if kind == "value_error":
        error = first["ctx"]["error"]
        if isinstance(error, ConfigError):
            return str(error)  # a cross-field check that already names its values
        return f"{loc}={value!r} is not allowed; {error}"
    if kind == "union_tag_invalid":
        tags = first["ctx"]["expected_tags"].replace("'", "")
        return f"{loc}.kind={first['ctx']['tag']!r} is not allowed; choose one of: {tags}"
    return f"{loc}={value!r}: {first['msg']}"


def _user_location(loc: tuple, raw: Any) -> list:
    """pydantic's error location as the user wrote it: steps that are not keys of the input (union tags,
    validator names) are dropped while the input can be followed."""
    parts, node = [], raw
    for step in loc:
        if isinstance(node, dict) and step not in node:
            continue
        parts.append(step)
        node = node[step] if isinstance(node, dict) or (isinstance(node, list) and isinstance(step, int)
                                                        and step < len(node)) else None
    return parts


def _allowed_keys(cls: type[StrictModel], path: list[str], raw: Any) -> list[str]:
    """The field names of the config class that validates the mapping at `path` under `cls`."""
    for key in path:
        field = cls.model_fields.get(key)
        raw = raw.get(key, {}) if isinstance(raw, dict) else {}
        cls = _config_class(field.annotation, raw) if field is not None else None
        if cls is None:
            return []
    return list(cls.model_fields)


def _config_class(annotation: Any, raw: Any) -> type[StrictModel] | None:
    """The StrictModel an annotation validates `raw` with: itself, or the union member whose `kind` matches."""
    if isinstance(annotation, type) and issubclass(annotation, StrictModel):
        return annotation
    members = [m for m in typing.get_args(annotation) if isinstance(m, type) and issubclass(m, StrictModel)]
    kind = raw.get("kind") if isinstance(raw, dict) else None
    matching = [m for m in members if "kind" in m.model_fields and m.model_fields["kind"].default == kind]
    return (matching or members or [None])[0]


def scalar(text: str) -> Any:
    """A `--set` value read as a YAML scalar: `5` is an int, `1e-3` a float, `[64, 64]` a list."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return text if value is None and text.strip() not in ("null", "~", "") else value


def load_yaml(path: str | Path) -> dict[str, Any]:
    """A YAML mapping from disk (safe loader only), or a ConfigError naming the file."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {str(path)!r} does not exist") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read config file {str(path)!r}: {err.__class__.__name__}") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"config file {str(path)!r} is not valid YAML{where}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {str(path)!r} must hold a mapping with data/model/train sections")
    return raw


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Recursive dict merge; `override` wins."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out
