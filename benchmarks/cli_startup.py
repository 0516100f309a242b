"""How long `gausslab --help` takes, against the same help with the library imported up front.

The command imports torch, matplotlib and scikit-learn only inside the commands that use them;
the baseline imports what the command used to import at start-up, then prints the same help.
Rounds alternate the two, so the machine's drift cancels in the ratio. Wall time and the CPU
time (user + system) of the child process are both reported.
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import time

from benchmarks.common import median_ratio, table

LAZY = [sys.executable, "-m", "gausslab", "--help"]
EAGER = [sys.executable, "-c", "import gausslab.training.checkpoint, gausslab.data.registry, gausslab.evaluation.evaluate, "
         "gausslab.plots.grids, gausslab.samplers, gausslab.training.loop; from gausslab.cli import main; main(['--help'])"]


def timed(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, child CPU seconds) of one run of `cmd`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(rounds: int = 5) -> dict[str, float]:
    lazy, eager = [], []
    timed(LAZY), timed(EAGER)  # warm the file cache
    for _ in range(rounds):
        lazy.append(timed(LAZY))
        eager.append(timed(EAGER))
    result = {
        "help_wall_s": statistics.median(w for w, _ in lazy),
        "eager_help_wall_s": statistics.median(w for w, _ in eager),
        "help_cpu_s": statistics.median(c for _, c in lazy),
        "eager_help_cpu_s": statistics.median(c for _, c in eager),
        "speedup_wall": median_ratio([w for w, _ in eager], [w for w, _ in lazy]),
        "speedup_cpu": median_ratio([c for _, c in eager], [c for _, c in lazy]),
    }
    print(table([{k: round(v, 3) for k, v in result.items()}], "gausslab --help (median of interleaved rounds)"))
    return result


if __name__ == "__main__":
    main()
