"""Disentanglement of latent codes against ground-truth factors: MIG and DCI.

Codes [N, C] are continuous (e.g. posterior means); factors [N, K] are discrete or continuous.
A factor with at most `bins` distinct values is used as a categorical variable as it is; one with
more is cut into `bins` equal-width bins, like the codes (Chen et al. 2018; Locatello et al. 2019).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import mutual_info_score
from torch import Tensor

from gausslab.core.errors import DataError


def histogram_bins(values: np.ndarray, bins: int = 20) -> np.ndarray:
    """Equal-width bin index of each value [N] (disentanglement_lib's `_histogram_discretize`)."""
    return np.digitize(values, np.histogram(values, bins)[1][:-1])


def categories(values: np.ndarray, bins: int = 20) -> np.ndarray:
    """A factor column as category indices [N]: its distinct values, or `bins` bins if it has more."""
    distinct, index = np.unique(values, return_inverse=True)
    return index if len(distinct) <= bins else histogram_bins(values, bins)


def _check(codes, factors, min_codes: int) -> tuple[np.ndarray, np.ndarray]:
    c = np.asarray(codes.detach().cpu() if isinstance(codes, Tensor) else codes, dtype=np.float64)
    f = np.asarray(factors.detach().cpu() if isinstance(factors, Tensor) else factors, dtype=np.float64)
    if f.ndim == 1:
        f = f[:, None]
    if c.ndim != 2 or f.ndim != 2 or len(c) != len(f) or len(c) < 2:
        raise DataError(f"codes [N, C] and factors [N, K] must have the same N >= 2; got {list(c.shape)} and "
                        f"{list(f.shape)}")
    if c.shape[1] < min_codes:
        raise DataError(f"this metric needs at least {min_codes} code dimensions; got {c.shape[1]}")
    if not (np.isfinite(c).all() and np.isfinite(f).all()):
        raise DataError("codes and factors must be finite")
    return c, f


def mig(codes, factors, bins: int = 20) -> float:
    """Mutual Information Gap (Chen et al. 2018, eq. 6), averaged over factors.

    For each factor v: (I(z_a; v) - I(z_b; v)) / H(v), z_a and z_b the two codes most informative
    about v; codes cut into `bins` equal-width bins, MI in nats by sklearn's `mutual_info_score`.
    Constant factors (H = 0) are skipped.
    """
    c, f = _check(codes, factors, min_codes=2)
    code_bins = [histogram_bins(col, bins) for col in c.T]
    gaps = []
    for col in f.T:
        v = categories(col, bins)
        entropy = mutual_info_score(v, v)
        if entropy <= 0:
            continue
        mi = np.sort([mutual_info_score(v, z) for z in code_bins])[::-1]
        gaps.append((mi[0] - mi[1]) / entropy)
    if not gaps:
        raise DataError("every factor is constant; MIG is undefined")
    return float(np.mean(gaps))


@dataclass
class DciResult:
    """Eastwood & Williams 2018 scores in [0, 1], and the importance matrix R [C codes, K factors]."""

    disentanglement: float
    completeness: float
    informativeness: float  # mean held-out accuracy of the per-factor predictors
    importance: np.ndarray


def _entropy(p: np.ndarray, base: int, axis: int) -> np.ndarray:
    """Entropy in log base `base` of distributions along `axis` (0 log 0 = 0)."""
    logs = np.log(np.where(p > 0, p, 1)) / np.log(base)
    return -(p * logs).sum(axis)


def dci_scores(importance: np.ndarray) -> tuple[float, float]:
    """Disentanglement and completeness from an importance matrix R [C, K] (Eastwood & Williams 2018, §3).

    D = sum_i rho_i (1 - H_K(P_i.)), P_ij = R_ij / sum_k R_ik, rho_i = sum_j R_ij / sum R;
    C = sum_j w_j (1 - H_C(P~_.j)), P~_ij = R_ij / sum_i R_ij, w_j = sum_i R_ij / sum R.
    """
    r = np.abs(np.asarray(importance, dtype=np.float64))
    n_codes, n_factors = r.shape
    total = r.sum()
    if total <= 0 or n_codes < 2 or n_factors < 2:
        raise DataError(f"DCI needs >= 2 codes, >= 2 factors and some importance; got R of shape {list(r.shape)}")
    rows, cols = r.sum(1), r.sum(0)
    per_code = 1 - _entropy(r / np.where(rows > 0, rows, 1)[:, None], n_factors, axis=1)
    per_factor = 1 - _entropy(r / np.where(cols > 0, cols, 1)[None, :], n_codes, axis=0)
    return float((rows / total) @ per_code), float((cols / total) @ per_factor)


def dci(codes, factors, bins: int = 20, test_fraction: float = 0.2, trees: int = 50, seed: int = 0) -> DciResult:
    """DCI with one random-forest classifier per (categorised) factor, as Eastwood & Williams' RF variant.

    Importances are the forests' impurity-based `feature_importances_` (scikit-learn), with every code
    considered at every split (with a random subset, splits are forced onto uninformative codes and
    spread importance onto them); informativeness is the accuracy on a held-out `test_fraction`
    of the examples (seeded split).
    """
    c, f = _check(codes, factors, min_codes=2)
    order = np.random.default_rng(seed).permutation(len(c))
    n_test = max(1, round(test_fraction * len(c)))
    test, train = order[:n_test], order[n_test:]
    importance, accuracy = np.zeros((c.shape[1], f.shape[1])), []
    for j, col in enumerate(f.T):
        y = categories(col, bins)
        forest = RandomForestClassifier(n_estimators=trees, max_depth=8, max_features=None, random_state=seed)
        forest.fit(c[train], y[train])
        importance[:, j] = forest.feature_importances_
        accuracy.append(forest.score(c[test], y[test]))
    disentanglement, completeness = dci_scores(importance)
    return DciResult(disentanglement, completeness, float(np.mean(accuracy)), importance)


__all__ = ["DciResult", "categories", "dci", "dci_scores", "histogram_bins", "mig"]
