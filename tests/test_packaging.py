"""The installed package's metadata: a torch floor (never a pin), and runtime dependencies the runtime imports."""

import ast
import re
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

import gausslab

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "src" / "gausslab"


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_requirements() -> dict[str, Requirement]:
    """The installed gausslab's requirements that hold without any extra."""
    reqs = [Requirement(line) for line in metadata.requires("gausslab")]
    return {canonical(r.name): r for r in reqs if r.marker is None or "extra" not in str(r.marker)}


def optional_requirements() -> set[str]:
    """Distributions of the user-facing extras (imported lazily, with a one-line error naming the extra)."""
    reqs = [Requirement(line) for line in metadata.requires("gausslab")]
    return {canonical(r.name) for r in reqs if r.marker is not None
            and any(f'extra == "{extra}"' in str(r.marker) for extra in ("tensorboard", "inception"))}


def imported_distributions() -> set[str]:
    """Distributions of every third-party module the package imports anywhere (lazy imports included)."""
    tops = set()
    for path in SOURCE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                tops |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                tops.add(node.module.split(".")[0])
    third_party = tops - set(sys.stdlib_module_names) - {"gausslab"}
    owners = metadata.packages_distributions()
    return {canonical(dist) for top in third_party for dist in owners[top]}


def test_torch_has_a_floor_not_a_pin():
    torch = runtime_requirements()["torch"]
    operators = {spec.operator for spec in torch.specifier}
    assert ">=" in operators, f"torch needs a lower bound: {torch}"
    assert not operators & {"==", "===", "~="}, f"torch must not be pinned: {torch}"


def test_runtime_dependencies_are_what_the_runtime_imports():
    declared, imported = set(runtime_requirements()), imported_distributions()
    assert declared - imported == set(), "declared but never imported at run time (a test or dev dependency?)"
    assert imported - declared - optional_requirements() == set(), "imported at run time but not declared"


def test_one_version_and_an_mit_license():
    meta = metadata.metadata("gausslab")
    assert meta["Version"] == gausslab.__version__
    assert meta["License-Expression"] == "MIT"
    assert "MIT License" in (ROOT / "LICENSE").read_text()
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert f"## [{gausslab.__version__}]" in changelog and "## [Unreleased]" in changelog
