"""Gaussian-mixture EM: gausslab (torch, through the one trainer) vs scikit-learn's GaussianMixture.

Same data, K, covariance type, regularisation and iteration count (tol = 0, so both run every
iteration; both start from greedy k-means++). Reports seconds per EM iteration, the speed ratio and the
final mean training log-likelihood of each (the "equal log-likelihood" side of the comparison).
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

from benchmarks.common import table
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


def main(iters: int = 100, rounds: int = 3) -> dict:
    rows = [run_case(*case, iters, rounds) for case in CASES]
    print(table(rows, f"GMM EM: gausslab vs scikit-learn (same K, covariance, iterations; {rounds} seeds: best time, mean log-lik)"))
    return {f"{r['data']}_K{r['K']}_{r['cov']}": r for r in rows}


if __name__ == "__main__":
    main()
