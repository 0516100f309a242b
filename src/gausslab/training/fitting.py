"""Models fitted through the one trainer by library code: a quiet fixed-budget fit, a Gaussian mixture,
and a sweep over the mixture size K.

These sit above the trainer (a model only defines its step), so samplers and the study can fit
models without the model layer calling the training loop.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import torch

from gausslab.core.config import validate
from gausslab.data import Dataset
from gausslab.models.base import GenerativeModel
from gausslab.models.gmm import GMM, GMMConfig
from gausslab.training.config import TrainConfig
from gausslab.training.loop import fit


def fit_steps(model: GenerativeModel, data: Dataset, steps: int, seed: int = 0, device: str = "auto",
              out: str | Path | None = None, force: bool = False, **train: object) -> GenerativeModel:
    """`model` trained on data.train for `steps` steps by the one trainer, without progress bars.

    out: write the run folder there (`checkpoint.load` rebuilds the model from it). force: `out` may
    already hold other files (kept; see `fit`). train: more TrainConfig fields (batch_size, lr, ...).
    """
    config = TrainConfig(epochs=steps, steps=steps, seed=seed, log_every=steps, checkpoint_every=steps, device=device,
                         **train)
    fit(model, data, config, out, progress=False, force=force)
    return model


def fit_gmm(data: Dataset, steps: int = 100, seed: int = 0, device: str = "auto", out: str | Path | None = None,
            **config: object) -> GMM:
    """A GMM (GMMConfig fields as keywords) trained on data.train for `steps` EM iterations by the trainer;
    with `out`, saved there as a run folder."""
    model = GMM(validate(GMMConfig, {"kind": "gmm", **config}), data.shape)
    return fit_steps(model, data, steps, seed, device, out)


@dataclass
class KSweepPoint:
    """One mixture size of `k_sweep`."""

    k: int
    test_log_likelihood: float  # mean nats per test example
    n_parameters: int
    fit_seconds: float
    bic: float  # on the training set


def k_sweep(
    data: Dataset, ks: list[int], covariance: str = "full", steps: int = 100, seed: int = 0, **config: object
) -> list[KSweepPoint]:
    """Test log-likelihood, size and fit time of GMMs with each K in `ks`: what density fits cost as D grows."""
    points = []
    for k in ks:
        start = time.perf_counter()
        model = fit_gmm(data, steps, seed, components=k, covariance=covariance, **config)
        seconds = time.perf_counter() - start
        with torch.no_grad():
            test_ll = float(model.log_prob(data.test.double()).mean())
            bic = float(model.bic(data.train))
        points.append(KSweepPoint(k, test_ll, model.n_parameters, seconds, bic))
    return points
