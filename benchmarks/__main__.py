"""`make bench`: run every benchmark in one process, print their tables, write benchmarks/results.json.

Each figure is a ratio against a baseline measured in the same run (hand-written loop, reference
package, GEMM peak), so numbers from different machines compare; none of them gates a test.
"""

from __future__ import annotations

import importlib
import sys
import time
import traceback

from benchmarks.common import RESULTS, machine, update_results
from benchmarks.goals import summary

SUITE = ["train_throughput", "gan_throughput", "gmm_vs_sklearn", "metrics_speed", "toy_modes", "priors", "remedies",
         "study_time", "cli_startup"]


def main(names: list[str]) -> int:
    results: dict[str, object] = {"machine": machine()}
    failed = []
    for name in names or SUITE:
        print(f"\n== {name} ==", flush=True)
        t0 = time.perf_counter()
        try:
            results[name] = importlib.import_module(f"benchmarks.{name}").main()
        except (Exception, SystemExit):  # one broken benchmark must not hide the others' figures
            traceback.print_exc()
            failed.append(name)
            results[name] = {"error": traceback.format_exc(limit=1).strip().splitlines()[-1]}
        print(f"({name}: {time.perf_counter() - t0:.0f} s)", flush=True)
    print("\n" + summary(results))
    update_results(results)
    print(f"\nwrote {RESULTS}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
