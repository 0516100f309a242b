"""Wall time of `gausslab study --preset standard` (mnist5k, 3 seeds) with 2 workers (the `make run` job), and the
speedup of `--workers 2` over one worker on the quick preset (digits), timed in the same run.

Goal: the standard study in at most 18 minutes on 2 cores, which leaves `make run` two minutes for its
set-up within 20 (`make install` took 68 s on a fresh clone with pip's download cache warm). The
numbers do not depend on the worker count (tests/study/test_pool.py), so a study can be timed at any
--workers.

    python -m benchmarks.study_time [--study FOLDER]

--study FOLDER takes the standard study's time from a finished study folder (the wall time that
`gausslab study` recorded in its study.json, e.g. after `make run`) instead of running it again; the
quick-preset speedup is still timed here.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from benchmarks.common import table, update_results
from gausslab.report.build import build_report
from gausslab.study.driver import run_study
from gausslab.study.record import is_finished, read_study_info, run_dir

GOAL_S = 1080.0


def timed(preset: str, workers: int, seeds: int | None = None) -> tuple[float, dict]:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        result = run_study(tmp, preset=preset, seeds=seeds, quiet=True, workers=workers)
        build_report(result.out)
        return time.perf_counter() - t0, result.counts


def recorded(folder: Path) -> tuple[float, dict, str, int]:
    """The wall time, finished-run count, preset and workers a finished study folder recorded."""
    info = read_study_info(folder)
    finished = sum(is_finished(run_dir(folder, t.name), t.kind) for t in info.tasks)
    if info.wall_s is None or finished < len(info.tasks):
        raise SystemExit(f"{str(folder)!r} is not a finished study ({finished} of {len(info.tasks)} runs)")
    return info.wall_s, {"finished": finished}, info.preset, int(info.hardware["workers"])


def main(preset: str = "standard", workers: int = 2, study: Path | None = None) -> dict:
    serial, _ = timed("quick", 1, seeds=1)
    parallel, _ = timed("quick", workers, seeds=1)
    if study is not None:
        wall, counts, preset, workers = recorded(study)
    else:
        wall, counts = timed(preset, workers)
    row = {"preset": preset, "workers": workers, "wall_s": wall, "fraction_of_18_min_goal": wall / GOAL_S,
           "quick_serial_s": serial, "quick_parallel_s": parallel, "parallel_speedup": serial / parallel, **counts}
    print(table([row], f"gausslab study ({preset} preset and its data, default seeds, {workers} workers)"))
    return row


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", type=Path, help="a finished study folder whose recorded time to report")
    update_results({"study_time": main(study=parser.parse_args().study)})  # alone, it records its own entry
