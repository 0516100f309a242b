"""The study folder on disk: what `gausslab study` writes and `gausslab report` reads back.

```
OUT/study.json            StudyInfo: version, preset, overrides, data, hardware, wall time, the task list
OUT/metrics.json          {run name: {metric: value, ..., "status": "finished" | "failed" | "pending"}}
OUT/runs/<name>/          one task: a run folder (config, weights, log) or an analysis; always
                          metrics.json when finished, error.txt when it failed, figures/*.png
OUT/figures/*.png         study-level charts (k-sweep, dimension sweep)
```
"""

from __future__ import annotations

import json
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from gausslab.training.checkpoint import STATE_JSON
from gausslab.core.config import StrictModel
from gausslab.data.config import DataConfig
from gausslab.training.run_config import RunConfig
from gausslab.core.errors import CheckpointError
from gausslab.core.fileio import atomic_write_json, atomic_write_text

STUDY_JSON, METRICS_JSON, ERROR, FIGURES = "study.json", "metrics.json", "error.txt", "figures"
TaskKind = Literal["train", "expost", "two-stage", "ksweep"]  # expost, two-stage: sampler names (samplers.SAMPLERS)


class Task(StrictModel):
    """One unit of a study: train + evaluate a run, evaluate a run through a fitted latent sampler, or a GMM k-sweep."""

    name: str  # folder name under runs/, `<group>-s<seed>`
    group: str  # the same task over seeds
    section: str  # report section id (`study.plan`)
    label: str  # human-readable model name
    seed: int
    kind: TaskKind
    data: DataConfig  # for train tasks, the same as config.data
    tags: dict[str, Any] = {}  # e.g. {"toy": "ring8", "model": "gan-ns"}, {"prior": "vamp"}, {"dim": 32}
    config: RunConfig | None = None  # for kind == "train"
    options: dict[str, Any] = {}  # kind-specific: the source run and a sampler's fit options, k-sweep sizes


class StudyInfo(StrictModel):
    """study.json: everything the report header needs, and the plan."""

    gausslab_version: str
    preset: str
    preset_config: dict[str, Any]
    overrides: list[str]
    data: str
    seeds: int
    hardware: dict[str, Any]
    started: str
    wall_s: float | None = None  # wall time of the last `gausslab study` call
    tasks: list[Task]


def run_dir(root: Path, name: str) -> Path:
    return Path(root) / "runs" / name


def write_info(root: Path, info: StudyInfo) -> None:
    atomic_write_json(Path(root) / STUDY_JSON, info.model_dump(mode="json"))


def read_study_info(root: Path) -> StudyInfo:
    path = Path(root) / STUDY_JSON
    try:
        return StudyInfo.model_validate_json(path.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{str(root)!r} is not a study folder: {STUDY_JSON} is missing") from None
    except ValueError as err:
        raise CheckpointError(f"{str(path)!r} is corrupt ({err.__class__.__name__})") from None


def is_finished(folder: Path, kind: TaskKind) -> bool:
    """metrics.json written, and for trained runs a checkpoint that says the run finished."""
    if not (folder / METRICS_JSON).is_file():
        return False
    if kind != "train":
        return True
    try:
        return bool(json.loads((folder / STATE_JSON).read_text()).get("finished"))
    except (OSError, ValueError):
        return False


def write_error(folder: Path, err: BaseException) -> None:
    """error.txt: one line `Type: message` (what the report shows), then the traceback for debugging."""
    folder.mkdir(parents=True, exist_ok=True)
    message = " ".join(str(err).split())
    trace = "".join(traceback.format_exception(err))
    atomic_write_text(folder / ERROR, f"{type(err).__name__}: {message}\n\n{trace}")


@dataclass
class RunResult:
    """A task as found on disk."""

    task: Task
    folder: Path
    status: Literal["finished", "failed", "pending"]
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def figure(self, kind: str) -> Path | None:
        path = self.folder / FIGURES / f"{kind}.png"
        return path if path.is_file() else None


def read_run(root: Path, task: Task) -> RunResult:
    folder = run_dir(root, task.name)
    if (folder / ERROR).is_file():
        first = (folder / ERROR).read_text().strip().splitlines()
        return RunResult(task, folder, "failed", error=first[0] if first else "unknown error")
    if is_finished(folder, task.kind):
        return RunResult(task, folder, "finished", json.loads((folder / METRICS_JSON).read_text()))
    return RunResult(task, folder, "pending")


def collect_metrics(root: Path, info: StudyInfo) -> dict[str, dict[str, Any]]:
    """All runs × all metrics, with each run's status (and error when it failed), written to OUT/metrics.json."""
    table = {}
    for task in info.tasks:
        run = read_run(root, task)
        table[task.name] = {**run.metrics, "status": run.status} | ({"error": run.error} if run.error else {})
    atomic_write_json(Path(root) / METRICS_JSON, table)
    return table
