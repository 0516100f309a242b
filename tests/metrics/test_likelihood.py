"""IWAE NLL against the closed-form marginal of a linear-Gaussian VAE, where every weight equals p(x)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats
from torch import nn

import gausslab as gl
from gausslab.errors import ConfigError
from gausslab.metrics import iwae_nll
from gausslab.metrics.likelihood import bits_per_dim
from tests.conftest import tiny_images

NOISE = 0.6  # p(x|z) = N(z, NOISE^2), p(z) = N(0, 1)  =>  p(x) = N(0, 1 + NOISE^2)


def exact_posterior_vae() -> gl.models.VAE:
    """A gausslab VAE whose networks are swapped for the exact linear-Gaussian posterior and decoder."""
    model = gl.build_model("vae", (1,), latent_dim=1, likelihood="gaussian", gaussian_scale="fixed",
                           gaussian_std=NOISE, hidden=(4,))
    var = NOISE**2 / (1 + NOISE**2)  # q(z|x) = N(x / (1 + NOISE^2), var)
    encoder, decoder = nn.Linear(1, 2), nn.Linear(1, 1)
    with torch.no_grad():
        encoder.weight.copy_(torch.tensor([[1 / (1 + NOISE**2)], [0.0]]))
        encoder.bias.copy_(torch.tensor([0.0, math.log(math.expm1(math.sqrt(var) - 1e-5))]))  # softplus^-1
        decoder.weight.fill_(1.0)
        decoder.bias.fill_(0.0)
    model.encoder, model.decoder = encoder, decoder
    return model


def test_iwae_nll_equals_closed_form_marginal():
    model = exact_posterior_vae()
    x = torch.linspace(-2, 2, 37)[:, None]
    want = -torch.distributions.Normal(0.0, math.sqrt(1 + NOISE**2)).log_prob(x).mean().item()
    for k, batch, chunk in [(1, 64, 256), (50, 5, 7), (300, 37, 300)]:
        result = iwae_nll(model, x, k=k, batch=batch, chunk=chunk)
        assert result.nats == pytest.approx(want, abs=1e-4)
        assert result.bits_per_dim is None and result.k == k and result.n == 37
        assert result.per_example.shape == (37,)


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
        iwae_nll(exact_posterior_vae(), torch.zeros(3, 1), **bad)


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
