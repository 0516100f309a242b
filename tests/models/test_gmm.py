"""The EM Gaussian mixture: exact densities (scipy), monotone EM, sklearn-equal updates, the shared suite."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from scipy import stats
from scipy.special import logsumexp
from sklearn.mixture import GaussianMixture
from typer.testing import CliRunner

import gausslab as gl
from gausslab.cli import app
from gausslab.core.errors import DataError
from gausslab.models import GMM, build_model
from gausslab.training.fitting import fit_gmm, k_sweep
from tests.conftest import tiny_images, tiny_vectors
from tests.models.suite import check_model

COVARIANCES = ["full", "diag"]


def blobs(n: int = 300, seed: int = 0) -> torch.Tensor:
    """Three correlated 3-D clusters, float64 [n, 3]."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.tensor([[0.0, 0.0, 0.0], [4.0, 1.0, -2.0], [-3.0, 3.0, 1.0]], dtype=torch.float64)
    mix = torch.tensor([[1.0, 0.5, 0.0], [0.0, 0.7, 0.3], [0.2, 0.0, 0.4]], dtype=torch.float64)
    x = torch.randn(n, 3, generator=g, dtype=torch.float64) @ mix
    return x + centres[torch.arange(n) % 3]


def fitted(covariance: str, iterations: int = 5, k: int = 3) -> tuple[GMM, torch.Tensor]:
    x = blobs()
    model = build_model("gmm", (3,), components=k, covariance=covariance, tol=0.0)
    torch.manual_seed(0)
    for _ in range(iterations):
        model.em_step(x)
    return model, x


def scipy_log_prob(model: GMM, x: torch.Tensor) -> np.ndarray:
    covs = model.covariances.numpy()
    if model.config.covariance == "diag":
        covs = np.stack([np.diag(c) for c in covs])
    per_component = np.stack([
        stats.multivariate_normal(mean=m, cov=c).logpdf(x.numpy()) for m, c in zip(model.means.numpy(), covs)
    ], axis=1)
    return logsumexp(per_component + np.log(model.weights.numpy()), axis=1)


@pytest.mark.parametrize("covariance", COVARIANCES)
def test_log_prob_matches_scipy(covariance):
    model, x = fitted(covariance)
    torch.testing.assert_close(model.log_prob(x), torch.from_numpy(scipy_log_prob(model, x)), atol=1e-5, rtol=0)


@pytest.mark.parametrize("covariance", COVARIANCES)
def test_em_never_lowers_the_training_log_likelihood(covariance):
    x = blobs()
    model = build_model("gmm", (3,), components=4, covariance=covariance, tol=0.0)
    torch.manual_seed(1)
    logliks = [float(model.em_step(x)) for _ in range(40)]
    steps = np.diff(logliks)
    assert (steps >= -1e-10).all(), steps.min()
    assert logliks[-1] > logliks[0] + 1e-2


def five_em_steps_each(model, x: torch.Tensor, covariance: str, precisions: np.ndarray) -> GaussianMixture:
    """scikit-learn's mixture started from `model`'s parameters (`precisions` in scikit-learn's form for
    `covariance`), then 5 EM iterations of each; the fitted reference."""
    reference = GaussianMixture(len(model.weights), covariance_type=covariance, tol=0.0, max_iter=5,
                                reg_covar=model.config.reg_covar, weights_init=model.weights.numpy(),
                                means_init=model.means.numpy(), precisions_init=precisions)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "did not converge": max_iter is deliberately small
        reference.fit(x.numpy())
    for _ in range(5):
        model.em_step(x)
    return reference


@pytest.mark.parametrize("covariance", COVARIANCES)
def test_em_iterations_equal_scikit_learn_from_the_same_start(covariance):
    """From the same parameters, 5 of our EM iterations give scikit-learn's parameters."""
    model, x = fitted(covariance, iterations=1)
    start = model.covariances.numpy()
    reference = five_em_steps_each(model, x, covariance, np.linalg.inv(start) if covariance == "full" else 1 / start)
    np.testing.assert_allclose(model.weights.numpy(), reference.weights_, atol=1e-8)
    np.testing.assert_allclose(model.means.numpy(), reference.means_, atol=1e-8)
    np.testing.assert_allclose(model.covariances.numpy(), reference.covariances_, atol=1e-8)


@pytest.mark.parametrize("covariance", COVARIANCES)
def test_sample_moments_match_the_mixture(covariance):
    model, _ = fitted(covariance)
    w, mu = model.weights, model.means
    covs = model.covariances if covariance == "full" else torch.diag_embed(model.covariances)
    mean = w @ mu
    second = (w.view(-1, 1, 1) * (covs + mu.unsqueeze(2) * mu.unsqueeze(1))).sum(0)
    s = model.sample(200_000, generator=torch.Generator().manual_seed(0)).double()
    assert s.shape == (200_000, 3)
    torch.testing.assert_close(s.mean(0), mean, atol=0.03, rtol=0)
    torch.testing.assert_close(torch.cov(s.T), second - torch.outer(mean, mean), atol=0.08, rtol=0.02)


@pytest.mark.parametrize("covariance", COVARIANCES)
def test_bic_and_parameter_count_match_scikit_learn(covariance):
    model, x = fitted(covariance)
    reference = GaussianMixture(3, covariance_type=covariance)
    reference.means_ = model.means.numpy()
    assert model.n_parameters == reference._n_parameters()
    expected = -2 * scipy_log_prob(model, x).sum() + model.n_parameters * np.log(len(x))
    assert float(model.bic(x)) == pytest.approx(expected, rel=1e-9)


def test_converged_mixture_stops_updating():
    x = blobs()
    model = build_model("gmm", (3,), components=3, tol=1e-3)
    torch.manual_seed(0)
    for _ in range(200):
        model.em_step(x)
    frozen = {k: v.clone() for k, v in model.state_dict().items()}
    model.em_step(x)
    for k, v in model.state_dict().items():
        assert torch.equal(v, frozen[k]), k


def test_more_components_than_examples_is_a_data_error():
    model = build_model("gmm", (3,), components=50)
    with pytest.raises(DataError, match="components=50"):
        model.em_step(blobs(20))


def test_images_are_flattened_and_samples_reshaped():
    data = tiny_images()
    model = build_model("gmm", data, components=2, covariance="diag", reg_covar=1e-2)
    torch.manual_seed(0)
    model.em_step(data.train)
    assert model.log_prob(data.test).shape == (len(data.test),)
    assert model.sample(3, generator=torch.Generator().manual_seed(0)).shape == (3, 1, 8, 8)


# Not full covariance on 32 images of 64 pixels: there k-means++ already lands on EM's fixed point
# (each point's responsibility is exactly 0 or 1), so one step cannot lower the loss.
@pytest.mark.parametrize(
    ("make_data", "covariance"), [(tiny_vectors, "full"), (tiny_vectors, "diag"), (tiny_images, "diag")],
    ids=["vectors-full", "vectors-diag", "images-diag"],
)
def test_gmm_passes_shared_suite(make_data, covariance, tmp_path):
    data = make_data()
    options = dict(components=3, covariance=covariance, reg_covar=1e-2, tol=0.0)
    check_model(lambda: build_model("gmm", data, **options), data, tmp_path)


def test_one_component_fit_is_the_gaussian_maximum_likelihood_estimate():
    data = tiny_vectors()
    x = data.train.double().numpy()
    model = fit_gmm(data, steps=3, components=1, reg_covar=1e-6)
    expected = stats.multivariate_normal(x.mean(0), np.cov(x.T, bias=True) + 1e-6 * np.eye(2))
    [point] = k_sweep(data, [1], steps=3, reg_covar=1e-6)
    assert point.test_log_likelihood == pytest.approx(expected.logpdf(data.test.double().numpy()).mean(), rel=1e-6)
    assert point.n_parameters == 5 == model.n_parameters
    assert point.bic == pytest.approx(-2 * expected.logpdf(x).sum() + 5 * np.log(len(x)), rel=1e-6)
    assert point.fit_seconds > 0


def test_k_sweep_scores_grey_levels_as_evaluate_does():
    """On discrete images the mixture is fitted to dequantized values (`data.discrete`), and the sweep scores the
    test split in that same currency: its log-likelihood is `evaluate`'s for the same mixture."""
    levels = 17
    k = torch.randint(levels, (300, 1, 2, 2), generator=torch.Generator().manual_seed(0)).float()
    data = gl.Dataset("grey", k[:200] / (levels - 1), k[200:] / (levels - 1), "image", levels=levels)
    [point] = k_sweep(data, [2], steps=3, seed=1)
    model = fit_gmm(data, steps=3, seed=1, components=2)
    record = gl.evaluate(model, data, metrics=["test_log_likelihood"], seed=1).to_dict()
    assert point.test_log_likelihood == pytest.approx(record["test_log_likelihood"], rel=1e-6)  # float32 scores there


@pytest.mark.slow
def test_cli_trains_a_mixture_on_ring8(tmp_path):
    out = tmp_path / "gmm"
    args = ["train", "gmm", "--data", "ring8", "--set", "model.components=20", "--set", "train.epochs=3", "--out", out]
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    model = gl.load(out)
    assert isinstance(model, GMM) and model.config.components == 20 and bool(model.initialised)
    assert (out / "samples.png").exists()
