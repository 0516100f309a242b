"""Mode collapse on the 2-D toys: vanilla GAN vs WGAN-GP vs PacGAN2 on ring8 and grid25, next to PacGAN's numbers.

Each variant is the default GAN (`GANConfig()`) with only the named options changed, trained by
`gausslab.fit` for several seeds, then scored with the Unrolled-GAN / VEEGAN / PacGAN protocol on
2,500 samples (`metrics.toy_metrics`). Runs go to a pool of single-threaded worker processes
(`--workers`, default 2 for 2 cores).

Budget: `--full` trains with the default `TrainConfig` (50 epochs = 3,950 steps, what
`gausslab train gan` does): about 12 minutes on 2 cores, WGAN-GP's five critic steps being two thirds
of it. The default (`make bench`) is a 1,000-step preview that takes about 2.5 minutes; its GANs
are not converged (high-quality fractions stay low), so compare with the paper only at `--full`.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import torch

import gausslab as gl
from benchmarks.common import table
from gausslab.training.run_config import parse_overrides
from gausslab.metrics import toy_metrics

VARIANTS: dict[str, dict] = {
    "GAN (ns)": {"loss": "ns", "pack": 1},
    # Gulrajani et al. 2017's settings for 2-D toys (their gan_toy.py): 5 critic steps, Adam(1e-4, (0.5, 0.9)),
    # lambda = 0.1 ("smaller lambda seems to help for toy tasks").
    "WGAN-GP": {"loss": "wgan-gp", "pack": 1, "n_critic": 5, "lr_g": 1e-4, "lr_d": 1e-4, "betas": (0.5, 0.9),
                "gp_weight": 0.1},
    "PacGAN2 (ns)": {"loss": "ns", "pack": 2},
}

# Lin et al. 2018 (PacGAN), sec. 5.1, 2-D ring and 2-D grid tables: modes, % high quality, reverse KL.
PUBLISHED: dict[tuple[str, str], tuple[float, float | None, float]] = {
    ("GAN (ns)", "ring8"): (6.3, 98.2, 0.45),
    ("GAN (ns)", "grid25"): (17.3, None, 0.70),
    ("PacGAN2 (ns)", "ring8"): (7.9, 95.6, 0.07),
    ("PacGAN2 (ns)", "grid25"): (23.8, None, 0.13),
}
KEYS = ("modes_captured", "high_quality", "reverse_kl")
QUICK_STEPS = 1000  # the `make bench` preview; None = the default TrainConfig budget


def run_one(variant: str, data: str, seed: int, steps: int | None, overrides: dict) -> dict[str, float]:
    """Train one seeded run single-threaded and score it."""
    torch.set_num_threads(1)
    ds = gl.load_dataset(data)
    model = gl.build_model("gan", ds, seed=seed, **{**VARIANTS[variant], **overrides})
    t0 = time.perf_counter()
    result = gl.fit(model, ds, gl.TrainConfig(seed=seed, steps=steps), progress=False)
    metrics = {k: float(v) for k, v in toy_metrics(model, ds, seed=seed).items() if k in KEYS}
    return {**metrics, "steps": result.steps, "wall_s": time.perf_counter() - t0}


def _mean_std(values: list[float]) -> tuple[float, float]:
    finite = [v for v in values if not math.isnan(v)]
    if not finite:
        return math.nan, math.nan
    return statistics.fmean(finite), statistics.pstdev(finite)


def _cell(values: list[float], digits: int) -> str:
    mean, std = _mean_std(values)
    if math.isnan(mean):
        return "undefined (no high-quality sample)"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def _published(variant: str, data: str, i: int, digits: int) -> str:
    value = PUBLISHED.get((variant, data), (None, None, None))[i]
    return "-" if value is None else f"{value:.{digits}f}"


def main(steps: int | None = QUICK_STEPS, seeds: int = 3, workers: int = 2, datasets=("ring8", "grid25"),
         variants=tuple(VARIANTS), overrides: dict | None = None) -> dict:
    jobs = [(v, d, s) for d in datasets for v in variants for s in range(seeds)]
    jobs.sort(key=lambda job: -VARIANTS[job[0]].get("n_critic", 1))  # longest runs first balances the workers
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        futures = {job: pool.submit(run_one, *job, steps, overrides or {}) for job in jobs}
        runs = {job: f.result() for job, f in futures.items()}
    rows, figures = [], {}
    for d in datasets:
        for v in variants:
            got = [runs[(v, d, s)] for s in range(seeds)]
            cols = {k: [r[k] for r in got] for k in KEYS}
            rows.append({
                "data": d, "variant": v, "steps": got[0]["steps"],
                "modes": _cell(cols["modes_captured"], 1), "modes (paper)": _published(v, d, 0, 1),
                "high quality %": _cell(cols["high_quality"], 1), "HQ % (paper)": _published(v, d, 1, 1),
                "reverse KL": _cell(cols["reverse_kl"], 2), "rKL (paper)": _published(v, d, 2, 2),
            })
            for k in KEYS:  # JSON has no NaN: an undefined figure is None
                mean, std = (None if math.isnan(x) else x for x in _mean_std(cols[k]))
                figures[f"{d}/{v}/{k}"], figures[f"{d}/{v}/{k}_std"] = mean, std
    title = (f"Mode collapse on 2-D toys: mean ± std over {seeds} seeds, 2,500 samples each "
             f"(paper: Lin et al. 2018, PacGAN) — {time.perf_counter() - t0:.0f} s with {workers} workers")
    print(table(rows, title))
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=QUICK_STEPS, help="steps per run")
    parser.add_argument("--full", action="store_true", help="train with the default TrainConfig budget (50 epochs)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="parallel single-threaded runs")
    parser.add_argument("--data", nargs="+", default=["ring8", "grid25"], choices=["ring8", "grid25"])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--set", action="append", default=[], dest="sets",
                        help="model option for every variant, e.g. --set model.lr_d=2e-3 (repeatable)")
    args = parser.parse_args()
    model_overrides = parse_overrides(args.sets).get("model", {})
    main(None if args.full else args.steps, args.seeds, args.workers, tuple(args.data), tuple(args.variants),
         model_overrides)
