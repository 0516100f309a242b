"""Your own networks, recorded so that a run folder can rebuild them: an import path plus JSON arguments.

`network("my_pkg.nets:Encoder", width=64)` imports the class, builds it with those arguments and
attaches its `NetworkSpec`. A model given such a network records the spec in its config
(`config.json`), and `gausslab.load` rebuilds it from there — import, construct, then the weights
from `model.safetensors` — never by unpickling. A module without a spec, or one changed after it
was built, is refused: the run folder could not rebuild it. Loading such a run imports the named
module and runs the class's constructor, so load only run folders you trust.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Sequence
from typing import Any

import torch
from pydantic import Field, field_validator
from torch import nn

from gausslab.core.config import StrictModel, validate
from gausslab.core.errors import ConfigError


class NetworkSpec(StrictModel):
    """A user's network as the run folder records it: an importable nn.Module class and its constructor arguments."""

    target: str = Field(..., pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$",
                        description="Import path of the class, 'package.module:QualName'.")
    kwargs: dict[str, Any] = Field(default_factory=dict, description="Constructor arguments (JSON values).")

    @field_validator("kwargs")
    @classmethod
    def _json(cls, kwargs: dict[str, Any]) -> dict[str, Any]:
        """Kept as their JSON round trip (tuples become lists): the recorded arguments are exactly the ones used."""
        try:
            return json.loads(json.dumps(kwargs, allow_nan=False))
        except (TypeError, ValueError) as err:
            raise ValueError(f"constructor arguments must be JSON values (numbers, strings, booleans, null, lists, "
                             f"string-keyed mappings): {err}") from None


# A model config's field for one of its networks: None means the built-in one.
UserNetwork = Field(None, description="Your own network instead of the built-in one (see `gausslab.network`).")

SPEC = "gausslab_spec"  # attribute holding a network's NetworkSpec


def network(target: str, **kwargs) -> nn.Module:
    """The nn.Module class at `target` ('package.module:QualName') built with `kwargs` (JSON values), spec attached."""
    return build(validate(NetworkSpec, {"target": target, "kwargs": kwargs}))


def build(spec: NetworkSpec) -> nn.Module:
    """Import and construct the network a spec names (weights freshly initialised from torch's global RNG)."""
    cls = _import(spec.target)
    try:
        net = cls(**spec.kwargs)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"network {spec.target!r} cannot be built from arguments {spec.kwargs}: {err}") from None
    setattr(net, SPEC, spec)
    return net


def _import(target: str) -> type[nn.Module]:
    module_name, _, qualname = target.partition(":")
    if module_name == "__main__":
        raise ConfigError(f"network {target!r} lives in the script being run; define it in an importable module so "
                          "that the run folder can be loaded elsewhere")
    try:
        obj = importlib.import_module(module_name)
    except ImportError as err:
        raise ConfigError(f"network {target!r}: cannot import {module_name!r} ({err})") from None
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    if not (isinstance(obj, type) and issubclass(obj, nn.Module)):
        raise ConfigError(f"network {target!r} is not an nn.Module class in {module_name!r}")
    return obj


def spec_of(net: nn.Module, role: str) -> NetworkSpec:
    """The spec `network` attached, checked to rebuild a network with the same parameters and buffers."""
    spec = getattr(net, SPEC, None)
    if not isinstance(spec, NetworkSpec):
        raise ConfigError(f"{role}={type(net).__module__}.{type(net).__qualname__} cannot be recorded in a run "
                          "folder; create it with gausslab.network('module:Class', **kwargs) so that gausslab.load "
                          "can rebuild it")
    with torch.random.fork_rng(devices=[]):
        rebuilt = _layout(build(spec))
    if _layout(net) != rebuilt:
        raise ConfigError(f"{role} no longer matches what {spec.target!r} builds from {spec.kwargs} (its "
                          "parameters or buffers changed after gausslab.network built it); the run folder could not "
                          "rebuild it")
    return spec


def _layout(net: nn.Module) -> dict[str, tuple[int, ...]]:
    return {name: tuple(t.shape) for name, t in net.state_dict().items()}


def resolve(given: nn.Module | None, spec: NetworkSpec | None, default: Callable[[], nn.Module]) -> nn.Module:
    """The network a model uses: the instance given, else the one its config's spec names, else the built-in one."""
    if given is not None:
        return given
    return build(spec) if spec is not None else default()


@torch.no_grad()
def check_output(net: nn.Module, role: str, inputs: Sequence[int], want: Sequence[int], what: str) -> None:
    """Run a user's network once on zeros [*inputs] (in eval mode) and require output shape `want`."""
    was_training = net.training
    net.eval()
    try:
        out = net(torch.zeros(*inputs))
    except Exception as err:  # any failure of the user's forward pass on the documented input
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise ConfigError(f"{role} fails on an input of shape {list(inputs)}: "
                          f"{type(err).__name__}: {first}") from None
    finally:
        net.train(was_training)
    if not torch.is_tensor(out) or tuple(out.shape) != tuple(want):
        got = list(out.shape) if torch.is_tensor(out) else type(out).__name__
        raise ConfigError(f"{role} maps {list(inputs)} to {got}; it must output {list(want)} ({what})")


__all__ = ["build", "check_output", "network", "resolve", "spec_of"]
