"""Preprocessing maps: the logit's Jacobian against autograd, exact inverses, densities that stay normalised."""

from __future__ import annotations

import math

import pytest
import torch

from gausslab.core.errors import DataError
from gausslab.models import FlowConfig, GMMConfig, build_model
from gausslab.models.preprocess import PREPROCESSORS, Identity, Logit, preprocessor


def test_config_choices_are_the_registry_plus_auto():
    for config in (GMMConfig, FlowConfig):
        assert set(config.model_fields["preprocess"].annotation.__args__) == {*PREPROCESSORS, "auto"}


def test_auto_is_logit_for_images_and_identity_for_vectors():
    assert isinstance(preprocessor("auto", (1, 8, 8)), Logit)
    assert isinstance(preprocessor("auto", (2,)), Identity)
    assert isinstance(preprocessor("logit", (2,)), Logit)


def test_logit_is_realnvps_map_and_inverts():
    x = torch.tensor([[0.0, 0.5, 1.0]], dtype=torch.float64)
    y = Logit().forward(x).y
    p = 0.05 + 0.9 * x
    torch.testing.assert_close(y, torch.log(p / (1 - p)))  # Dinh et al. 2017, sec. 4.1
    torch.testing.assert_close(Logit().inverse(y), x)


def test_logit_log_det_equals_autograd():
    x = torch.rand(6, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    x[0, 0], x[1, 1] = 0.0, 1.0  # the ends of the pixel range stay finite
    log_det = Logit().forward(x).log_det
    for row, expected in zip(x, log_det):
        jac = torch.autograd.functional.jacobian(lambda v: Logit().forward(v.unsqueeze(0)).y[0], row)  # [D, D]
        torch.testing.assert_close(expected, torch.linalg.slogdet(jac).logabsdet, atol=1e-12, rtol=0)


def test_identity_changes_nothing():
    x = torch.randn(3, 2)
    mapped = Identity().forward(x)
    assert torch.equal(mapped.y, x) and torch.equal(mapped.log_det, torch.zeros(3))


def test_logit_refuses_data_outside_its_domain():
    with pytest.raises(DataError, match=r"preprocess=logit.*\[-0\.5, 1\]"):
        Logit().check(torch.tensor([[0.2, -0.5], [1.0, 0.3]]))
    with pytest.raises(DataError, match=r"\[0\.2, 1\.06\]"):
        Logit().check(torch.tensor([[0.2, 1.06]]))
    Logit().check(torch.tensor([[-0.05, 1.05]]))  # the model's own samples, just beyond [0, 1], are in it


def test_gaussian_fitted_in_logit_space_is_a_normalised_density_in_data_space():
    """A 1-D Gaussian fitted to logit(x) gives log p(x) whose integral over the data-space support is 1."""
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(500, 1, generator=g, dtype=torch.float64) ** 3)  # skewed towards 0, inside [0, 1]
    model = build_model("gmm", (1,), components=1, preprocess="logit")
    torch.manual_seed(0)
    model.em_step(x)
    alpha = Logit.alpha
    low, high = -alpha / (1 - 2 * alpha), (1 - alpha) / (1 - 2 * alpha)  # the image of the real line
    edges = torch.linspace(low, high, 400_001, dtype=torch.float64)
    mids = ((edges[1:] + edges[:-1]) / 2).unsqueeze(1)
    with torch.no_grad():
        mass = float((model.log_prob(mids).exp() * (edges[1] - edges[0])).sum())
    assert mass == pytest.approx(1.0, abs=1e-6)
    # and it is not the Gaussian of x itself: the Jacobian term is what makes it integrate to one
    y = Logit().forward(mids).y
    mu, var = float(model.means[0, 0]), float(model.covariances[0, 0, 0])
    gaussian_in_y = (-0.5 * (y - mu) ** 2 / var - 0.5 * math.log(2 * math.pi * var)).exp()
    assert float((gaussian_in_y[:, 0] * (edges[1] - edges[0])).sum()) < 0.5


def test_a_start_and_responsibilities_live_in_the_preprocessed_space():
    """`initialise(prepare(x))` (how GaussianMixture starts before `set_parameters`) and `posterior` take data
    in its own space; the responsibilities are those of the Gaussians on logit(x), by torch.distributions."""
    x = torch.rand(200, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    model = build_model("gmm", (3,), components=2, preprocess="logit")
    torch.manual_seed(0)
    model.initialise(model.prepare(x))
    model.set_parameters(weights=torch.tensor([0.3, 0.7]))
    y = Logit().forward(x).y
    joint = torch.distributions.MultivariateNormal(model.means, model.covariances).log_prob(y.unsqueeze(1))
    expected = torch.softmax(joint + torch.tensor([0.3, 0.7], dtype=torch.float64).log(), dim=1)  # [N, K]
    torch.testing.assert_close(model.posterior(x), expected, atol=1e-6, rtol=0)
    assert model.means.shape == (2, 3) and bool((model.means < 0).any())  # logits, not pixels in [0, 1]
