"""Sample quality on feature matrices [N, D]: precision/recall/density/coverage, FID and KID.

`prdc` agrees with the reference `prdc` package (Naeem et al. 2020) decision for decision:
its distances are sklearn's — ((-2 x.y) + |x|^2) + |y|^2 in float64, rounded to float32 when
both inputs are float32 — and every comparison is strict. To be fast it never builds the
N x M matrix: chunks of rows are scored in float32 (one GEMM per chunk, centred data), and
the few pairs whose float32 value lies within a proven error bound of a decision threshold
are recomputed with the reference formula. So results match the reference exactly while
memory stays O(chunk) and most work runs at float32 speed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from gausslab.errors import ConfigError, DataError

Features = np.ndarray | Tensor
_SLACK = 4  # extra nearest-neighbour candidates per row, so radii rarely need a full exact row
_EPS32, _EPS64 = torch.finfo(torch.float32).eps, torch.finfo(torch.float64).eps


@dataclass
class _Points:
    """One feature set: as given in float64 (reference formula) and centred in float32 (fast pass)."""

    exact: Tensor  # [N, D] float64
    norm: Tensor  # [N] float64, |x|^2 as sklearn's row_norms
    fast: Tensor  # [N, D] float32, x - centre
    fast_norm: Tensor  # [N] float32, |x - centre|^2

    def __len__(self) -> int:
        return self.exact.shape[0]


def _points(x: Tensor, centre: Tensor) -> _Points:
    shifted = x - centre
    return _Points(x, (x * x).sum(1), shifted.float(), (shifted * shifted).sum(1).float())


def _fast_sq(a: _Points, b: _Points, rows: slice) -> Tensor:
    """Float32 squared distances of a's rows to all of b [c, M]: one in-place GEMM."""
    out = a.fast_norm[rows, None] + b.fast_norm[None, :]
    return out.addmm_(a.fast[rows], b.fast.T, alpha=-2)


def _margin(a: _Points, b: _Points, rows: slice) -> float:
    """Bound on |fast - reference| squared distance for any pair in the chunk.

    Float32 GEMM error <= ~D u |x||y| plus rounding of inputs, norms and the result
    (Higham 2002, §3.1), doubled for safety; plus the reference's float64 cancellation error.
    """
    d = a.exact.shape[1]
    fast = (d + 16) * _EPS32 * float(a.fast_norm[rows].max() + b.fast_norm.max())
    return fast + (d + 4) * _EPS64 * float(a.norm[rows].max() + b.norm.max())


def _reference_sq(a: _Points, b: _Points, rows: Tensor, cols: Tensor, dtype: torch.dtype) -> Tensor:
    """sklearn's squared distance for index pairs (broadcast rows/cols), clamped at 0, in `dtype`."""
    dot = (a.exact[rows] * b.exact[cols]).sum(-1)
    return ((-2 * dot + a.norm[rows]) + b.norm[cols]).clamp_(min=0).to(dtype)


def _reference_rows(a: _Points, b: _Points, rows: Tensor, dtype: torch.dtype) -> Tensor:
    """sklearn's squared distances of a's `rows` to all of b [r, M] (the rare fallback)."""
    sq = (-2 * (a.exact[rows] @ b.exact.T) + a.norm[rows, None]) + b.norm[None, :]
    return sq.clamp_(min=0).to(dtype)


def _radii_sq(p: _Points, k: int, dtype: torch.dtype, chunk: int) -> Tensor:
    """Squared distance to the k-th nearest other point [N] (the (k+1)-th smallest, self at 0, as `prdc`)."""
    n, want = len(p), min(k + 1 + _SLACK, len(p))
    out = []
    for start in range(0, n, chunk):
        part = slice(start, min(start + chunk, n))
        rows = torch.arange(part.start, part.stop, device=p.exact.device)
        fast = _fast_sq(p, p, part)  # [c, N]
        cand = fast.topk(want, dim=1, largest=False)  # ascending
        exact = _reference_sq(p, p, rows[:, None], cand.indices, dtype)
        exact[cand.indices == rows[:, None]] = 0  # sklearn zeroes the diagonal
        kth = exact.kthvalue(k + 1, dim=1).values
        # Every non-candidate is >= the last candidate's fast value - margin; if that clears kth, kth is final.
        unsure = cand.values[:, -1].double() - _margin(p, p, part) < kth.double()
        if want < n and unsure.any():
            full = _reference_rows(p, p, rows[unsure], dtype)
            full[torch.arange(len(full)), rows[unsure]] = 0
            kth[unsure] = full.kthvalue(k + 1, dim=1).values
        out.append(kth)
    return torch.cat(out)


def _strict_threshold(r2: Tensor) -> Tensor:
    """Smallest t (same dtype) with sqrt(t) >= sqrt(r2), so that sqrt(s) < sqrt(r2) <=> s < t.

    Comparing squared distances against t reproduces the reference's strict `distance < radius`
    (after its rounding of sqrt) without taking a square root of the whole matrix.
    """
    radius, t = r2.sqrt(), r2.clone()
    while True:
        lower = torch.nextafter(t, torch.zeros_like(t))
        move = (t > 0) & (lower.sqrt() >= radius)
        if not move.any():
            return t
        t = torch.where(move, lower, t)


def _float32_bound(x: Tensor, up: bool) -> Tensor:
    """float64 -> float32 rounded outward (up or down), so a float32 comparison stays conservative."""
    y = x.float()
    wrong = y.double() < x if up else y.double() > x
    return torch.where(wrong, torch.nextafter(y, torch.full_like(y, math.inf if up else -math.inf)), y)


def _inside(fast: Tensor, t: Tensor, margin: float, exact) -> tuple[Tensor, tuple[Tensor, Tensor]]:
    """Decisions `reference < t` for a chunk: the sure ones [c, M], and the (row, col) pairs rescued exactly.

    t [c, 1] or [1, M] broadcasts against `fast`; `exact(rows, cols)` gives reference values for pairs.
    """
    sure = fast < _float32_bound(t.double() - margin, up=False)
    maybe = fast < _float32_bound(t.double() + margin, up=True)
    rows, cols = (maybe & ~sure).nonzero(as_tuple=True)
    if len(rows):
        keep = exact(rows, cols) < t.expand_as(fast)[rows, cols]
        rows, cols = rows[keep], cols[keep]
    return sure, (rows, cols)


def prdc(real: Features, fake: Features, k: int = 5, *, chunk_elements: int = 1 << 24) -> dict[str, float]:
    """Precision and recall (Kynkäänniemi et al. 2019), density and coverage (Naeem et al. 2020).

    real, fake: feature matrices [N, D] and [M, D] (numpy or torch; computed on the real tensor's device).
    k: neighbourhood size; radii are distances to the k-th nearest other point of the same set.
    chunk_elements: distances held at once (memory ~ 8 bytes each), so 50,000 x 50,000 runs in ~130 MB.
    """
    x, y, dtype = _check_pair(real, fake)
    k = _check_k(k, len(x), len(y))
    centre = x.mean(0)
    a, b = _points(x, centre), _points(y, centre)
    t_real = _strict_threshold(_radii_sq(a, k, dtype, max(1, chunk_elements // len(a))))
    t_fake = _strict_threshold(_radii_sq(b, k, dtype, max(1, chunk_elements // len(b))))
    counts = torch.zeros(len(b), dtype=torch.int64, device=x.device)  # real balls holding each fake
    covered = torch.zeros(len(a), dtype=torch.bool, device=x.device)  # real ball holds some fake
    recalled = torch.zeros(len(a), dtype=torch.bool, device=x.device)  # real lies in some fake ball
    chunk = max(1, chunk_elements // len(b))
    for start in range(0, len(a), chunk):
        part = slice(start, min(start + chunk, len(a)))
        fast = _fast_sq(a, b, part)  # [c, M]
        m = _margin(a, b, part)
        row0 = torch.arange(part.start, part.stop, device=x.device)

        def exact(r: Tensor, c: Tensor) -> Tensor:
            return _reference_sq(a, b, row0[r], c, dtype)

        tr, tf = t_real[part, None], t_fake[None, :]
        sure, (r, c) = _inside(fast, tr, m, exact)
        counts += sure.sum(0)
        counts.index_add_(0, c, torch.ones_like(c))
        covered[part] |= sure.any(1)
        covered[row0[r]] = True
        sure, (r, _) = _inside(fast, tf, m, exact)
        recalled[part] |= sure.any(1)
        recalled[row0[r]] = True
    return {
        "precision": (counts > 0).double().mean().item(),
        "recall": recalled.double().mean().item(),
        "density": counts.sum().item() / (k * len(b)),
        "coverage": covered.double().mean().item(),
    }


def _as_tensor(x: Features, what: str) -> Tensor:
    t = torch.as_tensor(x)
    if t.dim() != 2 or t.shape[0] == 0:
        raise DataError(f"{what} features must be a non-empty matrix [N, D]; got shape {list(t.shape)}")
    if not torch.isfinite(t).all():
        raise DataError(f"{what} features contain NaN or infinite values")
    return t


def _check_pair(real: Features, fake: Features) -> tuple[Tensor, Tensor, torch.dtype]:
    """Both sets as float64 on real's device, and the reference's distance dtype (float32 iff both are)."""
    x, y = _as_tensor(real, "real"), _as_tensor(fake, "fake")
    if x.shape[1] != y.shape[1]:
        raise DataError(f"real and fake features differ in width: {x.shape[1]} vs {y.shape[1]}")
    dtype = torch.float32 if x.dtype == y.dtype == torch.float32 else torch.float64
    return x.double(), y.double().to(x.device), dtype


def _check_k(k: int, n: int, m: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k < min(n, m):
        raise ConfigError(f"k={k!r} is not allowed; it must be an integer in [1, {min(n, m) - 1}] for {n} real, {m} fake")
    return k


def frechet_distance(mu1: Features, sigma1: Features, mu2: Features, sigma2: Features) -> float:
    """||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1 S2)^{1/2}) between two Gaussians (Heusel et al. 2017), in float64.

    tr (S1 S2)^{1/2} is the sum of square roots of the eigenvalues of the symmetric PSD matrix
    S1^{1/2} S2 S1^{1/2} (similar to S1 S2), so near-singular covariances need no eps*I offset
    and no imaginary parts arise (pytorch-fid's scipy `sqrtm` needs both).
    """
    mu1, mu2 = (np.atleast_1d(np.asarray(m, dtype=np.float64)) for m in (mu1, mu2))
    s1, s2 = (np.atleast_2d(np.asarray(s, dtype=np.float64)) for s in (sigma1, sigma2))
    d = mu1.shape[0]
    if mu2.shape != (d,) or s1.shape != (d, d) or s2.shape != (d, d):
        raise DataError(f"frechet_distance needs means [D] and covariances [D, D]; got {mu1.shape}, {s1.shape}, "
                        f"{mu2.shape}, {s2.shape}")
    root1 = _psd_sqrt(s1)
    cross = root1 @ s2 @ root1
    eig = np.linalg.eigvalsh((cross + cross.T) / 2)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(np.clip(eig, 0, None)).sum())


def _psd_sqrt(s: np.ndarray) -> np.ndarray:
    """Symmetric square root of a PSD matrix (negative round-off eigenvalues clipped to 0)."""
    w, v = np.linalg.eigh((s + s.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def _numpy64(x: Features, what: str) -> np.ndarray:
    return _as_tensor(x, what).detach().cpu().double().numpy()


def fid(real_feats: Features, fake_feats: Features) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (means, covariances with ddof=1)."""
    x, y = _numpy64(real_feats, "real"), _numpy64(fake_feats, "fake")
    if min(len(x), len(y)) < 2 or x.shape[1] != y.shape[1]:
        raise DataError(f"fid needs >= 2 rows of equal width in each set; got {list(x.shape)} and {list(y.shape)}")
    return frechet_distance(x.mean(0), np.cov(x, rowvar=False), y.mean(0), np.cov(y, rowvar=False))


@dataclass
class KidResult:
    """Kernel Inception Distance over random subsets: mean and standard deviation of the unbiased MMD^2."""

    mean: float
    std: float


def polynomial_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 with k(a, b) = (a.b / d + 1)^3 (Bińkowski et al. 2018, eq. 3), float64."""
    d, m, n = x.shape[1], len(x), len(y)
    kxx, kyy, kxy = ((u @ v.T / d + 1) ** 3 for u, v in ((x, x), (y, y), (x, y)))
    within = (kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
    return float(within - 2 * kxy.mean())


def kid(real_feats: Features, fake_feats: Features, subsets: int = 100, subset_size: int = 1000,
        seed: int = 0) -> KidResult:
    """KID: unbiased polynomial-kernel MMD^2 on `subsets` seeded random subsets (without replacement).

    subset_size: capped at the smaller set's size.
    """
    x, y = _numpy64(real_feats, "real"), _numpy64(fake_feats, "fake")
    size = min(subset_size, len(x), len(y))
    if size < 2 or x.shape[1] != y.shape[1] or subsets < 1:
        raise DataError(f"kid needs >= 2 rows of equal width and subsets >= 1; got {list(x.shape)}, "
                        f"{list(y.shape)}, subsets={subsets}")
    rng = np.random.default_rng(seed)
    values = [polynomial_mmd2(x[rng.choice(len(x), size, replace=False)], y[rng.choice(len(y), size, replace=False)])
              for _ in range(subsets)]
    return KidResult(float(np.mean(values)), float(np.std(values)))


__all__ = ["KidResult", "fid", "frechet_distance", "kid", "polynomial_mmd2", "prdc"]
