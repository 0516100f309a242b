"""Observation models p(x|z) against torch.distributions and hand-written log-densities; the discretized
logistic is a proper mass on the grey levels, checked by brute force and against scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats
from torch.distributions import Normal

import gausslab as gl
from gausslab.blocks.likelihoods import LIKELIHOODS, Bernoulli, DiscretizedLogistic, Gaussian
from gausslab.core.errors import ConfigError
from gausslab.data.dataset import Dataset
from gausslab.models.vae import VAEConfig


def test_bernoulli_log_prob_is_the_summed_log_likelihood_of_each_pixel():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 1, 3, 4, generator=g, dtype=torch.float64) * 3
    x = torch.rand(6, 1, 3, 4, generator=g, dtype=torch.float64)
    x[:3] = (x[:3] < 0.5).double()  # binary pixels, and grey ones as images in [0, 1] give them
    p = torch.sigmoid(logits)
    want = (x * p.log() + (1 - x) * (1 - p).log()).flatten(1).sum(1)
    got = Bernoulli((1, 3, 4)).log_prob(logits, x)
    assert got.shape == (6,) and torch.allclose(got, want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("scale", ["learned", "fixed"])
def test_gaussian_log_prob_matches_torch_normal(scale):
    g = torch.Generator().manual_seed(1)
    lik = Gaussian((2, 3), scale=scale, std=0.7)
    out, x = torch.randn(5, 2, 3, generator=g), torch.randn(5, 2, 3, generator=g)
    with torch.no_grad():
        lik.log_std += torch.linspace(-0.3, 0.3, 6).view(2, 3)  # one sigma per dimension
        want = Normal(out, lik.log_std.exp()).log_prob(x).flatten(1).sum(1)
    assert torch.allclose(lik.log_prob(out, x), want, rtol=1e-6, atol=1e-5)
    assert isinstance(lik.log_std, torch.nn.Parameter) == (scale == "learned")
    assert torch.allclose(Gaussian((2,), std=0.7).log_std, torch.full((2,), math.log(0.7)))


def test_means_and_seeded_samples_follow_the_parameters():
    out = torch.tensor([[-2.0, 0.0, 1.5]]).expand(20000, 3)
    bern, gauss = Bernoulli((3,)), Gaussian((3,), scale="fixed", std=0.5)
    assert torch.equal(bern.mean(out), torch.sigmoid(out)) and torch.equal(gauss.mean(out), out)
    b = bern.sample(out, generator=torch.Generator().manual_seed(2))
    assert set(b.unique().tolist()) <= {0.0, 1.0}
    assert torch.allclose(b.mean(0), torch.sigmoid(out[0]), atol=4 * 0.5 / math.sqrt(20000))
    s = gauss.sample(out, generator=torch.Generator().manual_seed(2))
    assert torch.allclose(s.mean(0), out[0], atol=4 * 0.5 / math.sqrt(20000))
    assert torch.allclose(s.std(0), torch.full((3,), 0.5), rtol=0.02)
    assert torch.equal(s, gauss.sample(out, generator=torch.Generator().manual_seed(2)))


def test_registry():
    assert LIKELIHOODS == {"bernoulli": Bernoulli, "gaussian": Gaussian, "logistic": DiscretizedLogistic}


def decoder_output(levels_shape=(3, 2, 2), seed=0) -> torch.Tensor:
    """Locations around [0, 1] and log-scales from tiny to wide: [1, 2C, H, W]."""
    g = torch.Generator().manual_seed(seed)
    c, h, w = levels_shape
    loc = torch.rand(1, c, h, w, generator=g) * 1.4 - 0.2
    log_scale = torch.rand(1, c, h, w, generator=g) * 8 - 6.5  # s from 0.0015 to 4.5
    return torch.cat([loc, log_scale], dim=1).double()


@pytest.mark.parametrize("levels", [2, 17, 256])
def test_masses_sum_to_one_over_the_levels(levels):
    lik = DiscretizedLogistic((3, 2, 2), levels=levels)
    out = decoder_output()
    k = torch.arange(levels, dtype=torch.float64).view(-1, 1, 1, 1)  # every level, for every pixel
    masses = lik.log_mass(out.expand(levels, -1, -1, -1), k.expand(levels, 3, 2, 2)).exp()
    assert torch.allclose(masses.sum(0), torch.ones(3, 2, 2, dtype=torch.float64), atol=1e-9)


def test_masses_match_scipy_logistic_cdf_differences():
    levels = 17
    lik = DiscretizedLogistic((1, 1, 1), levels=levels)
    loc, log_scale = 0.4, math.log(0.08)
    out = torch.tensor([loc, log_scale], dtype=torch.float64).view(1, 2, 1, 1)
    k = torch.arange(levels, dtype=torch.float64).view(-1, 1, 1, 1)
    got = lik.log_mass(out.expand(levels, -1, -1, -1), k).exp().flatten().numpy()
    edges = np.arange(levels + 1) / levels
    edges[0], edges[-1] = -np.inf, np.inf
    want = np.diff(stats.logistic.cdf(edges, loc=loc, scale=0.08))
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-14)


def test_log_prob_of_dequantized_values_is_the_piecewise_constant_density():
    levels = 256
    lik = DiscretizedLogistic((3, 2, 2), levels=levels)
    out = decoder_output()
    k = torch.randint(levels, (1, 3, 2, 2), generator=torch.Generator().manual_seed(1)).double()
    for u in (0.0, 0.5, 0.999):  # anywhere in the bin: the same density P(k) * levels per value
        y = (k + u) / levels
        want = (lik.log_mass(out, k) + math.log(levels)).sum()
        assert lik.log_prob(out, y).item() == pytest.approx(want.item(), abs=1e-9)


def test_samples_follow_the_masses():
    levels = 5
    lik = DiscretizedLogistic((1, 1, 1), levels=levels)
    out = torch.tensor([0.45, math.log(0.15)]).view(1, 2, 1, 1).expand(40_000, -1, -1, -1)
    x = lik.sample(out, generator=torch.Generator().manual_seed(0))
    assert set((x * (levels - 1)).unique().tolist()) <= set(range(levels))  # stored scale k / (levels - 1)
    freq = torch.bincount((x * (levels - 1)).round().long().flatten(), minlength=levels).double() / len(x)
    want = lik.log_mass(out[:1].double(), torch.arange(levels).double().view(-1, 1, 1, 1)).exp().flatten()
    assert torch.allclose(freq, want, atol=0.01)
    assert lik.mean(out[:1]).item() == pytest.approx((0.45 * levels - 0.5) / (levels - 1))


def test_gradients_are_finite_at_the_open_end_bins():
    lik = DiscretizedLogistic((1, 1, 2), levels=256)
    out = torch.tensor([[[[0.0, 1.0]], [[-7.0, -7.0]]]], requires_grad=True)
    y = torch.tensor([[[[0.0, 0.999]]]])  # levels 0 and 255
    lik.log_prob(out, y).sum().backward()
    assert torch.isfinite(out.grad).all()


def test_logistic_needs_grey_level_images():
    with pytest.raises(ConfigError, match="levels=None"):
        DiscretizedLogistic((1, 4, 4), levels=None)
    with pytest.raises(ConfigError, match="shape"):
        DiscretizedLogistic((4,), levels=17)


def _images(levels):
    x = torch.zeros(8, 1, 4, 4)
    return Dataset("img", x, x, "image", levels=levels)


@pytest.mark.parametrize("levels, want", [(256, "logistic"), (17, "logistic"), (2, "bernoulli"), (None, "bernoulli")])
def test_auto_likelihood(levels, want):
    model = gl.build_model("vae", _images(levels), latent_dim=2, hidden=(8,))
    assert type(model.likelihood) is LIKELIHOODS[want] and model.config.levels == levels
    assert model.data_transform == ("dequantize" if want == "logistic" else "binarize")
    vectors = Dataset("v", torch.zeros(8, 3), torch.zeros(8, 3), "vector")
    assert type(gl.build_model("vae", vectors, latent_dim=2).likelihood) is LIKELIHOODS["gaussian"]


def test_registry_matches_config_choices():
    assert set(LIKELIHOODS) | {"auto"} == set(VAEConfig.model_fields["likelihood"].annotation.__args__)
