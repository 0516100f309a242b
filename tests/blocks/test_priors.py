"""Every prior is a normalised density whose samples follow it, and its parameters learn."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import integrate, stats
from torch import nn
from torch.distributions import Normal

from gausslab.models.vae import VAEConfig
from gausslab.blocks.priors import PRIORS, StandardNormal, VampPrior

DATA_SHAPE = (3,)


class TinyEncoder(nn.Module):
    """x [K, 3] -> q(z|x) = N(Wx + b, softplus(.)), standing in for a VAE's encoder."""

    def __init__(self, latent_dim: int):
        super().__init__()
        self.net = nn.Linear(DATA_SHAPE[0], 2 * latent_dim)

    def forward(self, x: torch.Tensor) -> Normal:
        mu, raw = self.net(x).chunk(2, dim=-1)
        return Normal(2 * mu, nn.functional.softplus(raw) + 0.2)


def make_prior(name: str, latent_dim: int) -> tuple[nn.Module, nn.Module]:
    """A prior with seeded, perturbed parameters (so it is not N(0, I)), and the encoder it may use."""
    torch.manual_seed(0)
    encoder = TinyEncoder(latent_dim)
    prior = PRIORS[name](latent_dim, components=3, flow_layers=3, data_shape=DATA_SHAPE, encode=encoder)
    with torch.no_grad():
        for p in prior.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return prior, encoder


def grid(latent_dim: int, half: float = 15.0) -> tuple[torch.Tensor, float]:
    """Points [M, D] of a regular grid on [-half, half]^D and the volume of one cell.

    Riemann sums of smooth, fast-decaying densities on such grids are accurate far beyond 1e-3.
    """
    axis = torch.linspace(-half, half, 2001 if latent_dim == 1 else 301, dtype=torch.float64)
    cell = (axis[1] - axis[0]).item() ** latent_dim
    pts = torch.cartesian_prod(*[axis] * latent_dim) if latent_dim > 1 else axis.unsqueeze(1)
    return pts.float(), cell


def density_on_grid(prior: nn.Module, latent_dim: int) -> tuple[torch.Tensor, torch.Tensor, float]:
    pts, cell = grid(latent_dim)
    with torch.no_grad():
        dens = torch.cat([prior.log_prob(c) for c in pts.split(20_000)]).double().exp()
    return pts.double(), dens, cell


def test_registry_matches_config_choices():
    assert set(PRIORS) == set(VAEConfig.model_fields["prior"].annotation.__args__)


@pytest.mark.parametrize("latent_dim", [1, 2])
@pytest.mark.parametrize("name", sorted(PRIORS))
def test_log_prob_is_normalised(name, latent_dim):
    prior, _ = make_prior(name, latent_dim)
    _, dens, cell = density_on_grid(prior, latent_dim)
    assert float(dens.sum() * cell) == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize("name", sorted(PRIORS))
def test_sample_moments_match_log_prob(name):
    """Sample mean and covariance agree with those of exp(log_prob) integrated on a grid."""
    prior, _ = make_prior(name, 2)
    pts, dens, cell = density_on_grid(prior, 2)
    w = dens * cell / (dens * cell).sum()
    mean = (w.unsqueeze(1) * pts).sum(0)
    cov = (w.view(-1, 1, 1) * torch.einsum("ni,nj->nij", pts - mean, pts - mean)).sum(0)
    with torch.no_grad():
        z = prior.sample(200_000, generator=torch.Generator().manual_seed(1)).double()
    assert z.shape == (200_000, 2)
    torch.testing.assert_close(z.mean(0), mean, atol=0.02, rtol=0)
    torch.testing.assert_close(torch.cov(z.T), cov, atol=0.04, rtol=0.02)


@pytest.mark.parametrize("name", sorted(PRIORS))
def test_samples_pass_ks_test_against_log_prob_cdf(name):
    """1-D: the empirical CDF of samples matches the CDF obtained by integrating exp(log_prob)."""
    prior, _ = make_prior(name, 1)
    pts, dens, _ = density_on_grid(prior, 1)
    axis, dens = pts[:, 0].numpy(), dens.numpy()
    cdf_grid = integrate.cumulative_trapezoid(dens, axis, initial=0.0)
    with torch.no_grad():
        z = prior.sample(20_000, generator=torch.Generator().manual_seed(2))[:, 0].double().numpy()
    result = stats.kstest(z, lambda v: np.interp(v, axis, cdf_grid))
    assert result.pvalue > 1e-3, f"KS statistic {result.statistic:.4f}"


@pytest.mark.parametrize("name", sorted(PRIORS))
def test_sampling_is_seeded(name):
    prior, _ = make_prior(name, 2)
    with torch.no_grad():
        a = prior.sample(7, generator=torch.Generator().manual_seed(3))
        b = prior.sample(7, generator=torch.Generator().manual_seed(3))
        c = prior.sample(7, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("name", sorted(set(PRIORS) - {"standard"}))
def test_gradients_reach_every_learnable_parameter(name):
    prior, encoder = make_prior(name, 2)
    z = torch.randn(64, 2, generator=torch.Generator().manual_seed(5))
    prior.log_prob(z).mean().backward()
    learnable = list(prior.named_parameters()) + (list(encoder.named_parameters()) if name == "vamp" else [])
    assert learnable
    for key, p in learnable:
        assert p.grad is not None and p.grad.abs().sum() > 0, f"no gradient reaches {key}"


def test_log_prob_batches_over_leading_dimensions():
    """log_prob maps [..., D] -> [...] (the IWAE bound passes [k, B, D])."""
    for name in PRIORS:
        prior, _ = make_prior(name, 2)
        z = torch.randn(4, 5, 2)
        with torch.no_grad():
            torch.testing.assert_close(prior.log_prob(z), prior.log_prob(z.view(20, 2)).view(4, 5))


def test_standard_normal_matches_scipy_and_its_closed_form_kl():
    prior = StandardNormal(3)
    z = torch.randn(10, 3, dtype=torch.float64)
    expected = stats.multivariate_normal(mean=[0, 0, 0]).logpdf(z.numpy())
    torch.testing.assert_close(prior.log_prob(z), torch.from_numpy(expected))
    q = Normal(torch.tensor([[0.5, -1.0, 0.0]]), torch.tensor([[0.3, 2.0, 1.0]]))
    by_hand = 0.5 * (q.scale**2 + q.loc**2 - 1) - q.scale.log()  # KL(N(m, s^2) || N(0, 1)) per unit
    torch.testing.assert_close(prior.kl(q), by_hand)


@pytest.mark.parametrize("name", sorted(set(PRIORS) - {"standard"}))
def test_priors_without_closed_form_kl_do_not_offer_one(name):
    prior, _ = make_prior(name, 2)
    assert getattr(prior, "kl", None) is None


def test_vamp_prior_is_the_mixture_of_posteriors_at_its_pseudo_inputs():
    prior, encoder = make_prior("vamp", 2)
    z = torch.randn(6, 2)
    with torch.no_grad():
        q = encoder(prior.pseudo_inputs)
        by_loop = torch.stack([q.log_prob(zi).sum(-1).exp().mean().log() for zi in z])
        torch.testing.assert_close(prior.log_prob(z), by_loop)


def test_vamp_prior_keeps_the_encoder_out_of_its_state():
    prior, encoder = make_prior("vamp", 2)
    assert list(prior.state_dict()) == ["pseudo_inputs"]
    assert prior.pseudo_inputs.shape == (3, *DATA_SHAPE)


def test_vamp_pseudo_inputs_start_near_the_dark_background_and_stay_pixels():
    torch.manual_seed(0)
    prior = VampPrior(2, components=40, data_shape=(1, 5, 5), encode=lambda x: None)
    u = prior.inputs()
    assert u.shape == (40, 1, 5, 5) and u.min() >= 0 and u.max() <= 1
    assert u.mean().item() == pytest.approx(0.05, abs=0.003) and u.std().item() == pytest.approx(0.01, abs=0.002)
    with torch.no_grad():
        prior.pseudo_inputs[0].fill_(-3.0)
        prior.pseudo_inputs[1].fill_(4.0)
    assert prior.inputs()[0].max() == 0 and prior.inputs()[1].min() == 1  # hardtanh keeps them in [0, 1]
    vectors = VampPrior(2, components=4, data_shape=(3,), encode=lambda x: None)
    assert vectors.inputs() is vectors.pseudo_inputs  # the user's units: unconstrained


def test_a_fresh_mixture_prior_has_the_mean_and_covariance_of_n01():
    torch.manual_seed(0)
    prior = PRIORS["mog"](4, components=10)
    with torch.no_grad():
        z = prior.sample(200_000, generator=torch.Generator().manual_seed(1)).double()
    torch.testing.assert_close(z.mean(0), torch.zeros(4, dtype=torch.float64), atol=0.35, rtol=0)
    torch.testing.assert_close(torch.cov(z.T), torch.eye(4, dtype=torch.float64), atol=0.3, rtol=0)
    assert prior.means.std().item() > 0.2  # the components start apart, not on top of each other


def test_flow_samples_map_back_to_their_base_noise():
    """sample = f^-1(u) with u ~ N(0, I) from the same generator, so f(sample) recovers u."""
    prior, _ = make_prior("flow", 4)
    with torch.no_grad():
        z = prior.sample(50, generator=torch.Generator().manual_seed(6))
        u = torch.randn(50, 4, generator=torch.Generator().manual_seed(6))
        for layer in prior.layers:
            z, _ = layer(z)
    torch.testing.assert_close(z, u, atol=1e-5, rtol=0)
