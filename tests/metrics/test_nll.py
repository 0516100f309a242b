"""IWAE NLL against the closed-form marginal of a linear-Gaussian VAE, where every weight equals p(x)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import gausslab as gl
from gausslab.core.errors import ConfigError
from gausslab.metrics import iwae_nll
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
