"""Config machinery shared by every layer: the strict pydantic base, one-line validation errors, YAML.

Each component's config class lives beside the component (DataConfig in `data`, VAEConfig beside the
VAE, TrainConfig beside the trainer); `training.run_config` joins them into a run. A validation
problem becomes one `ConfigError` line naming the field, the value and what is allowed.
"""

from __future__ import annotations

import difflib
import types
import typing
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.fields import FieldInfo

from gausslab.core.errors import ConfigError, brief

# Element types of list-valued settings and the range of seeds: every value a config accepts can be used.
Size = Annotated[int, Field(gt=0)]  # a layer width, channel count, component count or dimension
Beta = Annotated[float, Field(ge=0, lt=1)]  # an Adam moment decay
# torch takes seeds in [-2**63, 2**64); the trainer mixes seed * 1_000_003 + epoch, so seeds are 32-bit.
SEED_MIN, SEED_MAX = -(2**31), 2**32
Seed = Annotated[int, Field(ge=SEED_MIN, lt=SEED_MAX, description="A 32-bit seed, signed or unsigned.")]
MAX_CONFIG_BYTES = 1 << 20  # a YAML run config is a few hundred bytes; anything past 1 MiB is not one


class StrictModel(BaseModel):
    """Frozen, typo-proof base: unknown keys are errors and configs are never mutated."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def choices(names: typing.Iterable[str]) -> Any:
    """`Literal[...]` of a registry's names, so a config's choices are derived from the registry, never retyped."""
    return typing.Literal[tuple(names)]


def field_like(cls: type[StrictModel], name: str, **changes: Any) -> Any:
    """The type of `cls`'s field `name` with its constraints, default and description, for a setting of another
    config that feeds that field, so the check and the default are declared once.

    changes: FieldInfo attributes to replace, e.g. `default=` where the other config needs another value.
    Use it as an annotation: `batch_size: field_like(TrainConfig, "batch_size")`.
    """
    info = cls.model_fields[name]
    return Annotated[info.annotation, FieldInfo.merge_field_infos(info, **changes)]


def value_like(cls: type[StrictModel], name: str) -> Any:
    """The type and constraints of one value of `cls`'s field `name`, None left out: for a list element or a
    budget checked as that field (`steps: value_like(TrainConfig, "steps") = 1000`, never "no cap")."""
    info = cls.model_fields[name]
    kind = info.annotation
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        kind = typing.Union[tuple(k for k in typing.get_args(kind) if k is not type(None))]
    return Annotated[(kind, *info.metadata)] if info.metadata else kind


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
    if kind == "missing":  # the missing key is not in the input: name it after the part that is
        where = [*_user_location(first["loc"][:-1], raw), first["loc"][-1]]
        return f"{'.'.join(str(p) for p in where)} is missing"
    if kind == "extra_forbidden":
        allowed = _allowed_keys(cls, [p for p in parts[:-1] if isinstance(p, str)], raw)
        close = difflib.get_close_matches(str(parts[-1]), allowed, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"unknown setting {brief(loc)}{hint}; allowed: {', '.join(allowed)}"
    if kind == "literal_error":
        expected = first["ctx"]["expected"]
        options = [o.strip().strip("'") for o in expected.replace(" or ", ", ").split(",")]
        close = difflib.get_close_matches(str(value), options, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"{loc}={brief(value)} is not allowed{hint}; choose one of: {', '.join(options)}"
    if kind == "value_error":
        error = first["ctx"]["error"]
        if isinstance(error, ConfigError):
            return str(error)  # a cross-field check that already names its values
        return f"{loc}={brief(value)} is not allowed; {error}"
    if kind == "union_tag_invalid":
        tags = first["ctx"]["expected_tags"].replace("'", "")
        return f"{loc}.kind={brief(first['ctx']['tag'])} is not allowed; choose one of: {tags}"
    return f"{loc}={brief(value)}: {first['msg']}"


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
        value = yaml.load(text, Loader=UniqueKeySafeLoader)
    except (yaml.YAMLError, RecursionError):
        return text
    return text if value is None and text.strip() not in ("null", "~", "") else value


class DuplicateKey(yaml.YAMLError):
    """A mapping that gives one key twice (PyYAML would silently keep the last value)."""

    def __init__(self, key: object, line: int):
        super().__init__(f"key {brief(key)} twice")
        self.key, self.line = key, line


class UniqueKeySafeLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a mapping that repeats a key (merge keys `<<` still override)."""

    def construct_mapping(self, node, deep=False):
        """The mapping of `node`, or a YAMLError naming the first key it repeats."""
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                repeated = key in seen
                seen.add(key)
            except TypeError:  # an unhashable key: the base class reports it
                continue
            if repeated:
                raise DuplicateKey(key, key_node.start_mark.line + 1)
        return super().construct_mapping(node, deep=deep)


def load_yaml(path: str | Path) -> dict[str, Any]:
    """A YAML mapping from disk (safe loader, at most MAX_CONFIG_BYTES), or a ConfigError naming the file."""
    path = Path(path)
    name = repr(str(path))
    try:
        with path.open("rb") as f:
            data = f.read(MAX_CONFIG_BYTES + 1)  # bounded: `--config /dev/zero` never ends
        if len(data) > MAX_CONFIG_BYTES:
            raise ConfigError(f"config file {name} is larger than {MAX_CONFIG_BYTES >> 10} KiB; a run config is a "
                              "short YAML mapping with data/model/train sections")
        text = data.decode()
        raw = yaml.load(text, Loader=UniqueKeySafeLoader)
    except FileNotFoundError:
        raise ConfigError(f"config file {name} does not exist") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read config file {name}: {err.__class__.__name__}") from None
    except DuplicateKey as err:
        raise ConfigError(f"config file {name} gives the key {brief(err.key)} twice (the second at line "
                          f"{err.line}); keep one") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"config file {name} is not valid YAML{where}") from None
    except RecursionError:
        raise ConfigError(f"config file {name} is nested too deeply to be a run config") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {name} must hold a mapping with data/model/train sections")
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
