"""Mode coverage and toy likelihoods against hand-built sample sets and independent references."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
import torch

from gausslab.data import Modes, load_dataset
from gausslab.core.errors import DataError
from gausslab.metrics import ModeCoverage, kde_log_likelihood, mode_coverage, toy_metrics
from gausslab.models import GenerativeModel, build_model
from tests.conftest import tiny_vectors
from tests.linear_gaussian import exact_log_px, linear_gaussian_vae, set_exact_posterior


@pytest.fixture(scope="module")
def ring8():
    return load_dataset("ring8")


@pytest.fixture(scope="module")
def grid25():
    return load_dataset("grid25")


def around(centres: torch.Tensor, counts: list[int], offset: float) -> torch.Tensor:
    """counts[i] points at distance `offset` from centre i, at spread-out angles."""
    rows = []
    for c, k in zip(centres, counts):
        angle = torch.linspace(0, 2 * math.pi, k + 1)[:-1] + 0.3
        rows.append(c + offset * torch.stack([torch.cos(angle), torch.sin(angle)], 1))
    return torch.cat(rows)


def brute_force(samples: torch.Tensor, centres: torch.Tensor, std: float) -> tuple[int, float, float]:
    """The protocol written as plain loops (VEEGAN / PacGAN, sec. 5.1)."""
    counts = [0] * len(centres)
    good = 0
    for x in samples.tolist():
        d = [math.dist(x, c) for c in centres.tolist()]
        j = min(range(len(d)), key=d.__getitem__)
        if d[j] <= 3 * std:
            counts[j] += 1
            good += 1
    p = [c / good for c in counts]
    rkl = sum(q * math.log(q * len(counts)) for q in p if q > 0)
    return sum(c > 0 for c in counts), 100 * good / len(samples), rkl


def test_every_mode_evenly_covered(ring8):
    modes = ring8.modes
    cov = mode_coverage(around(modes.centres, [40] * 8, 0.5 * modes.std), ring8)
    assert isinstance(cov, ModeCoverage)
    assert cov.to_dict() == {"modes_captured": 8, "n_modes": 8, "high_quality": 100.0,
                             "reverse_kl": pytest.approx(0.0, abs=1e-12)}
    assert cov.counts == [40] * 8 and cov.n_modes == 8


def test_all_samples_on_one_mode(ring8):
    samples = around(ring8.modes.centres[3:4], [100], 2.0 * ring8.modes.std)
    cov = mode_coverage(samples, ring8)
    assert cov.modes_captured == 1 and cov.high_quality == 100.0
    assert cov.reverse_kl == pytest.approx(math.log(8))


def test_off_mode_samples_are_not_high_quality(ring8):
    std = ring8.modes.std
    near = around(ring8.modes.centres, [5] * 8, 2.9 * std)  # inside 3 std
    far = around(ring8.modes.centres, [5] * 8, 3.1 * std)  # just outside
    origin = torch.zeros(40, 2)  # the ring's centre, 1 away from every mode
    assert mode_coverage(far, ring8).to_dict()["high_quality"] == 0.0
    assert mode_coverage(far, ring8).modes_captured == 0
    assert math.isnan(mode_coverage(torch.cat([far, origin]), ring8).reverse_kl)  # no high-quality sample at all
    cov = mode_coverage(torch.cat([near, far, origin]), ring8)
    assert cov.high_quality == pytest.approx(100 * 40 / 120)
    assert cov.modes_captured == 8 and cov.reverse_kl == pytest.approx(0.0, abs=1e-12)


def test_grid25_partial_coverage_matches_a_loop(grid25):
    modes = grid25.modes
    counts = [0] * 5 + [1, 2, 3, 4, 5] * 4  # five modes empty, the rest uneven
    samples = torch.cat([around(modes.centres, counts, 2.0 * modes.std), torch.tensor([[1.0, 1.0], [3.0, -3.0]])])
    cov = mode_coverage(samples, grid25)
    captured, hq, rkl = brute_force(samples, modes.centres, modes.std)
    assert cov.modes_captured == captured == 20
    assert cov.high_quality == pytest.approx(hq)
    assert cov.reverse_kl == pytest.approx(rkl)
    assert cov.counts == counts


def test_random_samples_match_a_loop(grid25):
    g = torch.Generator().manual_seed(0)
    samples = grid25.modes.centres[torch.randint(25, (300,), generator=g)] + 0.12 * torch.randn(300, 2, generator=g)
    cov = mode_coverage(samples.numpy(), Modes(grid25.modes.centres, grid25.modes.std))  # numpy and bare Modes work
    assert (cov.modes_captured, cov.high_quality) == pytest.approx(brute_force(samples, grid25.modes.centres, 0.05)[:2])
    assert cov.reverse_kl == pytest.approx(brute_force(samples, grid25.modes.centres, 0.05)[2])


def test_the_data_itself_is_covered(ring8):
    cov = mode_coverage(ring8.test, ring8)
    assert cov.modes_captured == 8
    assert cov.high_quality == pytest.approx(100 * (1 - math.exp(-4.5)), abs=1.0)  # P(|N(0, I_2)| <= 3)
    assert cov.reverse_kl < 0.01


def test_bad_inputs_are_data_errors(ring8):
    with pytest.raises(DataError, match="has none"):
        mode_coverage(torch.zeros(3, 2), tiny_vectors())
    with pytest.raises(DataError, match=r"\[N > 0, 2\]"):
        mode_coverage(torch.zeros(3, 3), ring8)


def test_kde_matches_scipy():
    g = torch.Generator().manual_seed(1)
    samples = torch.randn(400, 2, generator=g) @ torch.tensor([[1.0, 0.5], [0.0, 0.3]]) + 2.0
    x = torch.randn(50, 2, generator=g) * 1.5 + 2.0
    ours = kde_log_likelihood(samples, x, chunk=17)
    ref = scipy.stats.gaussian_kde(samples.numpy().T.astype(np.float64)).logpdf(x.numpy().T.astype(np.float64))
    np.testing.assert_allclose(ours.numpy(), ref, rtol=1e-6, atol=1e-6)


class _Oracle(GenerativeModel):
    """A 'model' that samples the toy itself; with `density` it also has the toy's exact log_prob."""

    def __init__(self, data, density: bool):
        super().__init__()
        self.data = data
        self.anchor = torch.nn.Parameter(torch.zeros(1))  # gives the model a device
        if density:
            self.log_prob = data.log_prob

    def sample(self, n, generator=None):
        idx = torch.randint(len(self.data.train), (n,), generator=generator)
        return self.data.train[idx]


def test_toy_metrics_keys_and_values(ring8):
    exact = toy_metrics(_Oracle(ring8, density=True), ring8, n=500)
    assert exact["modes_captured"] == 8 and exact["high_quality"] > 95
    assert exact["test_log_likelihood"] == pytest.approx(ring8.log_prob(ring8.test).mean().item())
    kde = toy_metrics(_Oracle(ring8, density=False), ring8, n=500)
    assert "test_log_likelihood" not in kde
    assert kde["kde_log_likelihood"] < exact["test_log_likelihood"]  # Scott's bandwidth blurs std-0.01 modes
    assert toy_metrics(_Oracle(ring8, density=False), ring8, n=500) == kde  # seeded


def test_toy_metrics_of_models(ring8):
    gan = toy_metrics(build_model("gan", ring8, hidden=(8,), d_hidden=(8,)), ring8, n=300)
    assert set(gan) == {"modes_captured", "n_modes", "high_quality", "reverse_kl", "kde_log_likelihood",
                        "true_test_log_likelihood"}
    assert gan["true_test_log_likelihood"] == pytest.approx(ring8.log_prob(ring8.test.double()).mean().item())
    # A linear-Gaussian VAE with its exact posterior: every importance weight is p(x), so the IWAE estimate
    # must equal the closed-form log-likelihood of the test points, per example as in the mean.
    vae = linear_gaussian_vae(dim=2, latent=1)
    set_exact_posterior(vae)
    kept = {}
    out = toy_metrics(vae, ring8, n=300, iwae_k=10, seed=3, keep=kept.__setitem__)
    exact = exact_log_px(vae, ring8.test)
    assert out["test_log_likelihood"] == pytest.approx(exact.mean().item(), abs=1e-4)
    assert torch.allclose(kept["test_log_likelihood"].double(), exact.double(), atol=1e-3)
    assert {"modes_captured", "high_quality", "reverse_kl"} <= set(out)
