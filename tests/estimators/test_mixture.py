"""`GaussianMixture` against scikit-learn's: same start, same log-likelihoods to 1e-6; its errors and sampling."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import sklearn.mixture
import torch
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

import gausslab as gl
import gausslab.models.gmm as gmm_module
from gausslab.core.errors import ConfigError, DataError

COVARIANCES = ["full", "diag"]


def blobs(n: int = 150, seed: int = 0) -> np.ndarray:
    """Three overlapping, correlated 3-D clusters [3n, 3] (overlap keeps EM moving for many iterations)."""
    rng = np.random.default_rng(seed)
    mix = np.array([[1.0, 0.5, 0.0], [0.0, 0.7, 0.3], [0.2, 0.0, 0.4]])
    return np.concatenate([rng.normal(size=(n, 3)) @ mix + c for c in ([0, 0, 0], [2, 1, -1], [-1.5, 1.5, 0.5])])


def start(x: np.ndarray, covariance: str) -> dict[str, np.ndarray]:
    """One shared start: three data rows as means, equal weights, unit precisions."""
    precisions = np.stack([np.eye(3)] * 3) if covariance == "full" else np.ones((3, 3))
    return {"weights_init": np.full(3, 1 / 3), "means_init": x[[0, 200, 400]], "precisions_init": precisions}


def both(covariance: str, **options) -> tuple[gl.GaussianMixture, sklearn.mixture.GaussianMixture]:
    x = blobs()
    ours = gl.GaussianMixture(3, covariance_type=covariance, **options)
    theirs = sklearn.mixture.GaussianMixture(3, covariance_type=covariance, **options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # tol=0: neither stops early
        return ours.fit(x), theirs.fit(x)


@pytest.mark.parametrize("covariance", COVARIANCES)
def test_same_start_gives_scikit_learns_fit(covariance):
    ours, theirs = both(covariance, tol=0.0, max_iter=25, **start(blobs(), covariance))
    held_out = blobs(40, seed=1)
    for x in (blobs(), held_out):
        assert np.abs(ours.score_samples(x) - theirs.score_samples(x)).max() < 1e-6
        assert ours.score(x) == pytest.approx(theirs.score(x), abs=1e-6)
        assert np.abs(ours.predict_proba(x) - theirs.predict_proba(x)).max() < 1e-6
        assert np.array_equal(ours.predict(x), theirs.predict(x))
        assert ours.bic(x) == pytest.approx(theirs.bic(x), abs=1e-3)
        assert ours.aic(x) == pytest.approx(theirs.aic(x), abs=1e-3)
    for name in ("weights_", "means_", "covariances_"):
        np.testing.assert_allclose(getattr(ours, name), getattr(theirs, name), atol=1e-8)
    assert ours.n_iter_ == theirs.n_iter_ == 25 and not ours.converged_


@pytest.mark.parametrize("covariance", COVARIANCES)
def test_k_means_plus_plus_starts_as_scikit_learn_from_the_same_seeds(covariance, monkeypatch):
    """init_params='k-means++': each component's responsibilities on its seed point alone, as scikit-learn."""
    seeds = np.array([5, 170, 333])
    monkeypatch.setattr(gmm_module, "kmeans_plusplus", lambda x, k: torch.as_tensor(seeds))
    monkeypatch.setattr(sklearn.mixture._base, "kmeans_plusplus", lambda x, k, random_state: (x[seeds], seeds))
    ours, theirs = both(covariance, tol=0.0, max_iter=4, init_params="k-means++")
    assert np.abs(ours.score_samples(blobs()) - theirs.score_samples(blobs())).max() < 1e-6


def test_stops_at_the_first_iteration_below_tol():
    x = blobs()
    fitted = gl.GaussianMixture(3, tol=1e-3, max_iter=500, random_state=0).fit(x)
    reference = gmm_module.GMM(gl.GMMConfig(components=3, tol=0.0, init_params="k-means++"), (3,))
    torch.manual_seed(np.random.RandomState(0).randint(np.iinfo(np.int32).max))  # the seed fit draws for n_init=1
    logliks = [float(reference.em_step(torch.as_tensor(x))) for _ in range(500)]
    first_small = next(i for i in range(1, 500) if logliks[i] - logliks[i - 1] < 1e-3)
    assert fitted.converged_ and fitted.n_iter_ == first_small + 1 < 500


def test_best_of_n_init_and_estimator_protocol(monkeypatch):
    x, seen = blobs(), []
    fit_once = gl.GaussianMixture._fit_once

    def spy(self, *args):
        seen.append(fit_once(self, *args))
        return seen[-1]

    monkeypatch.setattr(gl.GaussianMixture, "_fit_once", spy)
    best = gl.GaussianMixture(5, n_init=4, random_state=0).fit(x)
    assert len(seen) == 4 and len({f.log_likelihood for f in seen}) > 1  # the starts differ
    assert best.lower_bound_ == max(f.log_likelihood for f in seen) == pytest.approx(best.score(x), abs=1e-12)
    copy = clone(best)
    assert copy.get_params() == best.get_params() and not hasattr(copy, "model_")


def test_tensors_in_give_tensors_out_and_numpy_numpy():
    x = blobs()
    model = gl.GaussianMixture(2, covariance_type="diag", random_state=0).fit(torch.as_tensor(x, dtype=torch.float32))
    as_numpy, as_tensor = model.score_samples(x), model.score_samples(torch.as_tensor(x))
    assert isinstance(as_numpy, np.ndarray) and torch.is_tensor(as_tensor)
    np.testing.assert_array_equal(as_numpy, as_tensor.numpy())
    assert model.predict(torch.as_tensor(x)).dtype == torch.int64 and model.predict_proba(x).shape == (450, 2)


def test_sample_shapes_grouping_and_seeding():
    model = gl.GaussianMixture(3, random_state=7).fit(blobs())
    x, y = model.sample(200)
    assert x.shape == (200, 3) and y.shape == (200,) and set(np.unique(y)) <= {0, 1, 2}
    assert np.all(np.diff(y) >= 0)  # grouped by component, as scikit-learn
    again, _ = model.sample(200)
    np.testing.assert_array_equal(x, again)
    model.set_params(random_state=8)
    assert not np.array_equal(model.sample(200)[0], x)


@pytest.mark.parametrize(("x", "options", "error", "match"), [
    (np.zeros((4, 2)), {"n_components": 5}, DataError, "n_components=5 exceeds the 4 samples"),
    (np.zeros(10), {}, DataError, r"2-D array \[n_samples, n_features\]; got shape \[10\]"),
    (np.array([[0.0, 1.0], [np.nan, 2.0]]), {}, DataError, "NaN"),
    (np.array([["a", "b"]]), {}, DataError, "real numbers"),
    (np.zeros((4, 2)), {"n_components": 0}, ConfigError, "n_components=0"),
    (np.zeros((4, 2)), {"covariance_type": "tied"}, ConfigError, "covariance_type='tied' is not allowed"),
    (np.zeros((4, 2)), {"random_state": "x"}, ConfigError, "random_state='x'"),
    (np.zeros((4, 2)), {"means_init": np.zeros((3, 2))}, ConfigError, r"initial means must have shape \[1, 2\]"),
])
def test_bad_input_is_one_line(x, options, error, match):
    with pytest.raises(error, match=match) as info:
        gl.GaussianMixture(**options).fit(x)
    assert "\n" not in str(info.value)


def test_unfitted_and_wrong_width():
    model = gl.GaussianMixture()
    with pytest.raises(ConfigError, match="not fitted yet"):
        model.predict(blobs())
    model.fit(blobs())
    with pytest.raises(DataError, match="X has 2 features, but this GaussianMixture was fitted on 3"):
        model.score(np.zeros((5, 2)))
