"""Helpers shared by the benchmarks: timing, the machine's float32 GEMM peak, table printing."""

from __future__ import annotations

import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

import gausslab as gl


def best_of(fn: Callable[[], object], repeats: int = 3) -> float:
    """Fastest wall time of `repeats` calls (seconds): the least disturbed by other processes."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def fit_steps_per_s(model, data, steps: int, batch: int, warmup: int = 0, **train: object) -> float:
    """Steps/s of `gausslab.fit` over `steps` steps (one log line, no checkpoint), after `warmup` untimed steps."""
    cfg = gl.TrainConfig(steps=steps, epochs=10_000, batch_size=batch, log_every=steps, checkpoint_every=10**9,
                         **train)
    if warmup:
        gl.fit(model, data, cfg.model_copy(update={"steps": warmup}), progress=False)
    t0 = time.perf_counter()
    gl.fit(model, data, cfg, progress=False)
    return steps / (time.perf_counter() - t0)


def on_one_thread(run: Callable[[], dict]) -> dict:
    """run() with torch on one CPU thread (the benchmarks' small MLPs only add synchronisation with more)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return run()
    finally:
        torch.set_num_threads(threads)


def median_ratio(a: list[float], b: list[float]) -> float:
    """Median over rounds of a_i / b_i. Each pair ran back to back, so the machine's slow drifts
    (other tenants, clock changes: single rates here vary by +-15 %) cancel in the ratio."""
    return statistics.median(x / y for x, y in zip(a, b))


def gemm_peak_flops(n: int = 2048, repeats: int = 5) -> float:
    """Measured float32 matmul throughput (FLOP/s) of this machine with torch's current thread count."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b  # warm-up
    return 2 * n**3 / best_of(lambda: a @ b, repeats)


RESULTS = Path(__file__).with_name("results.json")


def read_results() -> dict[str, object]:
    return json.loads(RESULTS.read_text()) if RESULTS.exists() else {}


def update_results(entries: dict[str, object]) -> None:
    """Replace these top-level entries of benchmarks/results.json and keep the others (e.g. "mutation"
    survives `make bench`, and one benchmark run alone keeps the other benchmarks' figures)."""
    RESULTS.write_text(json.dumps(read_results() | entries, indent=2, default=str) + "\n")


def machine() -> dict[str, object]:
    return {"cpu": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
            "torch": torch.__version__, "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None}


def mean_sd(values: list[float], digits: int = 2) -> str:
    """'mean ± sample sd' of per-seed values (sd 0 for one value)."""
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.{digits}f} ± {sd:.{digits}f}"


def table(rows: list[dict[str, object]], title: str) -> str:
    """A plain-text table of dict rows (same keys)."""
    if not rows:
        return title
    keys = list(rows[0])
    cells = [[_fmt(r.get(k)) for k in keys] for r in rows]
    widths = [max(len(k), *(len(c[i]) for c in cells)) for i, k in enumerate(keys)]
    line = lambda vals: "  ".join(v.ljust(w) for v, w in zip(vals, widths))  # noqa: E731
    return "\n".join([title, line(keys), line(["-" * w for w in widths]), *(line(c) for c in cells)])


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1e4 else f"{v:,.0f}"
    return str(v)
