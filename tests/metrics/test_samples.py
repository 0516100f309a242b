"""PRDC, FID and KID against independent computations: brute-force loops, closed forms, scipy, `prdc`."""

from __future__ import annotations

import contextlib
import io
import itertools

import numpy as np
import pytest
import scipy.linalg
import torch

from gausslab.core.errors import ConfigError, DataError
from gausslab.metrics import fid, frechet_distance, kid, prdc
from gausslab.metrics.samples import polynomial_mmd2

KEYS = ("precision", "recall", "density", "coverage")


def brute_prdc(real: np.ndarray, fake: np.ndarray, k: int) -> dict[str, float]:
    """Definitions read straight off the papers, one point at a time, with exact pairwise distances."""

    def radius(points, i):
        d = sorted(np.sqrt(((points - points[i]) ** 2).sum(1)))
        return d[k]  # d[0] is the point itself

    r_real = [radius(real, i) for i in range(len(real))]
    r_fake = [radius(fake, j) for j in range(len(fake))]
    dist = [[float(np.sqrt(((a - b) ** 2).sum())) for b in fake] for a in real]
    inside = [[dist[i][j] < r_real[i] for j in range(len(fake))] for i in range(len(real))]
    counts = [sum(inside[i][j] for i in range(len(real))) for j in range(len(fake))]
    return {
        "precision": sum(c > 0 for c in counts) / len(fake),
        "recall": sum(any(dist[i][j] < r_fake[j] for j in range(len(fake))) for i in range(len(real))) / len(real),
        "density": sum(counts) / (k * len(fake)),
        "coverage": sum(min(dist[i]) < r_real[i] for i in range(len(real))) / len(real),
    }


@pytest.mark.parametrize("n,m,d,k", [(40, 55, 3, 1), (60, 45, 8, 3), (50, 50, 2, 5)])
def test_prdc_matches_brute_force_loop(n, m, d, k):
    rng = np.random.default_rng(n + m + d + k)
    real = rng.standard_normal((n, d))
    fake = rng.standard_normal((m, d)) * 1.3 + 0.4
    got, want = prdc(real, fake, k), brute_prdc(real, fake, k)
    for key in KEYS:
        assert got[key] == pytest.approx(want[key], abs=1e-12), key


def test_prdc_hand_made_set():
    real = np.array([[0.0], [1.0], [2.0], [3.0], [4.0]])
    fake = np.array([[0.5], [10.0]])
    # radii 1 (reals), 9.5 (fakes); fake 0.5 sits in the balls of reals 0 and 1, fake 10 in none.
    assert prdc(real, fake, k=1) == {"precision": 0.5, "recall": 1.0, "density": 1.0, "coverage": 0.4}


def test_prdc_radius_comparison_is_strict():
    real = np.array([[0.0], [1.0], [2.0], [3.0]])  # every radius is exactly 1
    fake = np.array([[1.0], [5.0]])  # fake 1 lies at distance exactly 1 from reals 0 and 2: not inside
    assert prdc(real, fake, k=1) == {"precision": 0.5, "recall": 1.0, "density": 0.5, "coverage": 0.25}


def _reference(real, fake, k):
    import prdc as ref
    with contextlib.redirect_stdout(io.StringIO()):
        return {key: float(v) for key, v in ref.compute_prdc(real, fake, k).items()}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [1, 3, 5])
def test_prdc_agrees_with_reference_package(dtype, k):
    rng = np.random.default_rng(k)
    real = rng.standard_normal((300, 16)).astype(dtype)
    fake = (rng.standard_normal((250, 16)) * 1.1 + 0.2).astype(dtype)
    got = prdc(real, fake, k, chunk_elements=4096)  # many chunks
    assert got == pytest.approx(_reference(real, fake, k), abs=1e-12)


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_prdc_agrees_with_reference_on_ties_and_duplicates(k):
    grid = np.array(list(itertools.product(range(6), range(6))), dtype=np.float32)  # many equal distances
    shifted = grid[::2] + np.array([0.5, 0.0], dtype=np.float32)
    assert prdc(grid, shifted, k) == pytest.approx(_reference(grid, shifted, k), abs=1e-12)
    rng = np.random.default_rng(k)
    dup = np.repeat(rng.standard_normal((30, 3)), 3, axis=0).astype(np.float32)  # exact duplicates
    other = np.concatenate([dup[:20], rng.standard_normal((40, 3)).astype(np.float32)])
    assert prdc(dup, other, k, chunk_elements=100) == pytest.approx(_reference(dup, other, k), abs=1e-12)
    # More copies than candidates per point: radii need whole rows scored with the reference formula.
    crowd = np.concatenate([np.repeat(dup[:2], 12, axis=0), dup]).astype(np.float32)
    assert prdc(crowd, other, k) == pytest.approx(_reference(crowd, other, k), abs=1e-12)


def _near_unit_circle(rounded: float) -> tuple[np.float32, np.float32]:
    """float32 (a, b) with a^2 + b^2 (float64) just below `rounded` (< 1e-7), which is its float32 rounding."""
    step = np.float32(6e-8)
    for i, j in itertools.product(range(-50, 50), repeat=2):
        a, b = np.float32(0.6) + np.float32(i) * step, np.float32(0.8) + np.float32(j) * step
        s = float(a) ** 2 + float(b) ** 2
        if rounded - 1e-7 < s < rounded and np.float32(s) == np.float32(rounded):
            return a, b
    raise AssertionError("no such point")


# Fake 0 lies at squared distance ~fake_sq from real 0, whose radius (k = 1) is ~radius_sq. float32
# inputs get float32 distances: 1 - 1.5e-8 rounds to 1.0, equal to a radius of 1, so not inside;
# 0.99999994 has the correctly rounded root 0.99999994 < 1 (torch's vectorised float32 sqrt says
# 1.0); a radius^2 of 1.0000001 has the root 1.0, not above a distance of 1.0. float64 keeps all inside.
@pytest.mark.parametrize("fake_sq,radius_sq,inside32", [(1.0, 1.0, False), (0.99999994, 1.0, True),
                                                        (1.0, 1.0000001, False)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_prdc_rounds_distances_like_the_reference(fake_sq, radius_sq, inside32, dtype):
    a, b = _near_unit_circle(fake_sq)
    neighbour = (1.0, 0.0) if radius_sq == 1.0 else _near_unit_circle(radius_sq)
    real = np.array([[0, 0], neighbour, [5, 5], [6, 5]], dtype)
    fake = np.array([[-a, b], [20, 20], [21, 20]], dtype)
    got = prdc(real, fake, 1)
    assert got == pytest.approx(_reference(real, fake, 1), abs=1e-12)
    assert got["precision"] == (1 / 3 if inside32 or dtype == np.float64 else 0.0)


def test_prdc_accepts_torch_and_is_chunk_invariant():
    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(120, 5, generator=g), torch.randn(90, 5, generator=g) + 0.3
    whole = prdc(real, fake, 3, chunk_elements=1 << 30)
    assert prdc(real, fake, 3, chunk_elements=7) == whole
    assert prdc(real.numpy(), fake.numpy(), 3) == whole


def test_prdc_of_a_set_against_itself():
    x = np.random.default_rng(1).standard_normal((80, 4))
    out = prdc(x, x, 5)
    # Every point is inside its own ball (distance 0 < radius), so all four are at least 1 / at least ~1.
    assert out["precision"] == 1.0 and out["recall"] == 1.0 and out["coverage"] == 1.0
    assert out["density"] >= 1.0


@pytest.mark.parametrize("bad,error", [
    (dict(k=0), ConfigError), (dict(k=10), ConfigError),
    (dict(fake=np.ones((10, 3))), DataError), (dict(real=np.full((10, 2), np.nan)), DataError),
])
def test_prdc_rejects_bad_input(bad, error):
    args = dict(real=np.random.rand(10, 2), fake=np.random.rand(10, 2), k=3) | bad
    with pytest.raises(error):
        prdc(**args)


def _random_cov(rng, d):
    a = rng.standard_normal((d, d + 3))
    return a @ a.T / d


def test_frechet_distance_equal_covariances_is_mean_gap():
    rng = np.random.default_rng(0)
    s = _random_cov(rng, 6)
    mu1, mu2 = rng.standard_normal(6), rng.standard_normal(6)
    assert frechet_distance(mu1, s, mu2, s) == pytest.approx(((mu1 - mu2) ** 2).sum(), rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("d", [1, 4, 20])
def test_frechet_distance_matches_scipy_sqrtm_formula(d):
    rng = np.random.default_rng(d)
    s1, s2 = _random_cov(rng, d), _random_cov(rng, d)
    mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    want = ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(want, rel=1e-8)


def test_fid_identical_sets_is_zero_and_uses_sample_moments():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((200, 5)) * [1, 2, 3, 4, 5]
    y = rng.standard_normal((150, 5)) + 1
    assert abs(fid(x, x)) < 1e-9
    want = frechet_distance(x.mean(0), np.cov(x, rowvar=False), y.mean(0), np.cov(y, rowvar=False))
    assert fid(torch.as_tensor(x), y) == pytest.approx(want, rel=1e-12)


def test_fid_handles_singular_covariance():
    rng = np.random.default_rng(4)
    x = np.zeros((50, 4))
    x[:, 0] = rng.standard_normal(50)  # rank-one covariance
    value = fid(x, x + [1.0, 0, 0, 0])
    assert value == pytest.approx(1.0, abs=1e-9)


def direct_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 with the cubic kernel, one pair at a time (Bińkowski et al. 2018)."""
    d = x.shape[1]

    def kern(a, b):
        return (float(a @ b) / d + 1) ** 3

    m, n = len(x), len(y)
    kxx = sum(kern(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    kyy = sum(kern(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    kxy = sum(kern(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return kxx + kyy - 2 * kxy


def test_kid_matches_direct_loop():
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((30, 4)), rng.standard_normal((30, 4)) * 1.5 + 0.5
    want = direct_mmd2(x, y)
    # One subset of all points is a permutation of each set, to which MMD^2 is invariant.
    result = kid(x, y, subsets=1, subset_size=30)
    assert result.mean == pytest.approx(want, rel=1e-10) and result.std == 0.0
    assert polynomial_mmd2(x, y[:20]) == pytest.approx(direct_mmd2(x, y[:20]), rel=1e-10)


def test_kid_subsets_are_seeded_and_near_zero_for_one_distribution():
    rng = np.random.default_rng(6)
    x, y = rng.standard_normal((400, 3)), rng.standard_normal((400, 3))
    a, b = kid(x, y, subsets=20, subset_size=100), kid(x, y, subsets=20, subset_size=100)
    assert a == b and a.std > 0
    assert kid(x, y, subsets=20, subset_size=100, seed=1) != a
    assert abs(a.mean) < 3 * a.std  # unbiased: centred on 0 when both come from one distribution
    assert kid(x, y + 2, subsets=20, subset_size=100).mean > 10 * a.std
