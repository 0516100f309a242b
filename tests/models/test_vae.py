import dataclasses
import math

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from gausslab.models import VAE, build_model
from gausslab.models import vae as vae_module
from tests import linear_gaussian as lg
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


GAIN, STD_SCALE = 0.5, 1.6  # a poor encoder: posterior mean halved, std 1.6x too wide


def standard_error(d: torch.Tensor) -> float:
    return d.std().item() / math.sqrt(len(d))


def check_iwae_against_closed_form(model: VAE) -> None:
    """IWAE_k where the importance weights vary (tests/linear_gaussian.py): the exact ELBO at k = 1, rising
    with k, below log p(x), and converging to it (Burda et al. 2016, thm. 1). Each comparison of means is
    made beyond 4 standard errors of the per-example differences, so seeds cannot decide it."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2000, 1, generator=g) * math.sqrt(1 + lg.NOISE**2)  # x ~ p(x)
    torch.manual_seed(0)
    with torch.no_grad():
        bounds = [model.iwae_bound(x, k).double() for k in (1, 3, 10)]
        converged = model.iwae_bound(x[:500], 2000, chunk=500).double()
    exact, log_px = lg.exact_elbo(x, GAIN, STD_SCALE), lg.log_px(x)
    assert (log_px - exact).mean() > 0.6  # the encoder is far from the posterior
    assert abs((bounds[0] - exact).mean().item()) < 4 * standard_error(bounds[0] - exact), "IWAE_1 is the ELBO"
    for low, high in zip(bounds, bounds[1:]):
        assert (high - low).mean().item() > 4 * standard_error(high - low), "IWAE_k must rise with k"
    assert (log_px - bounds[-1]).mean().item() > 4 * standard_error(log_px - bounds[-1]), "IWAE_10 < log p(x)"
    assert abs((log_px[:500] - converged).mean().item()) < 0.005, "IWAE_2000 converges to log p(x)"


def test_iwae_with_an_imperfect_encoder_matches_the_closed_forms():
    check_iwae_against_closed_form(lg.scalar_vae(GAIN, STD_SCALE))


class _PlainMean:
    """torch as vae.py sees it, with logsumexp(t, dim) planted as mean(t) + log n: IWAE_k becomes the ELBO."""

    def __getattr__(self, name):
        return getattr(torch, name)

    @staticmethod
    def logsumexp(t, dim):
        return t.mean(dim) + math.log(t.shape[dim])


def test_the_iwae_check_fails_when_log_mean_exp_is_a_plain_mean(monkeypatch):
    monkeypatch.setattr(vae_module, "torch", _PlainMean())
    with pytest.raises(AssertionError, match="IWAE_k must rise with k"):
        check_iwae_against_closed_form(lg.scalar_vae(GAIN, STD_SCALE))


def test_iwae_is_exact_with_the_true_posterior():
    """With q(z|x) = p(z|x) every importance weight equals p(x): IWAE(k) = log p(x) for any k."""
    torch.manual_seed(0)
    model = lg.linear_gaussian_vae(dim=3, latent=1)  # one latent unit: the true posterior is diagonal
    lg.set_exact_posterior(model)
    x = torch.randn(32, 3)
    with torch.no_grad():
        iwae = model.iwae_bound(x, 16)
        elbo = model.elbo(x.repeat(4000, 1)).elbo.view(4000, -1).mean(0)  # analytic KL: exact only on average
    log_px = lg.exact_log_px(model, x).float()
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


def test_elbo_terms_against_torch_distributions(vectors):
    # The same seeded z, scored by torch.distributions: log N(x; decoder(z), sigma^2) and the analytic
    # KL(q(z|x) || N(0, I)).
    model = build_model("vae", vectors, latent_dim=2)
    x = vectors.test
    with torch.no_grad():
        torch.manual_seed(5)
        terms = model.elbo(x)
        torch.manual_seed(5)
        q = model.encode(x)
        z = q.rsample()
        recon = Normal(model.decoder(z), model.likelihood.log_std.exp()).log_prob(x).sum(-1)
        kl = kl_divergence(q, Normal(torch.zeros_like(z), torch.ones_like(z))).sum(-1)
    assert terms.elbo.shape == (x.shape[0],)
    assert torch.allclose(terms.recon, recon, rtol=1e-5, atol=1e-5)
    assert torch.allclose(terms.kl, kl, rtol=1e-5, atol=1e-6)
    assert torch.allclose(terms.elbo, recon - kl, rtol=1e-5, atol=1e-5)


def test_elbo_averages_to_the_closed_form_with_an_imperfect_encoder():
    model = lg.scalar_vae(GAIN, STD_SCALE)
    x = torch.randn(500, 1, generator=torch.Generator().manual_seed(4)) * math.sqrt(1 + lg.NOISE**2)
    torch.manual_seed(0)
    with torch.no_grad():
        mean = model.elbo(x.repeat(40, 1)).elbo.double().view(40, -1).mean(0)  # 40 draws of z per example
    gap = mean - lg.exact_elbo(x, GAIN, STD_SCALE)
    assert abs(gap.mean().item()) < 4 * standard_error(gap)


def test_bernoulli_default_for_images_and_gaussian_for_vectors(images, vectors):
    assert type(build_model("vae", images).likelihood).__name__ == "Bernoulli"
    assert type(build_model("vae", vectors).likelihood).__name__ == "Gaussian"
    assert math.isfinite(build_model("vae", images, latent_dim=2).elbo(images.test).elbo.mean().item())
