"""gausslab: generative models on Gaussian bases (VAEs, GANs, Gaussian mixtures) and what the base costs.

The public names below are imported on first use (PEP 562), so `import gausslab` and the
`gausslab` command's `--help` do not pay for torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from gausslab.version import __version__

# public name -> the module that defines it
_EXPORTS = {
    **dict.fromkeys(["CheckpointError", "ConfigError", "DataError", "GausslabError", "TrainingError"],
                    "gausslab.core.errors"),
    **dict.fromkeys(["DataConfig", "Dataset", "load_dataset"], "gausslab.data"),
    **dict.fromkeys(["MODELS", "FlowConfig", "GANConfig", "GMMConfig", "HistogramConfig", "VAEConfig", "build_model"],
                    "gausslab.models"),
    "TrainConfig": "gausslab.training.config",
    "RunConfig": "gausslab.training.run_config",
    **dict.fromkeys(["FitResult", "fit"], "gausslab.training.loop"),
    "load": "gausslab.training.checkpoint",
    **dict.fromkeys(["Evaluation", "evaluate"], "gausslab.evaluation.evaluate"),
    "GaussianMixture": "gausslab.estimators.mixture",
    "network": "gausslab.blocks.usernets",
}
_SUBPACKAGES = {"samplers"}  # `gl.samplers.ExPostSampler`, ...

__all__ = sorted([*_EXPORTS, *_SUBPACKAGES, "__version__"])


def __getattr__(name: str):
    if name in _SUBPACKAGES:
        return importlib.import_module(f"gausslab.{name}")
    if name not in _EXPORTS:
        raise AttributeError(f"module 'gausslab' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS, *_SUBPACKAGES})


if TYPE_CHECKING:
    from gausslab import samplers
    from gausslab.core.errors import CheckpointError, ConfigError, DataError, GausslabError, TrainingError
    from gausslab.blocks.usernets import network
    from gausslab.data import DataConfig, Dataset, load_dataset
    from gausslab.estimators.mixture import GaussianMixture
    from gausslab.evaluation.evaluate import Evaluation, evaluate
    from gausslab.models import MODELS, FlowConfig, GANConfig, GMMConfig, HistogramConfig, VAEConfig, build_model
    from gausslab.training.checkpoint import load
    from gausslab.training.config import TrainConfig
    from gausslab.training.loop import FitResult, fit
    from gausslab.training.run_config import RunConfig
