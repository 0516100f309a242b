"""Metric cost: `gausslab.metrics.prdc` vs the reference `prdc` package, FID vs the scipy `sqrtm`
formula, and IWAE NLL peak memory.

PRDC: 10,000 real x 10,000 fake 64-d float32 features, k = 5; both implementations in the same
run (best of 2 each), the four values must agree to 1e-6 (they agree exactly: same distances,
same strict ties).
FID: 10,000 x 10,000 features of Inception's width (2,048, correlated, float32) through
`gausslab.metrics.fid` against the formula of pytorch-fid / torch-fidelity (np.cov, then
scipy.linalg.sqrtm(S1 S2) and its trace); best of 2 each, values compared.
IWAE: `iwae_nll` with k = 5,000 on 500 digits (chunking makes peak memory independent of their number) with an untrained VAE, in a fresh process;
peak memory is the growth of the resident set's high-water mark (Linux /proc/self/status VmHWM,
reset through /proc/self/clear_refs after the warm-up). A run with k = 50 shows the peak does not
grow with k (chunked), next to what one unchunked pass would have to hold.
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.common import table
from gausslab.metrics import fid, prdc

PRDC_N, PRDC_DIM, PRDC_K = 10_000, 64, 5
FID_N, FID_DIM = 10_000, 2048
IWAE_K = 5_000


def prdc_features(n: int, dim: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    real = rng.standard_normal((n, dim)).astype(np.float32)
    fake = (rng.standard_normal((n, dim)) * 1.1 + 0.1).astype(np.float32)
    return real, fake


def _reference_prdc(real: np.ndarray, fake: np.ndarray, k: int) -> dict[str, float]:
    import prdc as reference

    with contextlib.redirect_stdout(io.StringIO()):  # the reference prints the set sizes
        return {key: float(v) for key, v in reference.compute_prdc(real, fake, k).items()}


def _best_of(fn, repeats: int) -> tuple[float, dict]:
    """Fastest wall time of `repeats` calls, and the (deterministic) result."""
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def prdc_speed(n: int = PRDC_N, dim: int = PRDC_DIM, k: int = PRDC_K, repeats: int = 2) -> dict:
    """Best-of-`repeats` seconds of each implementation on the same features, and their largest difference."""
    real, fake = prdc_features(n, dim)
    ours_s, ours = _best_of(lambda: prdc(real, fake, k), repeats)
    ref_s, ref = _best_of(lambda: _reference_prdc(real, fake, k), repeats)
    diff = max(abs(ours[key] - ref[key]) for key in ref)
    return {"n": n, "dim": dim, "k": k, "gausslab_s": ours_s, "reference_s": ref_s, "speedup": ref_s / ours_s,
            "max_abs_diff": diff, "agree_1e-6": diff <= 1e-6, **ours}


def _memory_mb(field: str) -> float:
    """VmRSS (now) or VmHWM (high-water mark) of this process, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def _iwae_peak(k: int) -> dict:
    """In a fresh process: peak memory growth (MB) of iwae_nll over 500 digits with an untrained VAE."""
    import gausslab as gl
    from gausslab.metrics import iwae_nll

    data = gl.load_dataset("digits")
    x = torch.cat([data.train, data.test])[:500]
    model = gl.build_model("vae", data, latent_dim=16)
    iwae_nll(model, x[:8], k=8)  # warm-up: allocator and kernels
    Path("/proc/self/clear_refs").write_text("5")  # reset the high-water mark to the current RSS
    before = _memory_mb("VmRSS")
    t0 = time.perf_counter()
    result = iwae_nll(model, x, k=k)
    seconds = time.perf_counter() - t0
    return {"k": k, "n": len(x), "nats": result.nats, "bits_per_dim": result.bits_per_dim, "seconds": seconds,
            "samples_per_s": k * len(x) / seconds,
            "peak_growth_mb": _memory_mb("VmHWM") - before, "rss_before_mb": before}


def iwae_memory() -> list[dict]:
    ctx = multiprocessing.get_context("spawn")
    rows = []
    for k in (50, IWAE_K):
        with ctx.Pool(1) as pool:
            rows.append(pool.apply(_iwae_peak, (k,)))
    # One unchunked pass holds, per (sample, example), z (16), two hidden layers (128) and the output (64).
    for row in rows:
        row["unchunked_mb"] = row["k"] * row["n"] * (16 + 2 * 128 + 64) * 4 / 2**20
    return rows


def _scipy_fid(x: np.ndarray, y: np.ndarray) -> float:
    """The usual formula (Heusel et al. 2017 as coded in pytorch-fid): sqrtm of the product, real part."""
    import scipy.linalg

    x, y = x.astype(np.float64), y.astype(np.float64)
    mu1, mu2, s1, s2 = x.mean(0), y.mean(0), np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def fid_speed(n: int = FID_N, dim: int = FID_DIM, repeats: int = 2) -> dict:
    """Features with a full-rank, unequal spectrum (as CNN features have): Gaussian codes through a fixed mixing."""
    rng = np.random.default_rng(1)
    mixing = rng.standard_normal((dim, dim)) / np.sqrt(dim)
    real = (rng.standard_normal((n, dim)) @ mixing).astype(np.float32)
    fake = (rng.standard_normal((n, dim)) @ (mixing * 1.05) + 0.02).astype(np.float32)
    ours_s, ours = _best_of(lambda: fid(real, fake), repeats)
    ref_s, ref = _best_of(lambda: _scipy_fid(real, fake), repeats)
    return {"n": n, "dim": dim, "gausslab_s": ours_s, "scipy_sqrtm_s": ref_s, "speedup": ref_s / ours_s,
            "fid": ours, "fid_scipy": ref, "rel_diff": abs(ours - ref) / abs(ref)}


def main() -> dict:
    speed = prdc_speed()
    print(table([speed], "PRDC: gausslab vs reference `prdc` (10,000 x 10,000, 64-d float32, k=5)"))
    fid_row = fid_speed()
    print(table([fid_row], "FID: gausslab (eigh of S1^1/2 S2 S1^1/2) vs scipy sqrtm(S1 S2) (10,000 x 10,000, 2,048-d)"))
    memory = iwae_memory()
    print(table(memory, "IWAE NLL on 500 digits (untrained VAE): peak memory and samples/s"))
    return {"prdc": speed, "fid": fid_row, "iwae": {f"k{row['k']}": row for row in memory}}


if __name__ == "__main__":
    main()
