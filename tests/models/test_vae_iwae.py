"""The VAE trained on the importance-weighted bound (Burda et al. 2016): k = 1 is the ELBO run, the loss is
the bound on the same draws, and the bound sits between the ELBO and log p(x) where the weights vary."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Bernoulli, Normal

import gausslab as gl
from gausslab.training.config import TrainConfig
from gausslab.training.run_config import resolve
from gausslab.core.errors import ConfigError
from gausslab.models import build_model
from tests.conftest import tiny_images
from tests.linear_gaussian import exact_log_px, linear_gaussian_vae, set_exact_posterior

TINY = dict(latent_dim=3, hidden=(16,))


def test_iwae_with_one_sample_trains_the_elbo_run_bit_for_bit():
    data = tiny_images()
    train = TrainConfig(steps=8, epochs=100, batch_size=16, checkpoint_every=8, seed=3)
    elbo = gl.fit(build_model("vae", data, seed=1, **TINY), data, train).model
    iwae = gl.fit(build_model("vae", data, seed=1, objective="iwae", iwae_k=1, **TINY), data, train).model
    a, b = elbo.state_dict(), iwae.state_dict()
    assert list(a) == list(b)
    for key in a:
        assert torch.equal(a[key], b[key]), f"{key} differs"


def hand_log_weights(model, x: torch.Tensor, eps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(log p(x|z), log q(z|x) - log p(z)) [k, B] at z = mu + sigma * eps, from the raw networks and
    torch.distributions (Bernoulli pixels, N(0, I) prior)."""
    mu, raw = model.encoder(x).chunk(2, dim=-1)
    sigma = F.softplus(raw) + 1e-5
    z = mu + sigma * eps  # [k, B, D]
    logits = model.decoder(z.flatten(0, 1)).view(*z.shape[:2], *x.shape[1:])
    log_px = Bernoulli(logits=logits).log_prob(x.expand_as(logits)).flatten(2).sum(-1)
    log_ratio = Normal(mu, sigma).log_prob(z).sum(-1) - Normal(0.0, 1.0).log_prob(z).sum(-1)
    return log_px, log_ratio


def log_mean_exp(log_w: torch.Tensor) -> torch.Tensor:
    top = log_w.max(0).values
    return top + (log_w - top).exp().mean(0).log()


def test_iwae_training_loss_is_minus_the_bound_on_the_same_draws():
    data, k = tiny_images(), 7
    model = build_model("vae", data, seed=0, objective="iwae", iwae_k=k, **TINY)
    x = data.train[:12]
    torch.manual_seed(5)
    loss = next(model.training_losses(x, step=0))
    with torch.no_grad():
        torch.manual_seed(5)
        bound = model.iwae_bound(x, k)
        torch.manual_seed(5)
        log_px, log_ratio = hand_log_weights(model, x, torch.randn(k, 12, 3))
    assert torch.equal(loss.value, -bound.mean())
    torch.testing.assert_close(loss.value, -log_mean_exp(log_px - log_ratio).mean())
    torch.testing.assert_close(loss.parts["iwae_bound"], log_mean_exp(log_px - log_ratio).mean())
    torch.testing.assert_close(loss.parts["recon"], log_px.mean())
    torch.testing.assert_close(loss.parts["kl"], log_ratio.mean())


def test_chunked_bound_recomputes_activations_with_the_same_gradients():
    """k > chunk: draws chunk by chunk, decoder activations recomputed in backward (checkpointing)."""
    data, k, chunk = tiny_images(), 7, 3
    model = build_model("vae", data, seed=0, **TINY)
    x = data.train[:10]
    torch.manual_seed(2)
    model.iwae_bound(x, k, chunk=chunk).mean().backward()
    chunked = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    torch.manual_seed(2)
    eps = torch.cat([torch.randn(m, 10, 3) for m in (3, 3, 1)])  # the same draws, chunk by chunk
    log_px, log_ratio = hand_log_weights(model, x, eps)
    log_mean_exp(log_px - log_ratio).mean().backward()
    for name, p in model.named_parameters():
        torch.testing.assert_close(chunked[name], p.grad, msg=f"gradient of {name}")


def imperfect_linear_gaussian_vae():
    """A linear-Gaussian VAE (p(x) known) whose encoder is the true posterior shifted by one posterior std
    and twice as wide: the importance weights vary, and their variance is finite."""
    model = linear_gaussian_vae(dim=3, latent=1)
    set_exact_posterior(model)
    lin, enc = model.decoder.net[0], model.encoder.net[0]
    w, s2 = lin.weight.double(), model.config.gaussian_std**2
    std = (1 + w.T @ w / s2).inverse().sqrt().squeeze()
    with torch.no_grad():
        enc.bias[0] += float(std)
        enc.bias[1] = math.log(math.expm1(2 * float(std) - 1e-5))
    return model


def exact_elbo(model, x: torch.Tensor) -> torch.Tensor:
    """log p(x) - KL(q(z|x) || p(z|x)) in closed form [B] (float64), the posterior from the linear model."""
    lin = model.decoder.net[0]
    w, b, s2 = lin.weight.double(), lin.bias.double(), model.config.gaussian_std**2
    post_var = (1 + w.T @ w / s2).inverse().squeeze()
    post_mean = ((x.double() - b) @ w / s2).squeeze(-1) * post_var
    with torch.no_grad():
        q = model.encode(x)
    m, s = q.loc.double().squeeze(-1), q.scale.double().squeeze(-1)
    kl = torch.log(post_var.sqrt() / s) + (s**2 + (m - post_mean) ** 2) / (2 * post_var) - 0.5
    return exact_log_px(model, x) - kl


@pytest.mark.slow
def test_iwae_bound_rises_with_k_from_the_elbo_to_log_px_where_weights_vary():
    """Burda et al. 2016, thm. 1: ELBO = L_1 <= L_k <= L_m <= log p(x) for k <= m, and L_k -> log p(x).
    Here L_64 is 2e-3 nats below log p(x), L_4096 1e-4; the Monte Carlo spread of the means is below both gaps."""
    torch.manual_seed(0)
    model = imperfect_linear_gaussian_vae()
    x = torch.randn(4096, 3) * 1.5
    log_px = exact_log_px(model, x).mean().item()
    elbo = exact_elbo(model, x).mean().item()
    with torch.no_grad():
        bounds = [model.iwae_bound(x, k, chunk=64).double().mean().item() for k in (4, 64, 4096)]
    assert log_px - elbo > 1.0  # the encoder is far from the posterior
    assert elbo < bounds[0] < bounds[1] < bounds[2] <= log_px + 1e-3
    assert bounds[2] == pytest.approx(log_px, abs=1e-3)


@pytest.mark.parametrize("setting", ["model.beta=2", "model.warmup_steps=10", "model.free_bits=0.5"])
def test_iwae_refuses_options_that_weight_the_kl_term(setting):
    with pytest.raises(ConfigError) as err:
        resolve(overrides=["model.objective=iwae", setting])
    message = str(err.value)
    assert "\n" not in message and setting.split("=")[0] in message and "iwae" in message
