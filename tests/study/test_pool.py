"""`--workers`: runs side by side in processes write exactly the numbers of a serial run."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gausslab.data.config import DataConfig
from gausslab.study.plan import Context, plan
from gausslab.study.pool import run_tasks
from gausslab.study.presets import PRESETS
from gausslab.study.record import METRICS_JSON, PER_EXAMPLE, run_dir
from gausslab.study.execute import RunContext

GROUPS = {"toy-ring8-vae", "toy-ring8-pacgan2", "gmm-ksweep-ring8", "prior-standard", "prior-expost"}


def _tasks():
    preset = PRESETS["quick"]
    ctx = Context(preset, DataConfig(name="digits"), (1, 8, 8), 1257, lambda dim: DataConfig(name="digits"))
    return [t for t in plan(ctx, 1, {}) if t.group in GROUPS]


def _numbers(root, task):
    folder = run_dir(root, task.name)
    metrics = json.loads((folder / METRICS_JSON).read_text())
    with np.load(folder / PER_EXAMPLE) as arrays:
        per_example = {k: arrays[k] for k in arrays.files}
    return {k: v for k, v in metrics.items() if "seconds" not in k}, per_example


@pytest.mark.slow
def test_parallel_study_writes_the_numbers_of_a_serial_one(tmp_path, capsys):
    tasks = _tasks()
    for workers in (1, 2):
        outcomes = run_tasks(tasks, RunContext(tmp_path / str(workers), PRESETS["quick"], progress=False), workers,
                             show="lines")
        assert outcomes == {"finished": len(tasks), "skipped": 0, "failed": 0}
        lines = capsys.readouterr().err.splitlines()  # off a terminal: one progress line per finished task
        assert [line.split(" runs done")[0] for line in lines] == [f"study: {i}/{len(tasks)}"
                                                                   for i in range(1, len(tasks) + 1)]
    for task in tasks:
        serial, parallel = _numbers(tmp_path / "1", task), _numbers(tmp_path / "2", task)
        assert serial[0] == parallel[0], task.name
        assert serial[1].keys() == parallel[1].keys() and all(np.array_equal(serial[1][k], parallel[1][k])
                                                              for k in serial[1])
