import dataclasses
import math

import pytest
import torch
from torch.distributions import MultivariateNormal

from gausslab.config import VAEConfig
from gausslab.models import VAE, build_model
from tests.conftest import tiny_images
from tests.models.suite import check_model


@pytest.mark.parametrize("data_name", ["images", "vectors"])
def test_shared_suite(data_name, request, tmp_path):
    data = request.getfixturevalue(data_name)
    check_model(lambda: build_model("vae", data, latent_dim=3, hidden=(16,)), data, tmp_path)


@pytest.mark.parametrize("likelihood", ["logistic", "gaussian", "bernoulli"])
def test_vae_on_grey_levels_passes_suite(likelihood, tmp_path):
    """Dequantized (or binarized) batches: seeded, and a resumed run draws the same noise."""
    data = dataclasses.replace(tiny_images(), levels=17)
    check_model(lambda: build_model("vae", data, latent_dim=3, hidden=(16,), likelihood=likelihood), data, tmp_path)


@pytest.mark.slow
def test_conv_vae_passes_suite(tmp_path):
    data = tiny_images(n=48, side=16)
    check_model(lambda: build_model("vae", data, latent_dim=3, arch="conv", channels=(4, 8)), data, tmp_path)


def linear_gaussian_vae(dim=3, latent=2, std=0.5) -> VAE:
    """Decoder x = W z + b + N(0, std^2 I) with a linear encoder: p(x) = N(b, W W^T + std^2 I) in closed form."""
    cfg = VAEConfig(latent_dim=latent, hidden=(), likelihood="gaussian", gaussian_scale="fixed", gaussian_std=std)
    return build_model(cfg, (dim,), seed=1)


def exact_log_px(model: VAE, x: torch.Tensor) -> torch.Tensor:
    lin = model.decoder.net[0]
    w, b = lin.weight.double(), lin.bias.double()
    cov = w @ w.T + model.config.gaussian_std**2 * torch.eye(w.shape[0], dtype=torch.float64)
    return MultivariateNormal(b, cov).log_prob(x.double())


def test_elbo_below_iwae_below_log_px_on_linear_gaussian():
    torch.manual_seed(0)
    model = linear_gaussian_vae()
    x = torch.randn(64, 3)
    with torch.no_grad():
        elbo = model.elbo(x.repeat(200, 1)).elbo.view(200, -1).mean(0)
        iwae_small = model.iwae_bound(x, 8)
        iwae_big = model.iwae_bound(x, 20000, chunk=1000)
    log_px = exact_log_px(model, x).float()
    assert elbo.mean() < iwae_small.mean() < iwae_big.mean() <= log_px.mean() + 1e-2


def set_exact_posterior(model: VAE) -> None:
    """Encoder := the true posterior N(S W^T (x - b) / s^2, S), S = (I + W^T W / s^2)^-1."""
    lin, enc = model.decoder.net[0], model.encoder.net[0]
    w, b, s2 = lin.weight.double(), lin.bias.double(), model.config.gaussian_std**2
    cov = torch.linalg.inv(torch.eye(w.shape[1], dtype=torch.float64) + w.T @ w / s2)
    gain = cov @ w.T / s2  # [D, dim]
    std = cov.diagonal().sqrt()
    d = w.shape[1]
    with torch.no_grad():
        enc.weight.zero_()
        enc.weight[:d] = gain.float()
        enc.bias[:d] = (-gain @ b).float()
        enc.bias[d:] = torch.log(torch.expm1(std - 1e-5)).float()


def test_iwae_is_exact_with_the_true_posterior():
    """With q(z|x) = p(z|x) every importance weight equals p(x): IWAE(k) = log p(x) for any k."""
    torch.manual_seed(0)
    model = linear_gaussian_vae(dim=3, latent=1)  # one latent unit: the true posterior is diagonal
    set_exact_posterior(model)
    x = torch.randn(32, 3)
    with torch.no_grad():
        iwae = model.iwae_bound(x, 16)
        elbo = model.elbo(x.repeat(4000, 1)).elbo.view(4000, -1).mean(0)  # analytic KL: exact only on average
    log_px = exact_log_px(model, x).float()
    assert torch.allclose(iwae, log_px, atol=1e-4)
    assert torch.allclose(elbo, log_px, atol=0.1)


def test_free_bits_floor_each_unit():
    model = build_model("vae", (4,), latent_dim=3, hidden=(8,), free_bits=0.5)
    kl_units = torch.tensor([[0.1, 1.0, 0.2], [0.1, 2.0, 0.0]])
    floored = model._free_bits(kl_units.sum(1).mean(), kl_units)
    assert floored.item() == pytest.approx(0.5 + 1.5 + 0.5)


def test_kl_warmup_is_linear():
    model = build_model("vae", (4,), latent_dim=2, warmup_steps=100, beta=2.0)
    assert [model.beta_at(s) for s in (0, 50, 100, 500)] == [0.0, 1.0, 2.0, 2.0]


def test_elbo_terms_are_consistent(vectors):
    model = build_model("vae", vectors, latent_dim=2)
    terms = model.elbo(vectors.test)
    assert terms.elbo.shape == (vectors.test.shape[0],)
    assert torch.allclose(terms.elbo, terms.recon - terms.kl)
    assert (terms.kl >= 0).all()


def test_bernoulli_default_for_images_and_gaussian_for_vectors(images, vectors):
    assert type(build_model("vae", images).likelihood).__name__ == "Bernoulli"
    assert type(build_model("vae", vectors).likelihood).__name__ == "Gaussian"
    assert math.isfinite(build_model("vae", images, latent_dim=2).elbo(images.test).elbo.mean().item())
