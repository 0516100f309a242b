"""The performance goals of the benchmark suite, checked against one run's results (printed, never asserted)."""

from __future__ import annotations

import operator

from benchmarks.common import table

# (goal, path into results.json, comparison, target)
GOALS = [
    ("VAE MLP training vs pythae", "train_throughput.ratio_vs_pythae", ">=", 1.25),
    ("VAE MLP training vs hand loop", "train_throughput.ratio_vs_hand_loop", ">=", 0.95),
    ("conv VAE training vs hand loop", "train_throughput.conv_ratio_vs_hand_loop", ">=", 0.95),
    ("VAE MLP share of float32 GEMM peak", "train_throughput.fraction_of_gemm_peak", ">=", 0.70),
    ("GAN steps vs hand loop", "gan_throughput.ratio_vs_hand_loop", ">=", 0.95),
    ("EM vs scikit-learn, digits K=10 full", "gmm_vs_sklearn.digits_K10_full.speedup_vs_sklearn", ">=", 1.0),
    ("EM vs scikit-learn, digits K=10 diag", "gmm_vs_sklearn.digits_K10_diag.speedup_vs_sklearn", ">=", 1.0),
    ("EM vs scikit-learn, grid25 K=25 full", "gmm_vs_sklearn.grid25_K25_full.speedup_vs_sklearn", ">=", 1.0),
    ("PRDC vs prdc package", "metrics_speed.prdc.speedup", ">=", 5.0),
    ("study --preset standard (mnist5k), 3 seeds, 2 workers (s)", "study_time.wall_s", "<=", 1080.0),
    ("study --workers 2 vs 1 (quick preset)", "study_time.parallel_speedup", ">=", 1.5),
    ("gausslab --help vs eager imports (CPU time)", "cli_startup.speedup_cpu", ">=", 5.0),
]
_COMPARE = {">=": operator.ge, "<=": operator.le}


def _lookup(results: dict, path: str) -> float | None:
    node: object = results
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node if isinstance(node, (int, float)) else None


def summary(results: dict) -> str:
    rows = []
    for goal, path, op, target in GOALS:
        value = _lookup(results, path)
        met = "not run" if value is None else ("yes" if _COMPARE[op](value, target) else "NO")
        rows.append({"goal": goal, "target": f"{op} {target:g}", "measured": "-" if value is None else value,
                     "met": met})
    return table(rows, "Goals (ratios measured in this run)")
