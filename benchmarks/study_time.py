"""Wall time of `gausslab study --preset standard --data digits` (the `make run` job); goal <= 10 min on 2 cores."""

from __future__ import annotations

import tempfile
import time

from benchmarks.common import table
from gausslab.report.build import build_report
from gausslab.study.driver import run_study

GOAL_S = 600.0


def main(preset: str = "standard") -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        result = run_study(tmp, data="digits", preset=preset, quiet=True)
        build_report(result.out)
        wall = time.perf_counter() - t0
    row = {"preset": preset, "wall_s": wall, "fraction_of_10_min_goal": wall / GOAL_S, **result.counts}
    print(table([row], "gausslab study on digits"))
    return row


if __name__ == "__main__":
    main()
