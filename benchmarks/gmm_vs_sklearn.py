"""Gaussian-mixture EM: gausslab (torch, through the one trainer) vs scikit-learn's GaussianMixture.

Same data, K, covariance type, regularisation and iteration count (tol = 0, so both run every
iteration; both start from k-means++). Reports seconds per EM iteration, the speed ratio and the
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
from gausslab.models.gmm import fit_gmm

CASES = [("digits", 10, "full"), ("digits", 10, "diag"), ("grid25", 25, "full")]


def run_case(name: str, k: int, covariance: str, iters: int) -> dict:
    data = load_dataset(name)
    x = data.train.flatten(1).double()
    t0 = time.perf_counter()
    ours = fit_gmm(data, steps=iters, seed=0, device="cpu", components=k, covariance=covariance, tol=0.0)
    ours_s = time.perf_counter() - t0
    with torch.no_grad():
        ours_ll = float(ours.log_prob(data.train).mean())
    sk = GaussianMixture(k, covariance_type=covariance, max_iter=iters, tol=0.0, reg_covar=1e-6,
                         init_params="k-means++", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        t0 = time.perf_counter()
        sk.fit(x.numpy())
        sk_s = time.perf_counter() - t0
    sk_ll = float(np.mean(sk.score_samples(x.numpy())))
    return {"data": name, "K": k, "cov": covariance, "iters": iters, "gausslab_s_per_iter": ours_s / iters,
            "sklearn_s_per_iter": sk_s / iters, "speedup_vs_sklearn": sk_s / ours_s,
            "gausslab_train_ll": ours_ll, "sklearn_train_ll": sk_ll}


def main(iters: int = 100) -> dict:
    rows = [run_case(*case, iters) for case in CASES]
    print(table(rows, "GMM EM: gausslab vs scikit-learn (same K, covariance, iterations)"))
    return {f"{r['data']}_K{r['K']}_{r['cov']}": r for r in rows}


if __name__ == "__main__":
    main()
