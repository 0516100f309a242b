"""`GaussianMixture`: scikit-learn's estimator surface over the EM mixture of `models.gmm`.

Parameters have scikit-learn's names and meanings (`sklearn.mixture.GaussianMixture`, full and
diagonal covariances). The fit is the GMM model's own EM, run by the one trainer (`train.fit`),
one iteration per step, stopping once an iteration gains less than `tol` in mean log-likelihood.
numpy arrays in give numpy arrays out; torch tensors in give tensors out. All arithmetic is float64.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from pydantic import Field
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from torch import Tensor

from gausslab.core.config import StrictModel, validate
from gausslab.models.gmm import Covariance, GMMConfig, MixtureStart
from gausslab.training.config import TrainConfig
from gausslab.data import Dataset
from gausslab.core.errors import ConfigError, DataError
from gausslab.models.gmm import GMM
from gausslab.training.loop import fit

Array = np.ndarray | Tensor


class GaussianMixtureConfig(StrictModel):
    """The validated scalar parameters of `GaussianMixture` (its constructor arguments)."""

    n_components: int = Field(1, gt=0, description="Mixture components K.")
    covariance_type: Covariance = Field(
        "full", description="A full [D, D] or diagonal covariance per component.")
    tol: float = Field(1e-3, ge=0, description="Stop once an EM iteration gains less mean log-likelihood than this.")
    reg_covar: float = Field(1e-6, gt=0, description="Added to every covariance diagonal, keeping it invertible.")
    max_iter: int = Field(100, gt=0, description="EM iterations at most, per initialisation.")
    n_init: int = Field(1, gt=0, description="Initialisations; the one with the best log-likelihood is kept.")
    init_params: MixtureStart = Field(
        "k-means++", description="k-means++ seeds as scikit-learn ('k-means++': each component starts from its seed "
        "point alone) or with every example given to its nearest seed ('nearest-seed').")
    verbose: int = Field(0, ge=0, description="Above 0: a progress bar per initialisation.")


@dataclass
class _Fit:
    model: GMM
    steps: int
    log_likelihood: float  # mean over the training rows, under the fitted parameters


class GaussianMixture(DensityMixin, BaseEstimator):
    """A Gaussian mixture fitted by EM, with scikit-learn's surface: fit, score_samples, score, predict,
    predict_proba, sample, bic, aic; fitted weights_, means_, covariances_, converged_, n_iter_, lower_bound_.

    weights_init [K], means_init [K, D], precisions_init ([K, D, D] full, [K, D] diag): start EM from
    these instead of k-means++ (any subset; the rest come from k-means++). random_state: an int,
    a numpy RandomState or None, as scikit-learn. Fitted: n_iter_ counts EM iterations including the
    last, which gained less than `tol` and left the parameters as they were; lower_bound_ is the mean
    log-likelihood of X under the fitted parameters; `model_` is the fitted `models.GMM`.
    """

    def __init__(
        self,
        n_components: int = 1,
        *,
        covariance_type: str = "full",
        tol: float = 1e-3,
        reg_covar: float = 1e-6,
        max_iter: int = 100,
        n_init: int = 1,
        init_params: str = "k-means++",
        weights_init: Array | None = None,
        means_init: Array | None = None,
        precisions_init: Array | None = None,
        random_state: Any = None,
        verbose: int = 0,
    ):
        self.n_components, self.covariance_type, self.tol = n_components, covariance_type, tol
        self.reg_covar, self.max_iter, self.n_init, self.init_params = reg_covar, max_iter, n_init, init_params
        self.weights_init, self.means_init, self.precisions_init = weights_init, means_init, precisions_init
        self.random_state, self.verbose = random_state, verbose

    # --- fitting ---------------------------------------------------------------------------------

    def fit(self, X: Array, y: Any = None) -> GaussianMixture:
        """Fit by EM, `n_init` times from seeded starts, keeping the fit of highest mean log-likelihood."""
        x, _ = _rows(X)
        fields = GaussianMixtureConfig.model_fields
        params = validate(GaussianMixtureConfig, {name: getattr(self, name) for name in fields})
        if params.n_components > x.shape[0]:
            raise DataError(f"n_components={params.n_components} exceeds the {x.shape[0]} samples in X; "
                            f"use at most {x.shape[0]}")
        seeds = _rng(self.random_state).randint(np.iinfo(np.int32).max, size=params.n_init)
        best = max((self._fit_once(x, params, int(seed)) for seed in seeds), key=lambda f: f.log_likelihood)
        self.model_, self.n_iter_, self.lower_bound_ = best.model, best.steps, best.log_likelihood
        self.converged_, self.n_features_in_ = best.model.converged(), x.shape[1]
        self.weights_, self.means_, self.covariances_ = (
            getattr(best.model, name).cpu().numpy().copy() for name in ("weights", "means", "covariances"))
        if not self.converged_:
            warnings.warn(f"EM did not converge in max_iter={params.max_iter} iterations (tol={params.tol}); "
                          "raise max_iter or tol", ConvergenceWarning, stacklevel=2)
        return self

    def _fit_once(self, x: Tensor, params: GaussianMixtureConfig, seed: int) -> _Fit:
        config = GMMConfig(components=params.n_components, covariance=params.covariance_type, tol=params.tol,
                           reg_covar=params.reg_covar, init_params=params.init_params)
        model = GMM(config, (x.shape[1],))
        train = TrainConfig(epochs=params.max_iter, seed=seed, log_every=params.max_iter,
                            checkpoint_every=params.max_iter)
        self._start(model, x, seed)
        result = fit(model, Dataset("X", x, x[:1], "vector"), train, progress=params.verbose > 0)
        with torch.no_grad():
            log_likelihood = float(model.log_prob(x.to(model.device)).mean())
        return _Fit(model, result.steps, log_likelihood)

    def _start(self, model: GMM, x: Tensor, seed: int) -> None:
        """weights_init / means_init / precisions_init, the rest from the seeded k-means++ start (as scikit-learn)."""
        given = {"weights": self.weights_init, "means": self.means_init, "precisions": self.precisions_init}
        arrays = {name: _rows(value, f"{name}_init", dims=None)[0] for name, value in given.items()
                  if value is not None}
        if not arrays:
            return
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model.initialise(model.prepare(x))
        if "precisions" in arrays:
            arrays["covariances"] = _inverse(arrays.pop("precisions"), model.config.covariance)
        model.set_parameters(**arrays)

    def fit_predict(self, X: Array, y: Any = None) -> Array:
        """Fit on X, then the most probable component of each of its samples [N]: `fit(X).predict(X)`."""
        return self.fit(X).predict(X)

    # --- fitted model ----------------------------------------------------------------------------

    def score_samples(self, X: Array) -> Array:
        """log p(x) per sample [N]."""
        x, numpy = self._check(X)
        with torch.no_grad():
            return _out(self.model_.log_prob(x), numpy, X)

    def score(self, X: Array, y: Any = None) -> float:
        """Mean log-likelihood per sample."""
        x, _ = self._check(X)
        with torch.no_grad():
            return float(self.model_.log_prob(x).mean())

    def predict_proba(self, X: Array) -> Array:
        """p(component | x) [N, K]."""
        x, numpy = self._check(X)
        with torch.no_grad():
            return _out(self.model_.posterior(x), numpy, X)

    def predict(self, X: Array) -> Array:
        """The most probable component of each sample [N]."""
        x, numpy = self._check(X)
        with torch.no_grad():
            return _out(self.model_.posterior(x).argmax(1), numpy, X)

    def sample(self, n_samples: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """n_samples draws [n, D] and their components [n], grouped by component as scikit-learn's;
        seeded by random_state (the same draws on every call with an int)."""
        if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
            raise ConfigError(f"n_samples={n_samples!r} is not allowed; it must be a positive integer")
        self._fitted()
        seed = int(_rng(self.random_state).randint(np.iinfo(np.int32).max))
        g = torch.Generator(self.model_.device).manual_seed(seed)
        with torch.no_grad():
            x, y = self.model_.draw(int(n_samples), generator=g)
        order = torch.sort(y, stable=True).indices
        return x[order].cpu().numpy(), y[order].cpu().numpy()

    def bic(self, X: Array) -> float:
        """Bayesian information criterion -2 log L + p ln N (Schwarz 1978); lower is better."""
        n = _rows(X)[0].shape[0]
        return -2 * self.score(X) * n + self.model_.n_parameters * math.log(n)

    def aic(self, X: Array) -> float:
        """Akaike information criterion -2 log L + 2p (Akaike 1974); lower is better."""
        return -2 * self.score(X) * _rows(X)[0].shape[0] + 2 * self.model_.n_parameters

    def _fitted(self) -> GMM:
        if not hasattr(self, "model_"):
            raise ConfigError("this GaussianMixture is not fitted yet; call fit(X) first")
        return self.model_

    def _check(self, X: Array) -> tuple[Tensor, bool]:
        model = self._fitted()
        x, numpy = _rows(X)
        if x.shape[1] != self.n_features_in_:
            raise DataError(f"X has {x.shape[1]} features, but this GaussianMixture was fitted on "
                            f"{self.n_features_in_}")
        return x.to(model.device), numpy


def _rows(X: Array, what: str = "X", dims: int | None = 2) -> tuple[Tensor, bool]:
    """X as a finite float64 tensor (with `dims` dimensions) on its device, and whether it came as numpy."""
    numpy = not torch.is_tensor(X)
    try:
        array = np.asarray(X) if numpy else X.detach()
    except (TypeError, ValueError) as err:
        raise DataError(f"{what} is not a numeric array ({type(err).__name__}: {err})") from None
    kind = array.dtype.kind if numpy else "c" if array.is_complex() else "f"
    if kind not in "biuf":
        raise DataError(f"{what} must hold real numbers; got dtype {array.dtype}")
    t = torch.as_tensor(array, dtype=torch.float64)
    if dims is not None and t.dim() != dims:
        hint = " (reshape 1-D data with X.reshape(-1, 1))" if t.dim() == 1 else ""
        raise DataError(f"{what} must be a 2-D array [n_samples, n_features]; got shape {list(t.shape)}{hint}")
    if not torch.isfinite(t).all():
        raise DataError(f"{what} contains NaN or infinite values")
    return t, numpy


def _out(t: Tensor, numpy: bool, like: Array) -> Array:
    """numpy for numpy input, else a tensor on the input's device."""
    return t.cpu().numpy() if numpy else t.to(like.device)


def _inverse(precisions: Tensor, covariance: str) -> Tensor:
    """Covariances from scikit-learn's precisions_init: matrix inverses (full) or reciprocals (diag)."""
    if covariance == "diag":
        return 1 / precisions
    try:
        return torch.linalg.inv(precisions)
    except (torch.linalg.LinAlgError, RuntimeError):
        raise ConfigError(f"precisions_init of shape {list(precisions.shape)} must be invertible [K, D, D] "
                          "matrices for covariance_type='full'") from None


def _rng(random_state: Any) -> np.random.RandomState:
    try:
        return check_random_state(random_state)
    except ValueError:
        raise ConfigError(f"random_state={random_state!r} is not allowed; use an int, a numpy RandomState "
                          "or None") from None


__all__ = ["GaussianMixture", "GaussianMixtureConfig"]
