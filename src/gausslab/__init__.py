"""gausslab: generative models on Gaussian bases (VAEs, GANs, Gaussian mixtures) and what the base costs."""

from gausslab.version import __version__
from gausslab.checkpoint import load
from gausslab.config import DataConfig, FlowConfig, GANConfig, GMMConfig, HistogramConfig, RunConfig, TrainConfig, VAEConfig
from gausslab.data import Dataset, load_dataset
from gausslab.evaluate import Evaluation, evaluate
from gausslab.errors import CheckpointError, ConfigError, DataError, GausslabError, TrainingError
from gausslab.models import MODELS, build_model
from gausslab.train import FitResult, fit

__all__ = [
    "MODELS", "CheckpointError", "ConfigError", "DataConfig", "DataError", "Dataset", "FitResult", "FlowConfig",
    "GANConfig", "GMMConfig", "HistogramConfig", "GausslabError", "RunConfig", "TrainConfig", "TrainingError", "VAEConfig", "build_model", "fit", "Evaluation", "evaluate",
    "load", "load_dataset",
]
