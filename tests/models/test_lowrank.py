"""Mixtures of probabilistic PCA (`covariance=lowrank`) and of factor analysers (`covariance=factor`) against
scikit-learn where they coincide, and their parameter counts against the rank of their parametrisation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA, FactorAnalysis
from sklearn.mixture import GaussianMixture

from gausslab.core.errors import ConfigError
from gausslab.models import build_model
from gausslab.models.preprocess import Logit
from tests.conftest import tiny_images, tiny_vectors
from tests.models.suite import check_model
from tests.models.test_gmm import blobs, five_em_steps_each


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


def factor_data(n: int, seed: int) -> torch.Tensor:
    """n draws [n, 6] (float64) of a 2-factor model with unequal noise variances."""
    g = torch.Generator().manual_seed(seed)
    loadings = torch.randn(6, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    noise = torch.tensor([0.2, 0.5, 1.0, 0.3, 0.8, 0.4], dtype=torch.float64)
    z, eps = torch.randn(n, 2, generator=g, dtype=torch.float64), torch.randn(n, 6, generator=g, dtype=torch.float64)
    return z @ loadings.T + eps * noise.sqrt() + 1.0


def test_one_component_factor_model_is_scikit_learns_factor_analysis():
    """K = 1 after 300 EM iterations is the maximum-likelihood factor model, as `FactorAnalysis` fits it.

    (The gap left, 6e-7, stays at 400 iterations: it is scikit-learn's stopping tolerance, not ours.)
    """
    x, test = factor_data(1000, seed=1), factor_data(50, seed=2)
    model = build_model("gmm", (6,), components=1, covariance="factor", rank=2, reg_covar=1e-12, tol=0.0)
    torch.manual_seed(0)
    for _ in range(300):
        model.em_step(x)
    fa = FactorAnalysis(n_components=2, tol=1e-14, max_iter=10_000, svd_method="lapack").fit(x.numpy())
    np.testing.assert_allclose(model.log_prob(test).numpy(), fa.score_samples(test.numpy()), atol=1e-5, rtol=0)
    np.testing.assert_allclose(model.factors.noise[0].numpy(), fa.noise_variance_, atol=1e-5)


def test_a_factor_model_started_from_given_parameters_still_learns_its_loadings():
    """`set_parameters` (GaussianMixture's weights_init / means_init / precisions_init) leaves the loadings at
    zero, which the factor model's EM step never leaves: they restart from the PPCA fit of the first scatter,
    and the fit reaches scikit-learn's factor analysis as from the default start."""
    x, test = factor_data(1000, seed=1), factor_data(50, seed=2)
    model = build_model("gmm", (6,), components=1, covariance="factor", rank=2, reg_covar=1e-12, tol=0.0)
    model.set_parameters(weights=torch.ones(1), means=x.mean(0, keepdim=True), covariances=torch.eye(6)[None])
    assert not model.factors.loadings.any()
    for _ in range(300):
        model.em_step(x)
    fa = FactorAnalysis(n_components=2, tol=1e-14, max_iter=10_000, svd_method="lapack").fit(x.numpy())
    np.testing.assert_allclose(model.log_prob(test).numpy(), fa.score_samples(test.numpy()), atol=1e-5, rtol=0)


def test_factor_covariances_are_loadings_plus_diagonal_noise():
    model = build_model("gmm", (6,), components=2, covariance="factor", rank=2, tol=0.0)
    torch.manual_seed(0)
    for _ in range(3):
        model.em_step(factor_data(300, seed=3))
    w, psi = model.factors.loadings, model.factors.noise  # [K, D, q], [K, D]
    assert w.shape == (2, 6, 2) and (psi > 0).all()
    torch.testing.assert_close(model.covariances, w @ w.transpose(1, 2) + torch.diag_embed(psi), atol=1e-12, rtol=0)


def shared_start(covariance: str, ours: str, rank: int) -> tuple:
    """A 3-component mixture on `blobs` after one EM iteration, and the same start as scikit-learn arguments;
    then 5 more iterations of each."""
    x = blobs()
    model = build_model("gmm", (3,), components=3, covariance=ours, rank=rank, tol=0.0)
    torch.manual_seed(0)
    model.em_step(x)
    cov = model.covariances.numpy()
    precisions = np.linalg.inv(cov) if covariance == "full" else 1 / cov.diagonal(axis1=1, axis2=2)
    precisions = precisions[:, 0] if covariance == "spherical" else precisions
    return model, five_em_steps_each(model, x, covariance, precisions)


def test_rank_d_minus_one_is_the_full_covariance_mixture():
    model, reference = shared_start("full", "lowrank", rank=2)
    np.testing.assert_allclose(model.weights.numpy(), reference.weights_, atol=1e-8)
    np.testing.assert_allclose(model.means.numpy(), reference.means_, atol=1e-8)
    np.testing.assert_allclose(model.covariances.numpy(), reference.covariances_, atol=1e-8)


@pytest.mark.parametrize(("ours", "covariance"), [("lowrank", "spherical"), ("factor", "diag")])
def test_rank_zero_is_the_spherical_or_diagonal_mixture(ours, covariance):
    model, reference = shared_start(covariance, ours, rank=0)
    np.testing.assert_allclose(model.weights.numpy(), reference.weights_, atol=1e-8)
    np.testing.assert_allclose(model.means.numpy(), reference.means_, atol=1e-8)
    variances = reference.covariances_[:, None] if covariance == "spherical" else reference.covariances_
    np.testing.assert_allclose(model.covariances.numpy(), variances[:, None, :] * np.eye(3), atol=1e-8)


def test_low_rank_covariances_are_rank_q_plus_isotropic_noise():
    model = build_model("gmm", (6,), components=2, covariance="lowrank", rank=2, tol=0.0)
    torch.manual_seed(0)
    for _ in range(5):
        model.em_step(correlated(300))
    evals = torch.linalg.eigvalsh(model.covariances)  # ascending [K, 6]
    noise = evals[:, :4]
    torch.testing.assert_close(noise, noise[:, :1].expand(-1, 4), atol=1e-10, rtol=0)
    assert (evals[:, 4:] > noise[:, :1] + 0.1).all()


@pytest.mark.parametrize("covariance", ["lowrank", "factor"])
def test_em_never_lowers_the_training_log_likelihood(covariance):
    x = correlated(300)
    model = build_model("gmm", (6,), components=3, covariance=covariance, rank=1, tol=0.0)
    torch.manual_seed(1)
    logliks = [float(model.em_step(x)) for _ in range(30)]
    assert (np.diff(logliks) >= -1e-10).all(), np.diff(logliks).min()
    assert logliks[-1] > logliks[0] + 1e-2


def covariance_parameters(dim: int, rank: int, noises: int) -> int:
    """Brute force: the rank of the Jacobian of (W [D, q], psi [noises]) -> W W^T + diag(psi) at a random point
    (noises = 1: isotropic, D: diagonal)."""
    def covariance(theta: torch.Tensor) -> torch.Tensor:
        w, psi = theta[: dim * rank].view(dim, rank), theta[dim * rank :]
        return (w @ w.T + torch.diag(psi.expand(dim))).flatten()

    theta = torch.randn(dim * rank + noises, dtype=torch.float64, generator=torch.Generator().manual_seed(rank))
    return int(torch.linalg.matrix_rank(torch.autograd.functional.jacobian(covariance, theta)))


@pytest.mark.parametrize("rank", [0, 1, 2, 3, 4])
@pytest.mark.parametrize(("covariance", "noises"), [("lowrank", 1), ("factor", 5)])
def test_n_parameters_is_the_dimension_of_the_model(covariance, noises, rank):
    """Beyond Ledermann's bound (here rank >= 3) the factor model is as free as a full covariance."""
    model = build_model("gmm", (5,), components=3, covariance=covariance, rank=rank)
    assert model.n_parameters == 2 + 3 * 5 + 3 * covariance_parameters(5, rank, noises)


@pytest.mark.parametrize(("ours", "rank", "covariance"),
                         [("lowrank", 0, "spherical"), ("lowrank", 4, "full"), ("factor", 0, "diag")])
def test_n_parameters_in_the_limits_match_scikit_learn(ours, rank, covariance):
    reference = GaussianMixture(3, covariance_type=covariance)
    reference.means_ = np.zeros((3, 5))
    assert build_model("gmm", (5,), components=3, covariance=ours, rank=rank).n_parameters == \
        reference._n_parameters()


@pytest.mark.parametrize("covariance", ["lowrank", "factor"])
def test_rank_must_be_below_the_dimension(covariance):
    with pytest.raises(ConfigError, match=rf"model\.rank=3 must be below the data dimension 3 for "
                                          rf"covariance={covariance}; choose 0 to 2"):
        build_model("gmm", (3,), covariance=covariance, rank=3)


def test_logit_samples_follow_the_mixture_in_logit_space():
    """Draws mapped back through the logit have the mixture's moments there."""
    g = torch.Generator().manual_seed(0)
    skew = torch.tensor([1.0, 2.0, 3.0, 0.5], dtype=torch.float64).view(1, 1, 2, 2)
    x = torch.rand(400, 1, 2, 2, generator=g, dtype=torch.float64) ** skew
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
     (tiny_vectors, dict(covariance="factor", rank=1)),
     (tiny_images, dict(covariance="lowrank", rank=2, preprocess="logit")),
     (tiny_images, dict(covariance="factor", rank=2, preprocess="logit")),
     (tiny_images, dict(covariance="diag", preprocess="logit"))],
    ids=["vectors-lowrank", "vectors-factor", "images-lowrank-logit", "images-factor-logit", "images-diag-logit"],
)
def test_low_rank_and_logit_mixtures_pass_shared_suite(make_data, options, tmp_path):
    data = make_data()
    check_model(lambda: build_model("gmm", data, components=3, reg_covar=1e-2, tol=0.0, **options), data, tmp_path)
