"""gausslab: generative models on Gaussian bases (VAEs, GANs, Gaussian mixtures) and what the base costs.

The public names below are imported on first use (PEP 562), so `import gausslab` and the
`gausslab` command's `--help` do not pay for torch.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING

from gausslab.version import __version__

# public name -> the module that defines it
_EXPORTS = {
    "load": "gausslab.checkpoint",
    **dict.fromkeys(["DataConfig", "GANConfig", "GMMConfig", "RunConfig", "TrainConfig", "VAEConfig"], "gausslab.config"),
    **dict.fromkeys(["Dataset", "load_dataset"], "gausslab.data"),
    **dict.fromkeys(["Evaluation", "evaluate"], "gausslab.evaluate"),
    **dict.fromkeys(["CheckpointError", "ConfigError", "DataError", "GausslabError", "TrainingError"],
                    "gausslab.errors"),
    **dict.fromkeys(["MODELS", "build_model"], "gausslab.models"),
    **dict.fromkeys(["FitResult", "fit"], "gausslab.train"),
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'gausslab' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


class _Package(types.ModuleType):
    """`gausslab.evaluate` stays the function: importing the submodule of that name must not replace it."""

    def __setattr__(self, name: str, value: object) -> None:
        if name in _EXPORTS and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

if TYPE_CHECKING:
    from gausslab.checkpoint import load
    from gausslab.config import DataConfig, GANConfig, GMMConfig, RunConfig, TrainConfig, VAEConfig
    from gausslab.data import Dataset, load_dataset
    from gausslab.errors import CheckpointError, ConfigError, DataError, GausslabError, TrainingError
    from gausslab.evaluate import Evaluation, evaluate
    from gausslab.models import MODELS, build_model
    from gausslab.train import FitResult, fit
