"""The study folder on disk: what `gausslab study` writes and `gausslab report` reads back.

```
OUT/study.json            StudyInfo: version, preset, overrides, data, hardware, wall time, the task list
OUT/metrics.json          {run name: {metric: value, ..., "status": ..., "status_reason": ...},
                           "verdicts": [...], "verdict_rule": ..., "selection_split": "validation", ...}
OUT/runs/<name>/          one task: a run folder (config, weights, log) or an analysis; always
                          metrics.json when finished, error.txt when it failed, figures/*.png, and
                          per_example.npz with the per-example values behind some means
OUT/figures/*.png         study-level charts (k-sweep, dimension sweep, rate-distortion)
```
Every metrics.json is strict JSON: a value that is not a finite number is written as `null`, with
`<key>_null_reason` saying why (`strict`). A run's `status` is `study.status.classify`'s.
"""

from __future__ import annotations

import io
import json
import math
import traceback
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np

from gausslab.core.config import StrictModel
from gausslab.core.errors import CheckpointError
from gausslab.core.fileio import atomic_write_bytes, atomic_write_text
from gausslab.data.config import DataConfig
from gausslab.study.status import RunFacts, Status, classify
from gausslab.training.checkpoint import STATE_JSON
from gausslab.training.run_config import RunConfig

STUDY_JSON, METRICS_JSON, ERROR, FIGURES = "study.json", "metrics.json", "error.txt", "figures"
PER_EXAMPLE, LOG = "per_example.npz", "log.jsonl"
# metrics.json key -> why it can be undefined (written beside it as <key>_null_reason)
NULL_REASONS = {
    "reverse_kl": "undefined: no sample lies within 3 standard deviations of a mode",
}
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

    @property
    def source(self) -> str | None:
        """The name of the run whose network this task reuses (`options["source"]`, same seed), if any."""
        return f"{self.options['source']}-s{self.seed}" if "source" in self.options else None


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
    """OUT/runs/<name>/: the folder of the task `name`."""
    return Path(root) / "runs" / name


def write_info(root: Path, info: StudyInfo) -> None:
    """Write study.json (strict JSON, atomically)."""
    write_json(Path(root) / STUDY_JSON, info.model_dump(mode="json"))


def strict(obj: Any) -> Any:
    """`obj` with every non-finite float replaced by None, and `<key>_null_reason` beside it in dicts."""
    if isinstance(obj, dict):
        out = {}
        for key, value in obj.items():
            out[key] = strict(value)
            if isinstance(value, float) and not math.isfinite(value):
                out[f"{key}_null_reason"] = NULL_REASONS.get(key, f"not a finite number ({value})")
        return out
    if isinstance(obj, (list, tuple)):
        return [strict(v) for v in obj]
    return None if isinstance(obj, float) and not math.isfinite(obj) else obj


def write_json(path: Path, obj: Any) -> None:
    """Strict JSON (no NaN/Infinity: see `strict`), written atomically."""
    atomic_write_text(path, json.dumps(strict(obj), indent=2, allow_nan=False) + "\n")


def write_per_example(folder: Path, arrays: dict[str, np.ndarray]) -> None:
    """The per-example values behind a run's means, as one compressed npz (no pickles)."""
    if arrays:
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        atomic_write_bytes(folder / PER_EXAMPLE, buf.getvalue())


def read_study_info(root: Path) -> StudyInfo:
    """study.json of the study folder `root`, or a CheckpointError when it is missing or corrupt."""
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
    """A task as found on disk: whether it ran (`state`), and whether its numbers can be used (`status`)."""

    task: Task
    folder: Path
    state: Literal["finished", "failed", "pending"]
    status: Status
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the run's numbers enter tables and verdicts (status ok)."""
        return self.status.ok

    def figure(self, kind: str) -> Path | None:
        """FOLDER/figures/<kind>.png when the run drew that picture, else None."""
        path = self.folder / FIGURES / f"{kind}.png"
        return path if path.is_file() else None

    @cached_property
    def per_example(self) -> dict[str, np.ndarray]:
        """The run's per-example arrays (empty when it kept none)."""
        try:
            with np.load(self.folder / PER_EXAMPLE, allow_pickle=False) as arrays:
                return {key: arrays[key] for key in arrays.files}
        except (OSError, ValueError):
            return {}

    def record(self) -> dict[str, Any]:
        """The run's line in the study's metrics.json."""
        extra = {"status_reason": self.status.reason} if self.status.reason else {}
        return {**self.metrics, "status": self.status.name, **extra} | ({"error": self.error} if self.error else {})


def read_run(root: Path, task: Task, source: RunResult | None = None) -> RunResult:
    """The run of `task`; `source`: the run whose network it reuses (its status is inherited)."""
    folder = run_dir(root, task.name)
    if (folder / ERROR).is_file():
        first = (folder / ERROR).read_text().strip().splitlines()
        error = first[0] if first else "unknown error"
        return RunResult(task, folder, "failed", classify(RunFacts({}, error)), error=error)
    if not is_finished(folder, task.kind):
        return RunResult(task, folder, "pending", Status("pending", "not run yet"))
    metrics = json.loads((folder / METRICS_JSON).read_text())
    kind = task.config.model.kind if task.config is not None else None
    status = classify(RunFacts(metrics, None, _read_log(folder), kind))
    if status.ok and source is not None and not source.ok:
        status = Status(source.status.name, f"its network is {source.task.name}'s: {source.status.reason}")
    return RunResult(task, folder, "finished", status, metrics)


def _read_log(folder: Path) -> list[dict[str, Any]]:
    try:
        return [json.loads(line) for line in (folder / LOG).read_text().splitlines() if line.strip()]
    except (OSError, ValueError):
        return []


def read_runs(root: Path, info: StudyInfo) -> list[RunResult]:
    """Every task's run, in plan order (a source run is always planned before the runs that reuse it)."""
    runs: dict[str, RunResult] = {}
    for task in info.tasks:
        source = runs.get(task.source) if task.source else None
        runs[task.name] = read_run(root, task, source)
    return list(runs.values())
