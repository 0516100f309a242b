"""A run config as commented YAML: what `gausslab config MODEL` prints and `--config FILE` reads back."""

from __future__ import annotations

import math
from typing import Any, Literal, get_args, get_origin

import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo


def to_yaml(config: BaseModel, header: str = "") -> str:
    """Every field of every section, one per line, commented with its description and its choices.

    header: comment lines put first (without the leading '# ').
    """
    lines = [f"# {line}" for line in header.splitlines()]
    for section, value in config:
        lines.append(f"{section}:")
        dumped = value.model_dump(mode="json")
        for key, field in type(value).model_fields.items():
            comment = _comment(field)
            lines.append(f"  {key}: {_flow(dumped[key])}" + (f"  # {comment}" if comment else ""))
    return "\n".join(lines) + "\n"


def _flow(value: Any) -> str:
    """One value in YAML flow style on one line: 16, 0.001, null, digits, [32, 64, 128]."""
    text = yaml.safe_dump(value, default_flow_style=True, width=math.inf)
    return text.removesuffix("\n...\n").strip()


def _comment(field: FieldInfo) -> str:
    parts = [field.description] if field.description else []
    if get_origin(field.annotation) is Literal and len(get_args(field.annotation)) > 1:
        parts.append(f"one of: {', '.join(map(str, get_args(field.annotation)))}")
    return "; ".join(parts)
