"""gausslab: generative models on Gaussian bases (VAEs, GANs, Gaussian mixtures) and what the base costs."""

from gausslab.core.errors import CheckpointError, ConfigError, DataError, GausslabError, TrainingError
from gausslab.data import DataConfig, Dataset, load_dataset
from gausslab import samplers
from gausslab.evaluation.evaluate import Evaluation, evaluate
from gausslab.models import MODELS, GANConfig, GMMConfig, VAEConfig, build_model
from gausslab.training.checkpoint import load
from gausslab.training.config import TrainConfig
from gausslab.training.loop import FitResult, fit
from gausslab.training.run_config import RunConfig
from gausslab.version import __version__

__all__ = [
    "MODELS", "CheckpointError", "ConfigError", "DataConfig", "DataError", "Dataset", "Evaluation", "FitResult",
    "GANConfig", "GMMConfig", "GausslabError", "RunConfig", "TrainConfig", "TrainingError", "VAEConfig",
    "__version__", "build_model", "evaluate", "fit", "load", "load_dataset", "samplers",
]
