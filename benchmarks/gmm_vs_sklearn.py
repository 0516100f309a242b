"""Gaussian-mixture EM: gausslab (torch, through the one trainer) vs scikit-learn's GaussianMixture.

Same data, K, covariance type, regularisation and iteration count (tol = 0, so both run every
iteration; both start from greedy k-means++). Reports seconds per EM iteration, the speed ratio and the
final mean training log-likelihood of each (the "equal log-likelihood" side of the comparison).

`estimator_case`: `gausslab.GaussianMixture` against scikit-learn's estimator as a user calls them —
defaults (tol 1e-3, max_iter 100), init_params="k-means++" on both — on a mid-size synthetic mixture:
whole fit() times in interleaved rounds (the ratio per round, its median), iterations to converge, and
the largest |score_samples| difference after both run 20 iterations from one shared start.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

import gausslab as gl
from benchmarks.common import median_ratio, table
from gausslab.data import load_dataset
from gausslab.training.fitting import fit_gmm

CASES = [("digits", 10, "full"), ("digits", 10, "diag"), ("grid25", 25, "full")]


def run_case(name: str, k: int, covariance: str, iters: int, rounds: int) -> dict:
    """Best time per iteration of each over `rounds` seeds, and each one's mean training log-likelihood
    over those seeds (EM finds a local optimum that depends on the k-means++ draw)."""
    data = load_dataset(name)
    x = data.train.flatten(1).double().numpy()

    def ours(seed: int) -> float:
        model = fit_gmm(data, steps=iters, seed=seed, device="cpu", components=k, covariance=covariance, tol=0.0)
        with torch.no_grad():
            return float(model.log_prob(data.train).mean())

    def theirs(seed: int) -> float:
        sk = GaussianMixture(k, covariance_type=covariance, max_iter=iters, tol=0.0, reg_covar=1e-6,
                             init_params="k-means++", random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return float(np.mean(sk.fit(x).score_samples(x)))

    # Each side in its own block after a warm-up: run back to back, one library's still-spinning
    # worker threads slow the other's first iterations, whichever goes second.
    row: dict[str, object] = {"data": name, "K": k, "cov": covariance, "iters": iters}
    for label, fit in (("gausslab", ours), ("sklearn", theirs)):
        fit(rounds)  # warm-up, unseen seed
        times, lls = [], []
        for seed in range(rounds):
            t0 = time.perf_counter()
            lls.append(fit(seed))
            times.append(time.perf_counter() - t0)
        row |= {f"{label}_s_per_iter": min(times) / iters, f"{label}_train_ll": float(np.mean(lls))}
    return row | {"speedup_vs_sklearn": row["sklearn_s_per_iter"] / row["gausslab_s_per_iter"]}


def mixture_data(n: int, d: int, k: int, seed: int = 0) -> np.ndarray:
    """n points [n, d] from k Gaussians with random centres (spread 3) and random full covariances."""
    rng = np.random.default_rng(seed)
    centres, mixes = rng.normal(0, 3, (k, d)), rng.normal(0, 1 / np.sqrt(d), (k, d, d))
    which = rng.integers(k, size=n)
    return centres[which] + np.einsum("nd,nde->ne", rng.normal(size=(n, d)), mixes[which])


def estimator_case(covariance: str, n: int = 20_000, d: int = 16, k: int = 10, rounds: int = 3) -> dict:
    x = mixture_data(n, d, k)
    fits = {"gausslab": lambda seed: gl.GaussianMixture(k, covariance_type=covariance, random_state=seed),
            "sklearn": lambda seed: GaussianMixture(k, covariance_type=covariance, init_params="k-means++",
                                                    random_state=seed)}
    times: dict[str, list[float]] = {name: [] for name in fits}
    iters: dict[str, list[int]] = {name: [] for name in fits}
    scores: dict[str, list[float]] = {name: [] for name in fits}
    for seed in range(-1, rounds):  # round -1 warms both up, untimed
        for name in sorted(fits, reverse=seed % 2 == 1):  # alternate which goes first
            t0 = time.perf_counter()
            est = fits[name](max(seed, 0)).fit(x)
            if seed >= 0:
                times[name].append(time.perf_counter() - t0)
                iters[name].append(est.n_iter_)
                scores[name].append(est.score(x))
    start = {"weights_init": np.full(k, 1 / k), "means_init": x[:: n // k][:k],
             "precisions_init": np.stack([np.eye(d)] * k) if covariance == "full" else np.ones((k, d))}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # tol = 0: both run all 20 iterations
        ours = gl.GaussianMixture(k, covariance_type=covariance, tol=0.0, max_iter=20, **start).fit(x)
        theirs = GaussianMixture(k, covariance_type=covariance, tol=0.0, max_iter=20, **start).fit(x)
    return {"N": n, "D": d, "K": k, "cov": covariance,
            "gausslab_fit_s": float(np.median(times["gausslab"])),
            "sklearn_fit_s": float(np.median(times["sklearn"])),
            "speedup_vs_sklearn": median_ratio(times["sklearn"], times["gausslab"]),
            "gausslab_iters": float(np.mean(iters["gausslab"])), "sklearn_iters": float(np.mean(iters["sklearn"])),
            "gausslab_ll": float(np.mean(scores["gausslab"])), "sklearn_ll": float(np.mean(scores["sklearn"])),
            "max_abs_score_diff_shared_start": float(np.abs(ours.score_samples(x) - theirs.score_samples(x)).max())}


def main(iters: int = 100, rounds: int = 3) -> dict:
    rows = [run_case(*case, iters, rounds) for case in CASES]
    print(table(rows, f"GMM EM: gausslab vs scikit-learn (same K, covariance, iterations; {rounds} seeds: best time, mean log-lik)"))
    estimators = [estimator_case(cov, rounds=rounds) for cov in ("full", "diag")]
    print(table(estimators, f"gausslab.GaussianMixture vs sklearn GaussianMixture, defaults, k-means++ "
                            f"({rounds} interleaved rounds: median fit time, mean iterations and log-lik)"))
    return {f"{r['data']}_K{r['K']}_{r['cov']}": r for r in rows} | {f"estimator_{r['cov']}": r for r in estimators}


if __name__ == "__main__":
    main()
