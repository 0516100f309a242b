"""Latent diagnostics on a linear-Gaussian encoder, where rate, I(x;z), KL(q(z)||p(z)) are closed form."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import Tensor, nn
from torch.distributions import Normal

import gausslab as gl
import gausslab.metrics.latent as latent
from gausslab.blocks.likelihoods import Gaussian
from gausslab.metrics import latent_fidelity, latent_report, prdc
from gausslab.blocks.priors import StandardNormal
from tests.conftest import tiny_vectors

GAIN = torch.tensor([1.0, 0.5, 0.05], dtype=torch.float64)  # unit 3: Var(mu) = 0.0025 < 0.01, inactive
SHIFT = torch.tensor([0.3, -0.2, 0.0], dtype=torch.float64)
STD = torch.tensor([0.5, 0.6, 0.9], dtype=torch.float64)
NOISE = 0.7  # p(x|z) = N(z, NOISE^2 I)


class LinearGaussianVAE(nn.Module):
    """x ~ N(0, I); q(z|x) = N(GAIN x + SHIFT, STD^2); p(z) = N(0, I); p(x|z) = N(z, NOISE^2)."""

    def __init__(self, gain: Tensor = GAIN):
        super().__init__()
        self.gain, self.prior = gain, StandardNormal(3)
        self.likelihood = Gaussian((3,), scale="fixed", std=NOISE).double()

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    def encode(self, x: Tensor) -> Normal:
        return Normal(x * self.gain + SHIFT, STD.expand_as(x))

    def decoder_params(self, z: Tensor) -> Tensor:
        return z


def closed_form(x: Tensor, gain: Tensor = GAIN) -> dict[str, float]:
    """Population I and KL(q(z)||p(z)), q(z) = N(SHIFT, diag(GAIN^2 + STD^2)) (rate = I + KL), and the
    rate and distortion on the sample x itself (they need only its moments)."""
    marg = gain**2 + STD**2
    mi = 0.5 * torch.log(marg / STD**2).sum()
    mkl = 0.5 * (marg + SHIFT**2 - 1 - marg.log()).sum()
    mean_sq = ((x * gain + SHIFT) ** 2).mean(0)  # E_x |E_q z|^2 per unit
    rate = 0.5 * (STD**2 + mean_sq - 1 - (STD**2).log()).sum()
    # E -log N(x; z, NOISE^2) with z ~ q: E(x - z)^2 = E((1 - GAIN) x - SHIFT)^2 + STD^2
    sq = (((1 - gain) * x - SHIFT) ** 2).mean(0) + STD**2
    distortion = (0.5 * sq / NOISE**2 + math.log(NOISE) + 0.5 * math.log(2 * math.pi)).sum()
    return {"mutual_info": mi.item(), "marginal_kl": mkl.item(), "rate": rate.item(), "distortion": distortion.item()}


def data(n: int = 3000, seed: int = 123) -> Tensor:
    return torch.randn(n, 3, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_elbo_surgery_terms_and_the_rate_match_closed_forms():
    x = data()
    q = LinearGaussianVAE().encode(x)
    terms = latent.aggregate_posterior_terms(q.loc, q.scale, StandardNormal(3).log_prob,
                                             torch.Generator().manual_seed(0), samples=4)
    want = closed_form(x)
    # Errors against the closed forms on seeds 0-2: I 0.029, KL(q(z)||p(z)) 0.0048, rate 0.017 at most.
    assert terms.mutual_info == pytest.approx(want["mutual_info"], abs=0.045)
    assert terms.marginal_kl == pytest.approx(want["marginal_kl"], abs=0.008)
    assert terms.rate_mc == pytest.approx(want["rate"], abs=0.03)


def test_active_units_count_units_whose_mean_varies():
    mu = LinearGaussianVAE().encode(data()).loc
    assert latent.active_units(mu) == 2
    assert latent.active_units(mu, threshold=0.001) == 3


def test_active_units_are_judged_on_the_priors_own_scale():
    """A learned prior with marginal variance 100 in unit 0: a spread of 0.5 there is small, not active."""
    mu = torch.randn(500, 2, generator=torch.Generator().manual_seed(0)) * math.sqrt(0.5)
    var = mu.double().var(0)
    assert latent.active_units(mu) == 2
    assert latent.active_units(mu, prior_variance=torch.tensor([100.0, 1.0])) == 1
    assert latent.active_units(mu, prior_variance=var / 0.01 * 1.001) == 0  # just above each unit's threshold
    assert latent.active_units(mu, prior_variance=var / 0.01 * 0.999) == 2


def test_log_aggregate_posterior_matches_brute_force(monkeypatch):
    g = torch.Generator().manual_seed(1)
    mu, std = torch.randn(40, 2, generator=g), torch.rand(40, 2, generator=g) + 0.2
    z = torch.randn(25, 2, generator=g)
    each = Normal(mu.double(), std.double()).log_prob(z.double()[:, None, :]).sum(-1)  # [25, 40]
    monkeypatch.setattr(latent, "_CHUNK", 7 * 40)  # several query chunks
    got = latent.log_aggregate_posterior(z, mu, std)
    assert torch.allclose(got, torch.logsumexp(each, 1) - math.log(40), atol=1e-10)
    drop = torch.arange(25) % 40
    each[torch.arange(25), drop] = -math.inf
    got = latent.log_aggregate_posterior(z, mu, std, exclude=drop)
    assert torch.allclose(got, torch.logsumexp(each, 1) - math.log(39), atol=1e-10)


def test_prior_hole_score():
    g = torch.Generator().manual_seed(2)
    s = 0.6
    mu = torch.randn(2000, 2, generator=g) * math.sqrt(1 - s**2)  # aggregate posterior = N(0, I) = prior
    std = torch.full_like(mu, s)
    prior = torch.randn(2000, 2, generator=g)
    matched = latent.prior_hole_score(mu, std, prior, g)
    assert matched < 0.03  # ~ the 1% quantile by construction
    members = latent.prior_hole_membership(mu, std, prior, torch.Generator().manual_seed(5))
    assert members.dtype == torch.bool and members.shape == (2000,)
    assert latent.prior_hole_score(mu * 0.3 + 2.5, std * 0.3, prior, g) > 0.5  # q(z) misses most of p(z)


class GaussianSampler:
    """z ~ N(mean, diag std^2) [n, 3], as a latent sampler."""

    def __init__(self, mean: Tensor, std: Tensor):
        self.mean, self.std = mean, std

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        return self.mean + self.std * torch.randn(n, 3, generator=generator, dtype=torch.float64)


def test_sampler_hole_score_counts_draws_where_no_example_is_encoded():
    model, x = LinearGaussianVAE(), data(2000)
    aggregate = GaussianSampler(SHIFT, (GAIN**2 + STD**2).sqrt())  # q(z) of x ~ N(0, I), exactly
    assert latent.sampler_hole_score(model, x, aggregate) < 0.03  # ~ the 1% quantile by construction
    assert latent.sampler_hole_score(model, x, GaussianSampler(SHIFT + 4, STD)) > 0.9


def test_prior_hole_score_counts_the_prior_samples_placed_outside_q():
    # q(z): 400 narrow posteriors on a grid over [-1, 1]^2. Of 200 "prior samples", 130 sit exactly on a
    # posterior mean (denser than any leave-one-out code) and 70 far away (q ~ 0 there): the score is 70/200.
    g = torch.Generator().manual_seed(3)
    side = torch.linspace(-1, 1, 20)
    mu = torch.cartesian_prod(side, side)
    std = torch.full_like(mu, 0.08)
    far = torch.tensor([6.0, -6.0]) + torch.randn(70, 2, generator=g)
    samples = torch.cat([mu[torch.randperm(400, generator=g)[:130]], far])
    assert latent.prior_hole_score(mu, std, samples, g) == pytest.approx(70 / 200, abs=1e-12)
    assert latent.prior_hole_score(mu, std, far, g) == 1.0
    assert latent.prior_hole_score(mu, std, mu, g) == 0.0


def test_latent_report_on_linear_gaussian_model():
    x = data()
    report = latent_report(LinearGaussianVAE(), x, samples=4)
    want = closed_form(x)
    assert report.rate == pytest.approx(want["rate"], rel=1e-9)  # closed-form KL
    assert report.distortion == pytest.approx(want["distortion"], abs=0.05)  # one z per example
    assert report.mutual_info == pytest.approx(want["mutual_info"], abs=0.045)  # as above (the same seed)
    assert report.marginal_kl == pytest.approx(want["marginal_kl"], abs=0.008)
    assert report.active_units == 2 and not report.collapsed
    assert 0 <= report.prior_holes <= 1
    assert set(report.to_dict()) == {"rate", "distortion", "active_units", "mutual_info", "marginal_kl",
                                     "prior_holes", "collapsed"}
    assert len(report.hole_membership) == len(x)  # one prior draw per example unless asked otherwise
    more = latent_report(LinearGaussianVAE(), x, hole_draws=3000)
    assert len(more.hole_membership) == 3000 and more.prior_holes == more.hole_membership.double().mean().item()


def test_collapsed_posterior_is_flagged():
    report = latent_report(LinearGaussianVAE(gain=torch.zeros(3, dtype=torch.float64)), data(500))
    assert report.active_units == 0 and report.collapsed
    assert report.mutual_info == pytest.approx(0.0, abs=0.02)


def test_latent_fidelity_compares_prior_samples_with_encoded_means():
    ds = tiny_vectors()
    model = gl.build_model("vae", ds, latent_dim=2)
    out = latent_fidelity(model, ds.test, lambda x: x.flatten(1), k=3, seed=5)
    assert set(out) == {f"{m}_vs_recon" for m in ("precision", "recall", "density", "coverage")} | {
        f"latent_{m}" for m in ("precision", "recall", "density", "coverage")}
    with torch.no_grad():
        mu = model.encode(ds.test).loc
        z = model.prior.sample(len(ds.test), generator=torch.Generator().manual_seed(5))
        want = prdc(mu, z, 3)
        pixels = prdc(model.decode(mu), model.decode(z), 3)
    assert all(out[f"latent_{key}"] == want[key] for key in want)
    assert all(out[f"{key}_vs_recon"] == pixels[key] for key in pixels)
    assert all(np.isfinite(v) for v in out.values())
