"""MIG and DCI: known answers on perfect, mixed and noise codes, and a hand-computed mutual information."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest

from gausslab.core.errors import DataError
from gausslab.metrics import dci, mig
from gausslab.metrics.disentangle import categories, dci_scores, histogram_bins


def balanced_factors(repeat: int = 4) -> np.ndarray:
    """Every combination of 3 x 4 x 5 factor values, `repeat` times: empirically independent factors."""
    grid = np.array(list(itertools.product(range(3), np.linspace(0.5, 1.0, 4), range(5))), dtype=float)
    return np.repeat(grid, repeat, axis=0)


def plug_in_mi(a: np.ndarray, b: np.ndarray) -> float:
    """sum p(a, b) log p(a, b) / (p(a) p(b)) from counts, in nats."""
    n, joint, pa, pb = len(a), Counter(zip(a, b)), Counter(a), Counter(b)
    return sum(c / n * np.log(c * n / (pa[x] * pb[y])) for (x, y), c in joint.items())


def test_mig_is_one_for_codes_equal_to_the_factors():
    f = balanced_factors()
    assert mig(f, f) == pytest.approx(1.0, abs=1e-12)
    assert mig(f[:, ::-1], f) == pytest.approx(1.0, abs=1e-12)  # order of the codes does not matter


def test_mig_is_near_zero_for_noise_and_for_duplicated_codes():
    f = balanced_factors(repeat=40)
    noise = np.random.default_rng(0).standard_normal((len(f), 4))
    assert mig(noise, f) < 0.05
    assert mig(np.c_[f[:, 0], f[:, 0], f[:, 1:]], f) == pytest.approx(2 / 3, abs=1e-12)  # factor 0 has no gap


def test_mig_matches_hand_computation():
    rng = np.random.default_rng(1)
    f = rng.integers(0, 3, size=(500, 2)).astype(float)
    codes = np.c_[f[:, 0] + 0.3 * rng.standard_normal(500), rng.standard_normal(500), f[:, 1] * 2]
    bins = [histogram_bins(c) for c in codes.T]
    want = []
    for col in f.T:
        mi = sorted((plug_in_mi(col, b) for b in bins), reverse=True)
        want.append((mi[0] - mi[1]) / plug_in_mi(col, col))
    assert mig(codes, f) == pytest.approx(np.mean(want), rel=1e-10)


def test_binning_rules():
    values = np.array([0.0, 0.1, 0.5, 1.0])
    assert histogram_bins(values, 2).tolist() == [1, 1, 2, 2]  # equal-width bins over [min, max]
    assert categories(np.array([3.0, 7.0, 3.0]), 20).tolist() == [0, 1, 0]  # few values: categories
    assert len(set(categories(np.linspace(0, 1, 100), 20))) == 20  # many values: binned


def test_dci_scores_known_importance_matrices():
    assert dci_scores(np.eye(3)) == pytest.approx((1.0, 1.0))
    assert dci_scores(np.ones((3, 3))) == pytest.approx((0.0, 0.0), abs=1e-12)
    # One code explains both factors: not disentangled, but each factor is completely captured.
    assert dci_scores(np.array([[1.0, 1.0], [0.0, 0.0]])) == pytest.approx((0.0, 1.0), abs=1e-12)
    # Each factor spread evenly over two codes that explain nothing else: disentangled, not complete.
    assert dci_scores(np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])) == pytest.approx(
        (1.0, 1 - np.log(2) / np.log(4)))


def test_dci_on_perfect_mixed_and_noise_codes():
    f = balanced_factors(repeat=10)
    rng = np.random.default_rng(2)
    perfect = dci(f + 0.01 * rng.standard_normal(f.shape), f)
    assert perfect.disentanglement > 0.9 and perfect.completeness > 0.9 and perfect.informativeness > 0.95
    assert perfect.importance.shape == (3, 3)
    mixed = dci(f @ rng.standard_normal((3, 3)), f)
    assert mixed.disentanglement < perfect.disentanglement
    noise = dci(rng.standard_normal(f.shape), f)
    assert noise.informativeness < 0.5 and noise.disentanglement < 0.3


def test_bad_shapes_are_data_errors():
    with pytest.raises(DataError):
        mig(np.zeros((10, 1)), np.zeros((10, 2)))
    with pytest.raises(DataError):
        dci(np.zeros((10, 3)), np.zeros((9, 2)))


def test_dci_finds_each_factor_in_its_own_code_and_none_in_noise():
    f = balanced_factors(repeat=10)
    noise = np.random.default_rng(3).standard_normal(len(f))
    result = dci(np.c_[f[:, [2, 0, 1]], noise], f)  # code 0 is factor 2, code 1 factor 0, code 2 factor 1
    assert result.importance.argmax(0).tolist() == [1, 2, 0]
    assert result.importance[3].max() < 0.02 and result.informativeness == 1.0
    assert result.disentanglement > 0.95 and result.completeness > 0.95
