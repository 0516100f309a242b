"""Every public function, class and method of the package has a docstring.

Public: a module-level function or class whose name does not start with "_", and the methods of such a
class whose names do not start with "_" (so no dunders), in every module under src/gausslab.
Read from the source with `ast`, so nothing is imported, and a definition under a module-level if/try counts too.

Exempt, and nothing else:
- `forward` of an `nn.Module` whose class docstring states the shapes on one line (`[B, D] -> [B, K]`):
  the class docstring already says what calling the module does;
- pydantic validators (`field_validator`, `model_validator`, ...), which check a field and return it.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import gausslab

SRC = Path(gausslab.__file__).parent
VALIDATORS = {"field_validator", "model_validator", "validator", "root_validator"}
SHAPES = re.compile(r"\[[^\]\n]+\][^\n]*->[^\n]*\[[^\]\n]+\]")  # an input shape, an arrow, an output shape
Def = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


def _defs(body: list[ast.stmt]) -> Iterator[Def]:
    """The functions and classes defined directly in `body`, also under an if/try/with at that level."""
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield node
        elif isinstance(node, (ast.If, ast.Try, ast.With)):
            for block in (node.body, getattr(node, "orelse", []), getattr(node, "finalbody", []),
                          *(h.body for h in getattr(node, "handlers", []))):
                yield from _defs(block)


def _name(node: ast.expr) -> str:
    """The last name of a decorator or base class: `nn.Module` -> Module, `field_validator("x")` -> field_validator."""
    if isinstance(node, ast.Call):
        return _name(node.func)
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def exempt(cls: ast.ClassDef, method: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """A pydantic validator, or the `forward` of an nn.Module whose class docstring states the shapes."""
    if any(_name(d) in VALIDATORS for d in method.decorator_list):
        return True
    is_module = any(_name(b) == "Module" for b in cls.bases)
    return method.name == "forward" and is_module and bool(SHAPES.search(ast.get_docstring(cls) or ""))


def undocumented(source: str, where: str = "") -> list[str]:
    """`where:line name` of every public function, class and method in `source` that has no docstring."""
    out = []
    for node in _defs(ast.parse(source).body):
        if node.name.startswith("_"):
            continue
        if ast.get_docstring(node) is None:
            out.append(f"{where}:{node.lineno} {node.name}")
        if isinstance(node, ast.ClassDef):
            for method in _defs(node.body):
                if (isinstance(method, ast.ClassDef) or method.name.startswith("_") or exempt(node, method)
                        or ast.get_docstring(method) is not None):
                    continue
                out.append(f"{where}:{method.lineno} {node.name}.{method.name}")
    return out


def test_every_public_function_class_and_method_has_a_docstring():
    missing = [m for path in sorted(SRC.rglob("*.py"))
               for m in undocumented(path.read_text(), str(path.relative_to(SRC.parent)))]
    assert not missing, f"{len(missing)} public definitions without a docstring:\n" + "\n".join(missing)


PLANTED = '''
import torch
from pydantic import BaseModel, field_validator
from torch import nn


def documented():
    """Says what it does."""


def bare():
    return 1


def _private():
    return 1


class Shapes(nn.Module):
    """x [B, D] -> [B, 2]."""

    def forward(self, x):
        return x

    def extra(self, x):
        return x

    def __call__(self, x):
        return x


class NoShapes(nn.Module):
    """A module that does not say its shapes."""

    def forward(self, x):
        return x


class NotAModule:
    """y [N, D] -> [N, D], but not an nn.Module."""

    def forward(self, x):
        return x


class Config(BaseModel):
    """A config."""

    size: int

    @field_validator("size")
    @classmethod
    def positive(cls, v):
        return v

    @property
    def twice(self):
        return 2 * self.size


class Bare:
    pass


if torch.cuda.is_available():
    def conditional():
        return 1
'''


def test_the_check_finds_what_is_missing_and_only_that():
    found = {entry.split(" ")[1] for entry in undocumented(PLANTED)}
    assert found == {"bare", "Shapes.extra", "NoShapes.forward", "NotAModule.forward", "Config.twice", "Bare",
                     "conditional"}
