"""Wall time of `gausslab study --preset standard` (mnist5k, 3 seeds) with 2 workers (the `make run` job), and the
speedup of `--workers 2` over one worker on the quick preset (digits), timed in the same run.

Goal: the standard study in at most 15 minutes on 2 cores, which leaves `make run` five minutes for its
set-up within 20. The numbers do not depend on the worker count (tests/study/test_pool.py), so a
study can be timed at any --workers.
"""

from __future__ import annotations

import tempfile
import time

from benchmarks.common import table
from gausslab.report.build import build_report
from gausslab.study.driver import run_study

GOAL_S = 900.0


def timed(preset: str, workers: int, seeds: int | None = None) -> tuple[float, dict]:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        result = run_study(tmp, preset=preset, seeds=seeds, quiet=True, workers=workers)
        build_report(result.out)
        return time.perf_counter() - t0, result.counts


def main(preset: str = "standard", workers: int = 2) -> dict:
    serial, _ = timed("quick", 1, seeds=1)
    parallel, _ = timed("quick", workers, seeds=1)
    wall, counts = timed(preset, workers)
    row = {"preset": preset, "workers": workers, "wall_s": wall, "fraction_of_15_min_goal": wall / GOAL_S,
           "quick_serial_s": serial, "quick_parallel_s": parallel, "parallel_speedup": serial / parallel, **counts}
    print(table([row], f"gausslab study ({preset} preset and its data, default seeds, {workers} workers)"))
    return row


if __name__ == "__main__":
    main()
