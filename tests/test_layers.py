"""The package's structure: imports only point down the layers, and no module imports itself back.

The import graph is read from the source with `ast` (every `import`/`from ... import` of a gausslab
module, at any depth, including imports inside functions), so a lazy import cannot hide an upward edge.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import gausslab

SRC = Path(gausslab.__file__).parent

# Lowest first. A module may import its own layer or any layer below it, never one above.
LAYERS = [
    ["version", "core"],
    ["data"],
    ["blocks"],
    ["models"],
    ["metrics"],
    ["plots"],
    ["training"],
    ["samplers", "estimators"],
    ["evaluation"],
    ["study"],
    ["report"],
    ["cli", "__main__", "__init__"],
]
RANK = {top: rank for rank, tops in enumerate(LAYERS) for top in tops}


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path, modules: set[str]) -> set[str]:
    """The gausslab modules `path` imports (`from pkg import sub` counts as importing `pkg.sub`)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("gausslab")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("gausslab"):
            subs = {f"{node.module}.{a.name}" for a in node.names} & modules
            found |= subs or {node.module}
    return found


def graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in SRC.rglob("*.py")}
    return {name: imported(path, set(files)) for name, path in files.items()}


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_top_level_module_has_a_layer():
    tops = {layer(m) for m in graph()}
    assert tops <= set(RANK), f"modules outside every layer: {sorted(tops - set(RANK))}"


def test_imports_only_point_down():
    upward = [f"{a} -> {b}" for a, deps in graph().items() for b in deps
              if RANK[layer(b)] > RANK[layer(a)]]
    assert not upward, "upward imports:\n" + "\n".join(sorted(upward))


def test_no_import_cycles():
    edges = graph()
    cycles = [cycle for cycle in map(lambda m: find_cycle(m, edges), edges) if cycle]
    assert not cycles, "import cycle: " + " -> ".join(cycles[0])


def find_cycle(start: str, edges: dict[str, set[str]]) -> list[str] | None:
    """A path start -> ... -> start through module imports (a package's own __init__ importing its
    submodules is not an edge back from them unless a submodule imports the package itself)."""
    stack, seen = [(start, [start])], set()
    while stack:
        node, path = stack.pop()
        for nxt in sorted(edges.get(node, ())):
            if nxt == start:
                return path + [nxt]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, path + [nxt]))
    return None


@pytest.mark.parametrize("planted", ["gausslab.report.build", "gausslab.training.loop"])
def test_the_check_catches_a_planted_upward_import(planted, tmp_path, monkeypatch):
    """Guards the guard: an import from the model layer up to `planted` is reported."""
    victim = SRC / "models" / "base.py"
    real = imported

    def with_plant(path, modules):
        return real(path, modules) | ({planted} if path == victim else set())

    monkeypatch.setattr(__import__(__name__, fromlist=["imported"]), "imported", with_plant)
    with pytest.raises(AssertionError, match=f"gausslab.models.base -> {planted}"):
        test_imports_only_point_down()


def test_the_check_catches_a_planted_cycle(monkeypatch):
    """Guards the guard: two modules of one layer importing each other are reported."""
    a, b = SRC / "training" / "guard.py", SRC / "training" / "parallel.py"
    real = imported

    def with_plant(path, modules):
        extra = {"gausslab.training.guard"} if path == b else set()
        return real(path, modules) | extra

    assert "gausslab.training.parallel" in real(a, {module_name(p) for p in SRC.rglob("*.py")})
    monkeypatch.setattr(__import__(__name__, fromlist=["imported"]), "imported", with_plant)
    with pytest.raises(AssertionError, match="import cycle"):
        test_no_import_cycles()
