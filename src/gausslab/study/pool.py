"""Running a study's tasks side by side: `--workers N` independent processes, each with its own thread budget.

Tasks are independent: each seeds itself, writes only its own folder and reads only files that
exist before it starts (data projections, the domain feature extractors, which the parent
prepares first). The one exception, a task that reuses another's network (`Task.source`, the
ex-post and two-stage samplers), starts only once that run has finished. So a parallel study
writes the same numbers as a serial one with the same threads per run (`preset.threads`; when
None, each worker gets cores // workers). `study.schedule` decides which task goes next.
"""

from __future__ import annotations

import ctypes
import math
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from multiprocessing import get_context
from pathlib import Path

import torch
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from gausslab.data.config import DataConfig
from gausslab.evaluation import features
from gausslab.study.presets import StudyPreset
from gausslab.study.record import Task
from gausslab.study.schedule import DataSize, Schedule
from gausslab.study.execute import RunContext, execute
from gausslab.training.progress import Mode

OUTCOMES = ("finished", "skipped", "failed")


def default_workers() -> int:
    """One worker per core."""
    return os.cpu_count() or 1


def thread_budget(preset: StudyPreset, workers: int) -> int:
    """torch / BLAS threads of each run: the preset's, else an equal share of the cores."""
    return preset.threads or max(1, default_workers() // max(1, workers))


@contextmanager
def threads(n: int) -> Iterator[None]:
    """torch's and the BLAS libraries' CPU threads set to `n` for the block, then restored."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        with threadpool_limits(limits=n):  # numpy/scipy BLAS (metrics), a dependency of scikit-learn
            yield
    finally:
        torch.set_num_threads(before)


def image_data(tasks: list[Task], ctx: RunContext) -> list[DataConfig]:
    """The image data sets of `tasks`: each needs its domain feature extractor before the runs that share it."""
    configs = {t.data.model_dump_json(): t.data for t in tasks}.values()
    return [config for config in configs if ctx.data(config).kind == "image"]


def prepare(config: DataConfig, ctx: RunContext) -> None:
    """Train the domain feature extractor of the image data `config` once (a later call finds it cached)."""
    data = ctx.data(config)
    features.extractor(data, cache_dir=ctx.cache(data))


def data_size(ctx: RunContext) -> DataSize:
    """A task -> (training examples, data dimension) of its data, as `schedule.cost` needs them."""
    def size(task: Task) -> tuple[int, int]:
        data = ctx.data(task.data)
        return len(data.train), math.prod(data.shape)
    return size


def run_tasks(tasks: list[Task], ctx: RunContext, workers: int, show: Mode) -> dict[str, int]:
    """Every task, serially in this process (workers == 1) or in `workers` processes; outcome counts.

    show: "bar" (a terminal), "lines" (one line per finished task on stderr, for logs) or "off".
    """
    budget = thread_budget(ctx.preset, workers)
    counts: Counter[str] = Counter()
    start = time.perf_counter()
    with threads(budget), tqdm(total=len(tasks), desc="study", unit="run", disable=show != "bar", file=sys.stderr,
                               dynamic_ncols=True) as bar:
        schedule = Schedule(tasks, data_size(ctx))
        images = image_data(tasks, ctx)
        for outcome in (_serial(schedule, ctx, images) if workers <= 1
                        else _parallel(schedule, ctx, workers, budget, images)):
            counts[outcome] += 1
            bar.update(1)
            if show == "lines":
                print(_progress_line(counts, len(tasks), time.perf_counter() - start), file=sys.stderr, flush=True)
    return {k: counts.get(k, 0) for k in OUTCOMES}


def _progress_line(counts: Counter[str], total: int, elapsed: float) -> str:
    """'study: 12/162 runs done (11 finished, 0 skipped, 1 failed) after 5m31s'."""
    minutes, seconds = divmod(int(elapsed), 60)
    parts = ", ".join(f"{counts.get(k, 0)} {k}" for k in OUTCOMES)
    return f"study: {sum(counts.values())}/{total} runs done ({parts}) after {minutes}m{seconds:02d}s"


def _serial(schedule: Schedule, ctx: RunContext, images: list[DataConfig]) -> Iterator[str]:
    for config in images:
        prepare(config, ctx)
    while (task := schedule.pop()) is not None:
        outcome = execute(task, ctx)
        schedule.done(task)
        yield outcome


def _parallel(schedule: Schedule, ctx: RunContext, workers: int, budget: int,
              images: list[DataConfig]) -> Iterator[str]:
    """Outcomes as tasks finish; a worker is handed the next task the moment it is free, so a task
    released by its source (or a longer one) is never queued behind the tasks submitted before it.
    The feature extractors are trained first, side by side in the workers (with the runs' thread budget)."""
    pool = ProcessPoolExecutor(max_workers=min(workers, len(schedule)), mp_context=get_context("spawn"),
                               initializer=_start_worker, initargs=(os.getpid(), str(ctx.root), ctx.preset, budget))
    try:
        for future in [pool.submit(_prepare_in_worker, config) for config in images]:
            future.result()
        running: dict[Future, Task] = {}
        while len(schedule):
            while len(running) < workers and (task := schedule.pop()) is not None:
                running[pool.submit(_execute_in_worker, task)] = task
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                schedule.done(running.pop(future))
                yield future.result()  # a worker's Interrupted (Ctrl-C) surfaces here
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


_WORKER: dict[str, RunContext] = {}


def _start_worker(parent: int, root: str, preset: StudyPreset, budget: int) -> None:
    _die_with_parent(parent)
    torch.set_num_threads(budget)
    threadpool_limits(limits=budget)
    _WORKER["ctx"] = RunContext(Path(root), preset, progress=False)


def _die_with_parent(parent: int) -> None:
    """On Linux the kernel kills this worker when the study process dies, even by SIGKILL: no orphan goes on
    writing into a run folder that a rerun of the study resumes. A study that died while this worker started
    (before the request) is caught by the parent check."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)


PR_SET_PDEATHSIG = 1  # prctl(2)


def _execute_in_worker(task: Task) -> str:
    return execute(task, _WORKER["ctx"])


def _prepare_in_worker(config: DataConfig) -> None:
    prepare(config, _WORKER["ctx"])


__all__ = ["default_workers", "run_tasks", "thread_budget", "threads", "waves"]
