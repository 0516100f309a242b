import math

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from gausslab.data import toy2d
from gausslab.core.errors import ConfigError, DataError

from .checks import expect_error

TOYS = ["ring8", "grid25", "moons", "spiral", "pinwheel", "checkerboard"]


def _integral(log_prob, lo: float, hi: float, h: float) -> float:
    """Midpoint rule for ∫ exp(log_prob) over [lo, hi]²."""
    axis = torch.arange(lo + h / 2, hi, h, dtype=torch.float64)
    grid = torch.cartesian_prod(axis, axis)  # [G², 2]
    return float(log_prob(grid).exp().sum() * h * h)


# The grid spacing is at most one std: a Gaussian's midpoint sum is then exact to ~1e-8.
@pytest.mark.parametrize(
    "name, lo, hi, h",
    [("ring8", -1.2, 1.2, 0.005), ("grid25", -4.5, 4.5, 0.025), ("checkerboard", -5.0, 5.0, 0.02)],
)
def test_exact_log_prob_integrates_to_one(name, lo, hi, h):
    raw = getattr(toy2d, name)(n=10)
    assert _integral(raw.log_prob, lo, hi, h) == pytest.approx(1.0, abs=1e-2)


def test_mixture_log_prob_matches_scipy():
    raw = toy2d.grid25(n=50)
    x = raw.x[:20].double() + 0.03
    pdf = sum(multivariate_normal(c.numpy(), 0.05**2).pdf(x.numpy()) for c in raw.modes.centres.double())
    np.testing.assert_allclose(raw.log_prob(x).numpy(), np.log(pdf / 25), rtol=1e-6)


@pytest.mark.parametrize("name, n_modes, std", [("ring8", 8, 0.01), ("grid25", 25, 0.05)])
def test_mixture_samples_sit_on_their_modes(name, n_modes, std):
    raw = getattr(toy2d, name)()
    assert raw.x.shape == (toy2d.DEFAULT_N, 2) and raw.x.dtype == torch.float32
    assert raw.modes.centres.shape == (n_modes, 2) and raw.modes.std == std
    dist = torch.cdist(raw.x.double(), raw.modes.centres.double()).min(dim=1).values
    within_3std = (dist < 3 * std).double().mean().item()
    assert within_3std == pytest.approx(1 - math.exp(-4.5), abs=0.01)  # chi² with 2 dof
    counts = torch.bincount(raw.labels, minlength=n_modes)
    assert counts.min() > 0.7 * toy2d.DEFAULT_N / n_modes


def test_ring8_centres_are_on_the_unit_circle():
    centres = toy2d.ring8(n=1).modes.centres
    assert torch.allclose(centres.norm(dim=1), torch.ones(8))


def test_checkerboard_is_uniform_on_black_squares():
    raw = toy2d.checkerboard()
    lp = raw.log_prob(raw.x)
    assert torch.all(lp == -math.log(32))
    white = torch.tensor([[-3.0, -1.0], [1.0, 3.0], [-1.0, -3.0]])
    outside = torch.tensor([[4.5, 0.0], [0.0, -4.5]])
    assert torch.all(raw.log_prob(torch.cat([white, outside])) == -math.inf)


@pytest.mark.parametrize("name", TOYS)
def test_toys_are_seeded(name):
    make = getattr(toy2d, name)
    a, b, c = make(n=500, seed=3), make(n=500, seed=3), make(n=500, seed=4)
    assert torch.equal(a.x, b.x)
    assert not torch.equal(a.x, c.x)
    assert a.x.shape == (500, 2) and torch.isfinite(a.x).all()


@pytest.mark.parametrize(
    "name, classes, bound", [("moons", 2, 2.6), ("spiral", 2, 4.5), ("pinwheel", 5, 5.0)]
)
def test_labelled_toys(name, classes, bound):
    raw = getattr(toy2d, name)(n=2000)
    assert raw.log_prob is None and raw.modes is None
    assert set(raw.labels.tolist()) == set(range(classes))
    assert raw.x.abs().max() < bound


def test_log_prob_returns_float64_per_point():
    lp = toy2d.ring8(n=5).log_prob(torch.zeros(7, 2))
    assert lp.shape == (7,) and lp.dtype == torch.float64


@pytest.mark.parametrize("bad", [torch.zeros(3), torch.zeros(3, 3)])
def test_log_prob_rejects_wrong_shapes(bad):
    expect_error(DataError, ["[N, 2]", str(tuple(bad.shape))], toy2d.ring8(n=5).log_prob, bad)


@pytest.mark.parametrize("n", [0, -1, 2.5, True])
def test_bad_sizes(n):
    expect_error(ConfigError, [f"n={n!r}", "positive integer"], toy2d.moons, n=n)
