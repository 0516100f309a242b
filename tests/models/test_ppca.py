"""The mixture of probabilistic PCA (`covariance=lowrank`) against scikit-learn where the two coincide."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA
from sklearn.mixture import GaussianMixture

from gausslab.errors import ConfigError
from gausslab.models import build_model
from gausslab.models.preprocess import Logit
from tests.conftest import tiny_images, tiny_vectors
from tests.models.suite import check_model
from tests.models.test_gmm import blobs


def correlated(n: int, dim: int = 6, seed: int = 0) -> torch.Tensor:
    """n draws [n, dim] (float64) of a Gaussian with a spread of eigenvalues: two strong directions, weak noise."""
    g = torch.Generator().manual_seed(seed)
    mix = torch.randn(dim, dim, generator=g, dtype=torch.float64) * torch.tensor([3.0, 2.0] + [0.3] * (dim - 2))
    return torch.randn(n, dim, generator=g, dtype=torch.float64) @ mix.T + 1.0


def test_one_component_is_scikit_learns_probabilistic_pca():
    """K = 1 at convergence is PPCA's maximum-likelihood fit, which `PCA.score_samples` evaluates.

    PCA divides its covariance by N - 1; the sample mean appended to its training set leaves the mean and
    the scatter unchanged and turns N - 1 into our N, so both fit the same covariance.
    """
    x, test = correlated(400), correlated(50, seed=1)
    model = build_model("gmm", (6,), components=1, covariance="lowrank", rank=2, reg_covar=1e-12, tol=0.0)
    torch.manual_seed(0)
    for _ in range(3):
        model.em_step(x)
    pca = PCA(n_components=2, svd_solver="full").fit(torch.cat([x, x.mean(0, keepdim=True)]).numpy())
    np.testing.assert_allclose(model.log_prob(test).numpy(), pca.score_samples(test.numpy()), atol=1e-6, rtol=0)


def shared_start(covariance: str, rank: int) -> tuple:
    """A 3-component mixture on `blobs` after one EM iteration, and the same start as scikit-learn arguments."""
    x = blobs()
    model = build_model("gmm", (3,), components=3, covariance="lowrank", rank=rank, tol=0.0)
    torch.manual_seed(0)
    model.em_step(x)
    cov = model.covariances.numpy()
    precisions = np.linalg.inv(cov) if covariance == "full" else 1 / cov[:, 0, 0]
    reference = GaussianMixture(3, covariance_type=covariance, tol=0.0, max_iter=5, reg_covar=model.config.reg_covar,
                                weights_init=model.weights.numpy(), means_init=model.means.numpy(),
                                precisions_init=precisions)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "did not converge": max_iter is deliberately small
        reference.fit(x.numpy())
    for _ in range(5):
        model.em_step(x)
    return model, reference


def test_rank_d_minus_one_is_the_full_covariance_mixture():
    model, reference = shared_start("full", rank=2)
    np.testing.assert_allclose(model.weights.numpy(), reference.weights_, atol=1e-8)
    np.testing.assert_allclose(model.means.numpy(), reference.means_, atol=1e-8)
    np.testing.assert_allclose(model.covariances.numpy(), reference.covariances_, atol=1e-8)


def test_rank_zero_is_the_spherical_mixture():
    model, reference = shared_start("spherical", rank=0)
    np.testing.assert_allclose(model.weights.numpy(), reference.weights_, atol=1e-8)
    np.testing.assert_allclose(model.means.numpy(), reference.means_, atol=1e-8)
    expected = reference.covariances_[:, None, None] * np.eye(3)
    np.testing.assert_allclose(model.covariances.numpy(), expected, atol=1e-8)


def test_low_rank_covariances_are_rank_q_plus_isotropic_noise():
    model = build_model("gmm", (6,), components=2, covariance="lowrank", rank=2, tol=0.0)
    torch.manual_seed(0)
    for _ in range(5):
        model.em_step(correlated(300))
    evals = torch.linalg.eigvalsh(model.covariances)  # ascending [K, 6]
    noise = evals[:, :4]
    torch.testing.assert_close(noise, noise[:, :1].expand(-1, 4), atol=1e-10, rtol=0)
    assert (evals[:, 4:] > noise[:, :1] + 0.1).all()


def test_em_never_lowers_the_training_log_likelihood():
    x = correlated(300)
    model = build_model("gmm", (6,), components=3, covariance="lowrank", rank=1, tol=0.0)
    torch.manual_seed(1)
    logliks = [float(model.em_step(x)) for _ in range(30)]
    assert (np.diff(logliks) >= -1e-10).all(), np.diff(logliks).min()
    assert logliks[-1] > logliks[0] + 1e-2


def covariance_parameters(dim: int, rank: int) -> int:
    """Brute force: the rank of the Jacobian of (W [D, q], s) -> W W^T + s I at a random point."""
    def covariance(theta: torch.Tensor) -> torch.Tensor:
        w = theta[:-1].view(dim, rank)
        return (w @ w.T + theta[-1] * torch.eye(dim, dtype=theta.dtype)).flatten()

    theta = torch.randn(dim * rank + 1, dtype=torch.float64, generator=torch.Generator().manual_seed(rank))
    return int(torch.linalg.matrix_rank(torch.autograd.functional.jacobian(covariance, theta)))


@pytest.mark.parametrize("rank", [0, 1, 2, 3, 4])
def test_n_parameters_is_the_dimension_of_the_model(rank):
    model = build_model("gmm", (5,), components=3, covariance="lowrank", rank=rank)
    assert model.n_parameters == 2 + 3 * 5 + 3 * covariance_parameters(5, rank)


@pytest.mark.parametrize(("rank", "covariance"), [(0, "spherical"), (4, "full")])
def test_n_parameters_in_the_limits_match_scikit_learn(rank, covariance):
    reference = GaussianMixture(3, covariance_type=covariance)
    reference.means_ = np.zeros((3, 5))
    assert build_model("gmm", (5,), components=3, covariance="lowrank", rank=rank).n_parameters == \
        reference._n_parameters()


def test_rank_must_be_below_the_dimension():
    with pytest.raises(ConfigError, match=r"model\.rank=3 must be below the data dimension 3"):
        build_model("gmm", (3,), covariance="lowrank", rank=3)


def test_logit_samples_follow_the_mixture_in_logit_space():
    """Draws mapped back through the logit have the mixture's moments there."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(400, 1, 2, 2, generator=g, dtype=torch.float64) ** torch.tensor([1.0, 2.0, 3.0, 0.5]).view(1, 1, 2, 2)
    model = build_model("gmm", (1, 2, 2), components=2, covariance="lowrank", rank=1, preprocess="logit")
    torch.manual_seed(0)
    for _ in range(5):
        model.em_step(x)
    s = model.sample(200_000, generator=torch.Generator().manual_seed(1)).double().flatten(1)
    assert s.min() > -0.056 and s.max() < 1.056
    y = Logit().forward(s).y
    w, mu, cov = model.weights, model.means, model.covariances
    mean = w @ mu
    second = (w.view(-1, 1, 1) * (cov + mu.unsqueeze(2) * mu.unsqueeze(1))).sum(0)
    torch.testing.assert_close(y.mean(0), mean, atol=0.02, rtol=0)
    torch.testing.assert_close(torch.cov(y.T), second - torch.outer(mean, mean), atol=0.05, rtol=0.02)


@pytest.mark.parametrize(
    ("make_data", "options"),
    [(tiny_vectors, dict(covariance="lowrank", rank=1)),
     (tiny_images, dict(covariance="lowrank", rank=2, preprocess="logit")),
     (tiny_images, dict(covariance="diag", preprocess="logit"))],
    ids=["vectors-lowrank", "images-lowrank-logit", "images-diag-logit"],
)
def test_low_rank_and_logit_mixtures_pass_shared_suite(make_data, options, tmp_path):
    data = make_data()
    check_model(lambda: build_model("gmm", data, components=3, reg_covar=1e-2, tol=0.0, **options), data, tmp_path)
