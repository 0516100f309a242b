"""Run folders: `config.json` + `model.safetensors` + `state.safetensors`/`state.json` (+ logs, pictures).

Only safetensors and JSON are read back, so loading never runs code. `state.json` records the
sha256 of both weight files; a torn or edited file is reported instead of used.

A checkpoint is three files, so it is saved in two phases: the weight files are written beside
the old ones as `*.pending`, `state.json` (naming their checksums) replaces the old one, which
commits the checkpoint, and then the pending files replace the old ones. A process killed at any
point leaves a run that loads: before the commit, the old files match the old `state.json`;
after it, a reader takes the pending file whose checksum `state.json` names.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from gausslab.version import __version__
from gausslab.core.config import Size, validate
from gausslab.core.errors import CheckpointError, GausslabError, brief
from gausslab.core.fileio import atomic_write_bytes, atomic_write_json, sha256
from gausslab.training.run_config import RunConfig
from gausslab.models import GenerativeModel, build_model

CONFIG, MODEL, STATE, STATE_JSON, LOG = "config.json", "model.safetensors", "state.safetensors", "state.json", "log.jsonl"
PENDING = ".pending"  # suffix of a weight file written but not yet moved into place


@dataclass
class RunInfo:
    """What `config.json` says about a run."""

    config: RunConfig
    shape: tuple[int, ...]
    data_kind: str
    version: str


class _RunFile(BaseModel):
    """config.json as written by `save_config` (a hand-edited one is checked before any of it is used)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    gausslab_version: str
    data_shape: tuple[Size, ...] = Field(min_length=1)
    data_kind: Literal["vector", "image"] = "vector"
    config: dict[str, Any]


class _OptimizerState(BaseModel):
    param_groups: list[dict[str, Any]]
    scalars: dict[str, Any] = {}


class _StateFile(BaseModel):
    """state.json as written by `save_checkpoint`; extra keys (`total_steps`, `ranks_in_sync`, ...) are kept."""

    model_config = ConfigDict(extra="allow", frozen=True)

    step: int = Field(ge=0)
    sha256: dict[str, str]
    optimizers: dict[str, _OptimizerState] = {}
    finished: bool = False
    skipped: int = Field(0, ge=0)
    world_size: int = Field(1, gt=0)


def save_config(out: Path, config: RunConfig, model: GenerativeModel, data_kind: str) -> None:
    """Write config.json of a run: the gausslab version, model class, data shape and kind, the resolved config."""
    atomic_write_json(out / CONFIG, {
        "gausslab_version": __version__,
        "model_class": type(model).__name__,
        "data_shape": list(model.shape),
        "data_kind": data_kind,
        "config": config.model_dump(mode="json"),
    })


def read_run_info(run: str | Path) -> RunInfo:
    """What config.json of `run` says; a CheckpointError when the folder, file or config is missing or broken."""
    path = Path(run) / CONFIG
    if not Path(run).is_dir():
        raise CheckpointError(f"run folder {str(run)!r} does not exist")
    try:
        raw = json.loads(path.read_text())
        if not isinstance(raw, dict):
            raise ValueError("not a JSON object")
        file = validate(_RunFile, raw)
        return RunInfo(validate(RunConfig, file.config), file.data_shape, file.data_kind, file.gausslab_version)
    except FileNotFoundError:
        raise CheckpointError(f"{str(run)!r} is not a run folder: {CONFIG} is missing") from None
    except GausslabError as err:
        raise CheckpointError(f"{str(path)!r} holds an invalid config: {err}") from None
    except (ValueError, OSError) as err:
        raise CheckpointError(f"{str(path)!r} is corrupt or not a gausslab config ({err.__class__.__name__})") from None


def _tensors_bytes(tensors: dict[str, torch.Tensor]) -> bytes:
    return st_save({k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()})


def _split_optimizer(name: str, opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """An optimizer's state_dict as (tensors for safetensors, the JSON-able rest)."""
    sd = opt.state_dict()
    tensors, scalars = {}, {}
    for idx, entry in sd["state"].items():
        for key, value in entry.items():
            if torch.is_tensor(value):
                tensors[f"opt.{name}.{idx}.{key}"] = value
            else:
                scalars[f"{idx}.{key}"] = value
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def _join_optimizer(name: str, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    prefix = f"opt.{name}."
    for key, value in tensors.items():
        if key.startswith(prefix):
            idx, field = key[len(prefix) :].split(".", 1)
            state.setdefault(int(idx), {})[field] = value
    for key, value in meta["scalars"].items():
        idx, field = key.split(".", 1)
        state.setdefault(int(idx), {})[field] = value
    return {"state": state, "param_groups": meta["param_groups"]}


def save_checkpoint(
    out: Path, model: GenerativeModel, optimizers: dict[str, torch.optim.Optimizer], step: int, **extra: Any
) -> None:
    """Weights, optimizer and RNG state at `step`, in two phases (see the module docstring)."""
    tensors, meta = {"rng.torch": torch.get_rng_state()}, {}
    if torch.cuda.is_available():
        tensors["rng.cuda"] = torch.cuda.get_rng_state()
    for name, opt in optimizers.items():
        t, meta[name] = _split_optimizer(name, opt)
        tensors.update(t)
    files = {MODEL: _tensors_bytes(model.state_dict()), STATE: _tensors_bytes(tensors)}
    for name, data in files.items():
        atomic_write_bytes(out / (name + PENDING), data)
    atomic_write_json(out / STATE_JSON, {
        "step": step,
        "optimizers": meta,
        "sha256": {name: sha256(out / (name + PENDING)) for name in files},
        **extra,
    })
    _promote(out, list(files))


def _promote(out: Path, names: list[str]) -> None:
    """Move committed pending weight files into place (a reader accepts either until then)."""
    for name in names:
        os.replace(out / (name + PENDING), out / name)


def read_state(run: str | Path) -> dict[str, Any]:
    """state.json, or a CheckpointError naming what is missing or broken."""
    path = Path(run) / STATE_JSON
    try:
        raw = json.loads(path.read_text())
        if not isinstance(raw, dict):
            raise ValueError("not a JSON object")
        return validate(_StateFile, raw).model_dump()
    except FileNotFoundError:
        raise CheckpointError(f"run folder {str(run)!r} has no checkpoint ({STATE_JSON} is missing)") from None
    except GausslabError as err:
        raise CheckpointError(f"{str(path)!r} is corrupt: {err}") from None
    except (ValueError, OSError):
        raise CheckpointError(f"{str(path)!r} is corrupt") from None


def _read_tensors(run: Path, name: str, state: dict[str, Any]) -> dict[str, torch.Tensor]:
    path, pending = run / name, run / (name + PENDING)
    if not path.is_file() and not pending.is_file():
        raise CheckpointError(f"run folder {str(run)!r} is missing {name}")
    want = state["sha256"].get(name)
    if not path.is_file() or sha256(path) != want:
        if not (pending.is_file() and sha256(pending) == want):  # not a save cut short after its commit
            raise CheckpointError(f"{str(path)!r} does not match the checksum in {STATE_JSON}: torn or edited file")
        path = pending
    try:
        return st_load(path.read_bytes())
    except (SafetensorError, ValueError) as err:
        raise CheckpointError(f"{str(path)!r} is not a valid safetensors file ({err})") from None


def load_weights(run: str | Path, model: GenerativeModel, state: dict[str, Any] | None = None) -> None:
    """Load model.safetensors of `run` into `model`, checked against the checksum in state.json.

    state: state.json when the caller has already read it.
    """
    run = Path(run)
    tensors = _read_tensors(run, MODEL, state or read_state(run))
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as err:
        first = str(err).splitlines()[1].strip() if len(str(err).splitlines()) > 1 else str(err)
        raise CheckpointError(f"{str(run / MODEL)!r} does not fit the model in {CONFIG}: {first}") from None


def load_training_state(run: Path, model: GenerativeModel, optimizers: dict[str, torch.optim.Optimizer]) -> dict:
    """Restore weights, optimizers and RNG from a run folder; returns state.json."""
    state = read_state(run)
    load_weights(run, model, state)
    tensors = _read_tensors(run, STATE, state)
    for name, opt in optimizers.items():
        if name not in state["optimizers"]:
            raise CheckpointError(f"checkpoint in {str(run)!r} has no state for optimizer {name!r}")
        _check_groups(run, name, opt.param_groups, state["optimizers"][name]["param_groups"])
        try:
            opt.load_state_dict(_join_optimizer(name, tensors, state["optimizers"][name]))
        except (ValueError, KeyError, TypeError, RuntimeError) as err:
            raise CheckpointError(f"the optimizer state in {str(run)!r} does not fit optimizer {name!r}: "
                                  f"{str(err).splitlines()[0] if str(err) else type(err).__name__}") from None
    if "rng.torch" not in tensors:
        raise CheckpointError(f"{str(run / STATE)!r} holds no RNG state")
    torch.set_rng_state(tensors["rng.torch"])
    if "rng.cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["rng.cuda"])
    return state


def _check_groups(run: Path, name: str, fresh: list[dict[str, Any]], saved: list[dict[str, Any]]) -> None:
    """Each saved param group has the settings of a fresh optimizer, with values of the same JSON kind
    (an edited state.json must fail here, not as a TypeError inside the first optimizer step)."""
    for group, old in zip(fresh, saved):
        for key, value in group.items():
            if key != "params" and _kind(old.get(key, value)) != _kind(value):
                raise CheckpointError(f"{str(run / STATE_JSON)!r} is corrupt: optimizer {name!r} setting {key!r} "
                                      f"is {brief(old[key])}, not a {_kind(value)}")


def _kind(value: Any) -> str:
    """The JSON kind of a value (bool before number: a bool is an int in Python)."""
    kinds = (("bool", bool), ("number", (int, float)), ("list", (list, tuple)), ("null", type(None)))
    return next((kind for kind, types in kinds if isinstance(value, types)), type(value).__name__)


def load(run: str | Path, device: str | torch.device = "cpu") -> GenerativeModel:
    """The trained model of a run folder, rebuilt from its config.json and weights alone."""
    info = read_run_info(run)
    model = build_model(info.config.model, info.shape)
    load_weights(run, model)
    return model.to(device).eval()

