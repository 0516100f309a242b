"""Observation models p(x|z) against torch.distributions and hand-written log-densities."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Normal

from gausslab.blocks.likelihoods import LIKELIHOODS, Bernoulli, Gaussian


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
    assert LIKELIHOODS == {"bernoulli": Bernoulli, "gaussian": Gaussian}
