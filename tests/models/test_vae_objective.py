"""The VAE's objective piece by piece, each against a computation written out here: the posterior's scale,
the KL (closed form and Monte Carlo), warm-up, free bits, the training losses and the held-out terms."""

import math

import pytest
import torch
from torch import nn
from torch.distributions import Normal, kl_divergence

from gausslab.models import VAE, build_model
from gausslab.models.vae import VAEConfig
from tests import linear_gaussian as lg


class Fixed(nn.Module):
    """An encoder whose output is the same row [2 * D] for every input."""

    def __init__(self, row):
        super().__init__()
        self.row = nn.Parameter(torch.tensor(row))

    def forward(self, x):
        return self.row.expand(x.shape[0], -1)


@pytest.mark.parametrize("likelihood, shape, levels, expected", [
    ("auto", (5,), None, "gaussian"),
    ("auto", (4, 5), None, "gaussian"),
    ("auto", (1, 8, 8), None, "bernoulli"),
    ("auto", (1, 8, 8), 2, "bernoulli"),
    ("auto", (1, 8, 8), 3, "logistic"),
    ("auto", (3, 8, 8), 256, "logistic"),
    ("gaussian", (1, 8, 8), 256, "gaussian"),
    ("bernoulli", (5,), None, "bernoulli"),
])
def test_the_likelihood_is_picked_from_the_data_shape_and_grey_levels(likelihood, shape, levels, expected):
    assert VAE.likelihood_kind(VAEConfig(likelihood=likelihood, levels=levels), shape) == expected


def test_the_posterior_scale_is_softplus_of_the_raw_output_plus_a_floor():
    model = build_model("vae", (2,), latent_dim=3, hidden=(4,))
    mu, raw = [0.5, -1.0, 2.0], [-40.0, 0.0, 3.0]
    model.encoder = Fixed(mu + raw)
    q = model.encode(torch.zeros(4, 2))
    expected = torch.tensor([math.log1p(math.exp(r)) + 1e-5 for r in raw])
    assert q.loc.shape == q.scale.shape == (4, 3)
    assert torch.equal(q.loc, torch.tensor(mu).expand(4, 3))
    assert torch.allclose(q.scale, expected.expand(4, 3), rtol=1e-6, atol=0)


def mixture_vae(**options):
    model = build_model("vae", (2,), latent_dim=3, hidden=(4,), prior="mog", prior_components=2, **options)
    model.encoder = Fixed([0.3, -0.2, 0.1, -1.0, 0.5, 0.0])
    return model


def test_the_kl_under_a_standard_normal_prior_is_the_closed_form_per_unit():
    model = build_model("vae", (2,), latent_dim=3, hidden=(4,))
    q = Normal(torch.tensor([[0.3, -1.0, 2.0]]), torch.tensor([[0.5, 1.0, 2.0]]))
    total, per_unit = model.kl(q, q.sample())
    reference = kl_divergence(q, Normal(0.0, 1.0))  # [1, 3]
    assert torch.allclose(per_unit, reference, rtol=1e-6) and torch.allclose(total, reference.sum(-1), rtol=1e-6)


@pytest.mark.parametrize("draws", [1, 2, 5])
def test_the_monte_carlo_kl_averages_the_prior_term_over_its_draws(draws):
    model = mixture_vae(kl_samples=draws)
    x = torch.zeros(6, 2)
    q = model.encode(x)
    torch.manual_seed(3)
    z = q.rsample()
    total, per_unit = model.kl(q, z)
    after = torch.rand(1)
    torch.manual_seed(3)
    z = q.rsample()
    more = q.rsample((draws - 1,))  # [draws - 1, B, D], in one call as the model draws them
    log_p = model.prior.log_prob(z) + sum(model.prior.log_prob(more[i]) for i in range(draws - 1))
    reference = q.log_prob(z).sum(-1) - log_p / draws
    assert per_unit is None and total.shape == (6,)
    assert torch.allclose(total, reference, rtol=1e-5, atol=1e-6)
    if draws == 1:
        torch.manual_seed(3)
        q.rsample()
        assert torch.equal(torch.rand(1), after), "one draw of z needs no more random numbers"


def test_without_warm_up_the_kl_weight_is_beta_from_the_first_step():
    model = build_model("vae", (4,), latent_dim=2, beta=2.5)
    assert [model.beta_at(s) for s in (0, 1, 1000)] == [2.5, 2.5, 2.5]
    warm = build_model("vae", (4,), latent_dim=2, warmup_steps=4)
    assert [warm.beta_at(s) for s in (0, 1, 2, 4, 9)] == [0.0, 0.25, 0.5, 1.0, 1.0]


def test_free_bits_of_one_nat_floor_each_unit_and_zero_leaves_the_kl_alone():
    kl_units = torch.tensor([[0.1, 3.0, 0.2], [0.3, 1.0, 4.0]])  # unit means 0.2, 2.0, 2.1
    one = build_model("vae", (4,), latent_dim=3, hidden=(8,), free_bits=1.0)
    assert one._free_bits(kl_units.sum(1).mean(), kl_units).item() == pytest.approx(1.0 + 2.0 + 2.1)
    zero = build_model("vae", (4,), latent_dim=3, hidden=(8,))
    below = torch.tensor([[-0.5, 0.1, 0.1]])  # a Monte Carlo estimate can dip below zero: left as it is
    assert zero._free_bits(torch.tensor(-0.3), below).item() == pytest.approx(-0.3)


@pytest.mark.parametrize("kl, floored", [(0.4, 1.5), (2.0, 2.0)])
def test_free_bits_without_a_per_unit_kl_floor_the_total_at_bits_times_latent_size(kl, floored):
    model = mixture_vae(free_bits=0.5)  # 3 latent units: a floor of 1.5 nats
    assert model._free_bits(torch.tensor(kl), None).item() == pytest.approx(floored)


def test_the_elbo_loss_is_the_warmed_up_kl_minus_the_reconstruction():
    model = build_model("vae", (2,), latent_dim=3, hidden=(4,), warmup_steps=10, beta=2.0)
    x = torch.randn(16, 2, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(1)
    loss = next(model.training_losses(x, 5))
    torch.manual_seed(1)
    q = model.encode(x)
    z = q.rsample()
    recon = Normal(model.decoder(z), model.likelihood.log_std.exp()).log_prob(x).sum(-1).mean()
    kl = kl_divergence(q, Normal(0.0, 1.0)).sum(-1).mean()
    assert loss.optimizer == "model" and set(loss.parts) == {"recon", "kl", "beta"}
    assert loss.value.item() == pytest.approx((1.0 * kl - recon).item(), rel=1e-5)
    assert loss.parts["beta"].item() == 1.0 and loss.parts["kl"].item() == pytest.approx(kl.item(), rel=1e-5)
    assert loss.parts["recon"].item() == pytest.approx(recon.item(), rel=1e-5)


def test_the_iwae_loss_is_minus_the_log_mean_importance_weight():
    model = build_model("vae", (2,), latent_dim=3, hidden=(4,), objective="iwae", iwae_k=3)
    x = torch.randn(16, 2, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(1)
    loss = next(model.training_losses(x, 0))
    torch.manual_seed(1)
    q = model.encode(x)
    z = q.rsample((3,))  # [3, B, D]
    sigma = model.likelihood.log_std.exp()
    means = model.decoder(z.flatten(0, 1)).view(3, 16, 2)
    log_w = Normal(means, sigma).log_prob(x).sum(-1) + Normal(0.0, 1.0).log_prob(z).sum(-1) - q.log_prob(z).sum(-1)
    bound = log_w.exp().mean(0).log().mean()  # log of the mean weight: no logsumexp, the weights are moderate
    assert set(loss.parts) == {"recon", "kl", "iwae_bound"}
    assert loss.value.item() == pytest.approx(-bound.item(), rel=1e-5)


def exact_posterior_vae(objective, k):
    cfg = VAEConfig(latent_dim=1, hidden=(), likelihood="gaussian", gaussian_scale="fixed", gaussian_std=0.5,
                    objective=objective, iwae_k=k)
    model = build_model(cfg, (3,), seed=1)
    lg.set_exact_posterior(model)
    return model.eval()


def test_held_out_terms_are_the_batch_means_with_the_bound_under_iwae():
    x = torch.randn(64, 3, generator=torch.Generator().manual_seed(2))
    model = exact_posterior_vae("iwae", 2)
    with torch.no_grad():
        terms = model.validation_terms(x)
        q = model.encode(x)
    kl = kl_divergence(q, Normal(0.0, 1.0)).sum(-1).mean()
    assert set(terms) == {"elbo", "recon", "kl", "iwae_bound"}
    assert terms["iwae_bound"].item() == pytest.approx(lg.exact_log_px(model, x).mean().item(), abs=1e-4)
    assert terms["kl"].item() == pytest.approx(kl.item(), rel=1e-5)
    assert terms["elbo"].item() == pytest.approx((terms["recon"] - terms["kl"]).item(), rel=1e-5, abs=1e-5)
    assert terms["elbo"].item() < terms["recon"].item()
    assert set(exact_posterior_vae("elbo", 2).validation_terms(x)) == {"elbo", "recon", "kl"}


def test_the_elbo_under_a_mixture_prior_charges_log_q_minus_log_p_at_its_own_draw():
    model = mixture_vae()
    x = torch.randn(6, 2, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(2)
    terms = model.elbo(x)
    torch.manual_seed(2)
    q = model.encode(x)
    z = q.rsample()
    recon = Normal(model.decoder(z), model.likelihood.log_std.exp()).log_prob(x).sum(-1)
    kl = q.log_prob(z).sum(-1) - model.prior.log_prob(z)
    assert torch.allclose(terms.kl, kl, rtol=1e-5, atol=1e-6) and torch.allclose(terms.recon, recon, rtol=1e-5)
    assert torch.allclose(terms.elbo, recon - kl, rtol=1e-5, atol=1e-5)
