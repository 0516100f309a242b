"""Models fitted through the one trainer by library code: a quiet fixed-budget fit, a Gaussian mixture,
and a sweep over the mixture size K.

These sit above the trainer (a model only defines its step), so samplers and the study can fit
models without the model layer calling the training loop.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from gausslab.core.config import validate
from gausslab.core.errors import DataError
from gausslab.data import Dataset
from gausslab.data.discrete import model_view
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
    valid_log_likelihood: float | None = None  # mean nats per validation example (None without that split)
    test_log_likelihoods: Tensor | None = field(default=None, repr=False)  # [M] float64, per test example
    model: GMM | None = field(default=None, repr=False)  # the fitted mixture


def k_sweep(
    data: Dataset, ks: list[int], covariance: str = "full", steps: int = 100, seed: int = 0, **config: object
) -> list[KSweepPoint]:
    """Held-out log-likelihoods, size and fit time of GMMs with each K in `ks`: what density fits cost as D grows.

    Every split is scored as the model sees it (`data.discrete`: discrete images dequantized), the
    training split as the trainer's seeded view, the held-out splits as `evaluate`'s, so the numbers
    are those of the one bits/dim convention.
    """
    points = []
    for k in ks:
        start = time.perf_counter()
        model = fit_gmm(data, steps, seed, components=k, covariance=covariance, **config)
        seconds = time.perf_counter() - start
        with torch.no_grad():
            test_ll = model.log_prob(_seeded_view(model, data.test, data.levels, seed).double())
            valid_ll = (float(model.log_prob(_seeded_view(model, data.valid, data.levels, seed).double()).mean())
                        if data.valid is not None else None)
            bic = float(model.bic(_seeded_view(model, data.train, data.levels, seed)))
        points.append(KSweepPoint(k, float(test_ll.mean()), model.n_parameters, seconds, bic, valid_ll, test_ll,
                                  model))
    return points


def select_k(points: list[KSweepPoint]) -> KSweepPoint:
    """The mixture size with the highest validation log-likelihood (ties: the smaller K); never the test split."""
    if any(p.valid_log_likelihood is None for p in points):
        raise DataError("choosing K needs a validation split; set data.valid_fraction > 0")
    return max(points, key=lambda p: (p.valid_log_likelihood, -p.k))


def _seeded_view(model: GenerativeModel, x: torch.Tensor, levels: int | None, seed: int) -> torch.Tensor:
    """x as `model` is fitted and scored on it (`data.discrete.model_view`), from a generator on its device seeded
    with `seed`, as the trainer's full-batch view and `evaluate`'s test view are."""
    x = x.to(model.device)
    return model_view(x, model.data_transform, levels, torch.Generator(model.device).manual_seed(seed))
