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

from gausslab.core.errors import ConfigError, DataError

Features = np.ndarray | Tensor
_SLACK = 4  # extra nearest-neighbour candidates per row, so radii rarely need a full exact row
_EPS32, _EPS64 = torch.finfo(torch.float32).eps, torch.finfo(torch.float64).eps


@dataclass
class _Points:
    """One feature set: as given in float64 (reference formula) and centred in float32 (fast pass)."""

    exact: Tensor  # [N, D] float64
    norm: Tensor  # [N] float64, |x|^2 as sklearn's row_norms
    left: Tensor  # [N, D + 2] float32, [u, |u|^2, 1] with u = x - centre
    right: Tensor  # [N, D + 2] float32, [-2u, 1, |u|^2]: left_i . right_j = |u_i - u_j|^2
    fast_norm: Tensor  # [N] float32, |u|^2

    def __len__(self) -> int:
        return self.exact.shape[0]


def _points(x: Tensor, centre: Tensor) -> _Points:
    u = x - centre
    nu = (u * u).sum(1, keepdim=True)
    one = torch.ones_like(nu)
    left, right = torch.cat([u, nu, one], 1).float(), torch.cat([-2 * u, one, nu], 1).float()
    return _Points(x, (x * x).sum(1), left, right, nu[:, 0].float())


def _fast_sq(a: _Points, b: _Points, rows: slice, buf: Tensor) -> Tensor:
    """Float32 squared distances of a's rows to all of b [c, M], written into `buf` by one GEMM."""
    return torch.mm(a.left[rows], b.right.T, out=buf[: rows.stop - rows.start])


def _matmul_eps(device: torch.device) -> float:
    """Relative rounding of float32 matmuls: IEEE float32, unless TF32 or bf16 matmuls were switched on."""
    precision = torch.get_float32_matmul_precision()
    if precision == "medium":
        return 2.0**-7
    if precision == "high" or (device.type == "cuda" and torch.backends.cuda.matmul.allow_tf32):
        return 2.0**-10
    return _EPS32


def _margin(a: _Points, b: _Points) -> float:
    """Bound on |fast - reference| squared distance for any pair of a and b, doubled for safety.

    The float32 GEMM of D + 2 terms errs by <= (D + 2) eps (|u|^2 + |v|^2) (Higham 2002, §3.1); rounding
    u, the norms and the reference's float32 result adds <= 4 eps (|u|^2 + |v|^2); the reference's own
    float64 formula on the uncentred data errs by <= (D + 4) eps64 (|x|^2 + |y|^2).
    """
    d = a.exact.shape[1]
    fast = (d + 6) * _matmul_eps(a.exact.device) * float(a.fast_norm.max() + b.fast_norm.max())
    return 2 * (fast + (d + 4) * _EPS64 * float(a.norm.max() + b.norm.max()))


def _reference_sq(a: _Points, b: _Points, rows: Tensor, cols: Tensor | None, dtype: torch.dtype,
                  block: int) -> Tensor:
    """sklearn's squared distances of a's `rows` [R] to b's `cols` [R, W] (None: all of b) [R, W or M].

    ((-2 x.y) + |x|^2) + |y|^2 in float64, clamped at 0, in `dtype` (`_euclidean_distances_upcast`);
    about `block` pairs at a time.
    """
    width = len(b) if cols is None else cols.shape[1]
    step = max(1, block // max(width, 1))
    parts = []
    for i in range(0, len(rows), step):
        r = rows[i : i + step]
        if cols is None:
            dot, norm = a.exact[r] @ b.exact.T, b.norm[None, :]
        else:
            c = cols[i : i + step]
            dot, norm = torch.bmm(b.exact[c], a.exact[r, :, None])[..., 0], b.norm[c]
        parts.append(((-2 * dot + a.norm[r, None]) + norm).clamp_(min=0).to(dtype))
    return torch.cat(parts) if parts else torch.empty(0, width, dtype=dtype, device=rows.device)


def _radii_sq(p: _Points, k: int, dtype: torch.dtype, chunk: int, block: int) -> Tensor:
    """Squared distance to the k-th nearest other point [N] (the (k+1)-th smallest, self at 0, as `prdc`).

    The k + 1 + _SLACK nearest candidates of each point come from the float32 pass; only they are
    scored with the reference formula (all at once, after the pass).
    """
    n, want, dev = len(p), min(k + 1 + _SLACK, len(p)), p.exact.device
    buf = torch.empty(min(chunk, n), n, device=dev)
    found = [_fast_sq(p, p, slice(s, min(s + chunk, n)), buf).topk(want, dim=1, largest=False, sorted=False)
             for s in range(0, n, chunk)]
    cand = torch.cat([f.indices for f in found])  # [N, want]
    last = torch.cat([f.values.amax(1) for f in found])  # [N] largest candidate fast value
    rows = torch.arange(n, device=dev)
    exact = _reference_sq(p, p, rows, cand, dtype, block)
    exact[cand == rows[:, None]] = 0  # sklearn zeroes the diagonal
    kth = exact.kthvalue(k + 1, dim=1).values
    # Every non-candidate's fast value is >= its row's largest candidate's, so its reference value is >= that
    # minus the margin; where this does not clear kth, score the whole row with the reference formula.
    unsure = (last.double() - _margin(p, p) < kth.double()) & (want < n)
    for group in unsure.nonzero()[:, 0].split(chunk):
        full = _reference_sq(p, p, group, None, dtype, block)
        full[torch.arange(len(group), device=dev), group] = 0
        kth[group] = full.kthvalue(k + 1, dim=1).values
    return kth


def _sqrt(x: Tensor) -> Tensor:
    """Correctly rounded square root in x's dtype, as numpy's (torch's vectorised float32 sqrt is not).

    The float64 root rounded to float32 is the correctly rounded float32 root (53 >= 2 * 24 + 2 bits).
    """
    return x.double().sqrt().to(x.dtype)


def _strict_threshold(r2: Tensor) -> Tensor:
    """Smallest t (same dtype) with sqrt(t) >= sqrt(r2), so that sqrt(s) < sqrt(r2) <=> s < t.

    Comparing squared distances against t reproduces the reference's strict `distance < radius`
    (after its rounding of sqrt) without taking a square root of the whole matrix.
    """
    radius, t = _sqrt(r2), r2.clone()
    while True:
        lower = torch.nextafter(t, torch.zeros_like(t))
        move = (t > 0) & (_sqrt(lower) >= radius)
        if not move.any():
            return t
        t = torch.where(move, lower, t)


def _float32_above(x: Tensor) -> Tensor:
    """The smallest float32 >= x (float64), so `fast < it` keeps every pair with fast < x."""
    y = x.float()
    return torch.where(y.double() < x, torch.nextafter(y, torch.full_like(y, math.inf)), y)


@dataclass
class _Tally:
    """Running PRDC counts over (real, fake) pairs found inside a ball."""

    counts: Tensor  # [M] real balls holding each fake
    covered: Tensor  # [N] real ball holds some fake
    recalled: Tensor  # [N] real lies in some fake's ball

    def add(self, rows: Tensor, cols: Tensor, in_real: Tensor, in_fake: Tensor) -> None:
        """in_real: fake `cols` inside real `rows`' ball; in_fake: real inside the fake's ball."""
        self.counts += torch.bincount(cols[in_real], minlength=len(self.counts))
        self.covered[rows[in_real]] = True
        self.recalled[rows[in_fake]] = True

    def result(self, k: int) -> dict[str, float]:
        return {
            "precision": (self.counts > 0).double().mean().item(),
            "recall": self.recalled.double().mean().item(),
            "density": self.counts.sum().item() / (k * len(self.counts)),
            "coverage": self.covered.double().mean().item(),
        }


def prdc(real: Features, fake: Features, k: int = 5, *, chunk_elements: int = 1 << 24) -> dict[str, float]:
    """Precision and recall (Kynkäänniemi et al. 2019), density and coverage (Naeem et al. 2020).

    real, fake: feature matrices [N, D] and [M, D] (numpy or torch; computed on the real tensor's device).
    k: neighbourhood size; radii are distances to the k-th nearest other point of the same set.
    chunk_elements: distances held at once (~10 bytes each, plus ~30 bytes per input value), so
        50,000 x 50,000 64-d features need ~300 MB instead of 3 x 10 GB of full distance matrices.
    """
    x, y, dtype = _check_pair(real, fake)
    k = _check_k(k, len(x), len(y))
    centre = x.mean(0)
    a, b = _points(x, centre), _points(y, centre)
    block = max(1, chunk_elements // (2 * x.shape[1]))  # pairs scored exactly at once (float64 rows)
    t_real = _strict_threshold(_radii_sq(a, k, dtype, max(1, chunk_elements // len(a)), block))
    t_fake = _strict_threshold(_radii_sq(b, k, dtype, max(1, chunk_elements // len(b)), block))
    m = _margin(a, b)
    # Pairs with fast >= t + m are outside that ball for sure: only the few others are looked at.
    up_real, up_fake = _float32_above(t_real.double() + m), _float32_above(t_fake.double() + m)
    tally = _Tally(torch.zeros(len(b), dtype=torch.int64, device=x.device),
                   torch.zeros(len(a), dtype=torch.bool, device=x.device),
                   torch.zeros(len(a), dtype=torch.bool, device=x.device))
    chunk = max(1, chunk_elements // len(b))
    buf = torch.empty(min(chunk, len(a)), len(b), device=x.device)
    masks = torch.empty(2, *buf.shape, dtype=torch.bool, device=x.device)
    band_rows, band_cols = [], []
    for start in range(0, len(a), chunk):
        part = slice(start, min(start + chunk, len(a)))
        fast = _fast_sq(a, b, part, buf)  # [c, M]
        hit, also = masks[0, : len(fast)], masks[1, : len(fast)]
        torch.lt(fast, up_real[part, None], out=hit)
        torch.lt(fast, up_fake[None, :], out=also)
        rows, cols = hit.logical_or_(also).nonzero(as_tuple=True)
        value, rows = fast[rows, cols].double(), rows + start
        tr, tf = t_real[rows].double(), t_fake[cols].double()
        band = ((value - tr).abs() <= m) | ((value - tf).abs() <= m)  # too close to call in float32
        sure = ~band
        tally.add(rows, cols, (value < tr) & sure, (value < tf) & sure)
        band_rows.append(rows[band])
        band_cols.append(cols[band])
    rows, cols = torch.cat(band_rows), torch.cat(band_cols)
    ref = _reference_sq(a, b, rows, cols[:, None], dtype, block)[:, 0]
    tally.add(rows, cols, ref < t_real[rows], ref < t_fake[cols])
    return tally.result(k)


def _as_tensor(x: Features, what: str) -> Tensor:
    t = torch.as_tensor(x).detach()
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
        raise ConfigError(f"k={k!r} is not allowed; it must be an integer in [1, {min(n, m) - 1}] "
                          f"for {n} real and {m} fake points")
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
    kxx, kyy, kxy = (_cube(u @ v.T / d + 1) for u, v in ((x, x), (y, y), (x, y)))
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


def _cube(k):
    """k**3 as two multiplies: ~10x faster than the generic power on 1000 x 1000 kernel matrices."""
    return k * k * k
