"""IWAE NLL against the closed-form marginal of a linear-Gaussian VAE, with the exact posterior (every
weight equals p(x)) and with a poor encoder (the weights vary)."""

from __future__ import annotations

import math

import pytest
import torch

import gausslab as gl
from gausslab.core.errors import ConfigError
from gausslab.metrics import iwae_nll
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
