"""IWAE NLL against the closed-form marginal of a linear-Gaussian VAE, with the exact posterior (every
weight equals p(x)) and with a poor encoder (the weights vary)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats

import gausslab as gl
from gausslab.core.errors import ConfigError
from gausslab.metrics import iwae_nll
from gausslab.metrics.nll import bits_per_dim
from tests import linear_gaussian as lg
from tests.conftest import tiny_images


def test_iwae_nll_equals_closed_form_marginal_with_the_exact_posterior():
    model = lg.scalar_vae()  # q(z|x) = p(z|x): every importance weight equals p(x)
    x = torch.linspace(-2, 2, 37)[:, None]
    want = -lg.log_px(x).mean().item()
    for k, batch, chunk in [(1, 64, 256), (50, 5, 7), (300, 37, 300)]:
        result = iwae_nll(model, x, k=k, batch=batch, chunk=chunk)
        assert result.nats == pytest.approx(want, abs=1e-4)
        assert result.bits_per_dim is None and result.k == k and result.n == 37
        assert result.per_example.shape == (37,)


def test_iwae_nll_with_an_imperfect_encoder_approaches_the_true_nll_from_above():
    # Weights vary: k = 1 over-estimates the NLL by KL(q || p(z|x)) (0.69 nats on average here); k = 2000
    # leaves 3e-4 (measured), whatever the batch and chunk sizes.
    model = lg.scalar_vae(gain=0.5, std_scale=1.6)
    x = torch.randn(400, 1, generator=torch.Generator().manual_seed(2)) * math.sqrt(1 + lg.NOISE**2)
    want = -lg.log_px(x).mean().item()
    loose = iwae_nll(model, x, k=1).nats
    tight = iwae_nll(model, x, k=2000, batch=16, chunk=300)
    assert loose - want > 0.5
    assert tight.nats - want == pytest.approx(0.0, abs=0.005)
    assert torch.equal(tight.per_example, iwae_nll(model, x, k=2000, batch=16, chunk=300).per_example)  # seeded


def test_iwae_nll_images_report_bits_per_dim_and_are_seeded():
    data = tiny_images()
    model = gl.build_model("vae", data, latent_dim=2)
    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    a = iwae_nll(model, data.test, k=20, batch=8, chunk=6)
    assert torch.equal(torch.random.get_rng_state(), state)  # the global RNG is left alone
    b = iwae_nll(model, data.test, k=20, batch=8, chunk=6)
    assert a.nats == b.nats
    assert a.bits_per_dim == pytest.approx(a.nats / (64 * math.log(2)))
    assert a.nats == pytest.approx(a.per_example.mean().item())


def test_more_samples_tighten_the_bound():
    data = tiny_images()
    model = gl.build_model("vae", data, latent_dim=2)
    loose = iwae_nll(model, data.test, k=1).nats
    tight = iwae_nll(model, data.test, k=200, chunk=50).nats
    assert tight < loose


@pytest.mark.parametrize("bad", [dict(k=0), dict(batch=-1), dict(chunk=1.5)])
def test_iwae_nll_rejects_bad_sizes(bad):
    with pytest.raises(ConfigError):
        iwae_nll(lg.scalar_vae(), torch.zeros(3, 1), **bad)


# --- bits/dim: one convention for every density model --------------------------------------------


@pytest.mark.parametrize("levels", [2, 17, 256])
def test_a_uniform_density_gives_exactly_log2_levels(levels):
    assert bits_per_dim(0.0, 784, levels) == math.log2(levels)  # p = 1 on [0, 1)^D: every level equally likely
    assert bits_per_dim(0.0, 784) == 0.0  # continuous data: no discretization term


def test_bits_per_dim_of_a_gaussian_is_its_closed_form():
    # An isotropic N(m, s^2) in D dimensions has -log p(y) = D/2 log(2 pi s^2) + |y - m|^2 / (2 s^2).
    y = torch.rand(50, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    m, s = 0.4, 0.3
    nats = -stats.norm.logpdf(y.numpy(), m, s).sum(1).mean()  # scipy: an independent density
    closed = (3 * math.log(2 * math.pi * s**2) + ((y - m) ** 2).sum(1).mean().item() / (2 * s**2))
    assert nats == pytest.approx(closed, rel=1e-12)
    want = closed / (6 * math.log(2)) + 8
    assert bits_per_dim(nats, 6, 256) == pytest.approx(want, rel=1e-12)
    per_example = torch.as_tensor(-stats.norm.logpdf(y.numpy(), m, s).sum(1))
    assert bits_per_dim(per_example, 6, 256).mean().item() == pytest.approx(want, rel=1e-12)


def _gaussian_fit_nats(t: torch.Tensor) -> float:
    """Mean -log N(t; mean, diag var) of the maximum-likelihood diagonal Gaussian of rows t [N, D]."""
    mean, var = t.mean(0), t.var(0, unbiased=False)
    return -torch.distributions.Normal(mean, var.sqrt()).log_prob(t).sum(1).mean().item()


@pytest.mark.parametrize("scale", [255.0, 0.01, 7.0])
def test_rescaling_the_data_leaves_bits_per_dim_unchanged(scale):
    y = torch.rand(400, 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64) ** 2
    base = bits_per_dim(_gaussian_fit_nats(y), 5, 256)
    scaled_nats = _gaussian_fit_nats(scale * y)  # the same model fitted to t(y) = scale * y
    assert scaled_nats != pytest.approx(_gaussian_fit_nats(y))
    jacobian = 5 * math.log(scale)  # log |det dt/dy| per example
    assert bits_per_dim(scaled_nats, 5, 256, log_jacobian=jacobian) == pytest.approx(base, rel=1e-12)


def test_a_logit_preprocessing_counts_its_jacobian():
    # A Gaussian fitted in logit space, mapped back: p(y) = N(logit y) / (y (1 - y)) is a density on (0, 1)
    # whose mean -log p over a fine grid (the uniform distribution) is the integral computed by scipy.
    m, s = -0.5, 1.3
    y = (torch.arange(200_000, dtype=torch.float64) + 0.5) / 200_000
    t = torch.logit(y)
    nats = -torch.distributions.Normal(m, s).log_prob(t)
    log_jacobian = -(y * (1 - y)).log()  # log |dt/dy|
    density = lambda v: stats.norm.pdf(np.log(v / (1 - v)), m, s) / (v * (1 - v))  # noqa: E731
    assert integrate.quad(density, 0, 1)[0] == pytest.approx(1, abs=1e-8)  # a density of y
    want, _ = integrate.quad(lambda v: -np.log(density(v)), 0, 1, limit=200)
    got = bits_per_dim(nats, 1, 256, log_jacobian=log_jacobian).mean().item()
    assert got == pytest.approx(want / math.log(2) + 8, abs=1e-4)  # midpoint rule vs quadrature
