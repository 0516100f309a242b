"""`gausslab study`: the seed's claims as one reproducible comparison, ending in an HTML/Markdown report.

`run_study` checks everything it can first (preset, overrides, data, the whole plan, the folder),
so bad input leaves no folder behind; then it takes the folder's lock, runs each task in
`OUT/runs/<name>/` (`study.execute`: skip finished, resume unfinished, record failures; `study.pool`:
side by side in `workers` processes) and records the study in `study.json`; the report layer reads
the folder afterwards (`report.build.build_report`). Calling it again on the same folder redoes only
what is missing.
"""

from __future__ import annotations

import io
import os
import platform
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
import yaml

from gausslab.version import __version__
from gausslab.core.config import validate
from gausslab.data.config import DataConfig
from gausslab.training.run_config import parse_overrides
from gausslab.data import Dataset
from gausslab.core.errors import ConfigError, unknown_choice
from gausslab.core.fileio import atomic_write_bytes
from gausslab.study.execute import RunContext
from gausslab.study.plan import Context, plan
from gausslab.study.pool import default_workers, run_tasks, thread_budget
from gausslab.study.presets import StudyPreset, preset_with
from gausslab.study.record import FIGURES, METRICS_JSON, STUDY_JSON, StudyInfo, read_study_info, write_info
from gausslab.training.progress import mode
from gausslab.training.runfolder import entries, refuse_foreign
from gausslab.training.runlock import locked

# What a study writes at the top of its folder; `--force` never lets it replace one of these.
STUDY_FILES = (STUDY_JSON, METRICS_JSON, "report.html", "report.md", "runs", "data", "cache", FIGURES)


@dataclass
class StudyResult:
    """What `run_study` did: the study folder, task counts by outcome, and the wall time in seconds."""

    out: Path
    counts: dict[str, int]  # finished / skipped / failed
    wall_s: float


def run_study(
    out: str | Path, data: str | None = None, preset: str = "standard", seeds: int | None = None,
    overrides: list[str] | tuple[str, ...] = (), quiet: bool = False, workers: int | None = None,
    force: bool = False,
) -> StudyResult:
    """Train and evaluate every model of the study on `data` (+ the 2-D toys and `shapes`); `report.build_report`
    reads the folder afterwards.

    data: a built-in data set or a path (default: the preset's, `mnist5k` for standard). seeds: per
    model (default: the preset's). overrides: `study.<field>=v` change the preset; `train.k=v`,
    `model.k=v`, `data.k=v` change every run. workers: runs side by side (default: one per core);
    the numbers do not depend on it. force: write into a non-empty folder that is not a study (never
    replacing a file in it).
    """
    start = time.perf_counter()
    workers = default_workers() if workers is None else workers
    for name, value in (("--seeds", seeds), ("--workers", workers)):
        if value is not None and value < 1:
            raise ConfigError(f"{name} must be a positive number, got {value}")
    study_sets, run_sets = split_overrides(list(overrides))
    config = preset_with(preset, study_sets)
    seeds = seeds or config.seeds
    data = config.data if data is None else data
    root = Path(out)
    ctx = RunContext(root, config, progress=False if quiet else None)
    main_config = validate(DataConfig, {"name": data, **run_sets.get("data", {})})
    main = ctx.data(main_config)
    projections = _Projections(root, main, config, main_config)
    tasks = plan(Context(config, main_config, main.shape, len(main.train), projections, main.levels), seeds,
                 run_sets)
    info = StudyInfo(gausslab_version=__version__, preset=preset, preset_config=config.model_dump(mode="json"),
                     overrides=list(overrides), data=data, seeds=seeds,
                     hardware=hardware(thread_budget(config, workers)) | {"workers": workers},
                     started=datetime.now(timezone.utc).isoformat(timespec="seconds"), tasks=tasks)
    _check_folder(root, force)
    _check_same_study(root, info)
    with locked(root, "study folder"):
        projections.write()
        write_info(root, info)
        counts = run_tasks(tasks, ctx, workers, show=mode(False if quiet else None))
        wall = time.perf_counter() - start
        write_info(root, info.model_copy(update={"wall_s": wall}))
        return StudyResult(root, counts, wall)


def split_overrides(items: list[str]) -> tuple[dict, dict]:
    """(`study.` overrides as preset fields, the rest parsed as run overrides by section)."""
    study, runs = {}, []
    for item in items:
        if item.strip().startswith("study."):
            key, sep, value = item.strip().removeprefix("study.").partition("=")
            if not sep:
                raise ConfigError(f"--set {item!r} is not of the form study.key=value (e.g. study.steps=500)")
            if key not in StudyPreset.model_fields:
                raise unknown_choice("study setting", key, StudyPreset.model_fields)
            study[key] = yaml.safe_load(value)
        else:
            runs.append(item)
    return study, parse_overrides(runs)


def _check_folder(root: Path, force: bool) -> None:
    """A study folder, a missing or empty one; a user's non-empty folder only with `force`, and even then
    never one that holds a file the study writes."""
    if entries(root) and not (root / STUDY_JSON).exists():
        refuse_foreign(root, force, "study", STUDY_FILES)


def _check_same_study(root: Path, info: StudyInfo) -> None:
    """Refuse to mix two different studies in one folder (finished runs would be skipped with the wrong budget)."""
    if not (root / STUDY_JSON).exists():
        return
    old = read_study_info(root)
    for field in ("preset_config", "data", "overrides"):
        if getattr(old, field) != getattr(info, field):
            raise ConfigError(
                f"{str(root)!r} holds a study with another {field.replace('_config', '')} "
                f"({getattr(old, field)!r}); rerun it unchanged to resume, or choose another --out"
            )


class _Projections:
    """dim -> DataConfig of the main data on `dim` random orthonormal directions, plus a little Gaussian noise
    (below the data's full dimension: there the sweep takes the data itself).

    Noise std = preset.dim_noise x the data's root-mean-square per-dimension std, so the projected data has a
    density (pixels that never vary would make it degenerate) and NLLs at every dimension are finite.
    Planning only names the files (OUT/data/<name>-d<dim>.npz); `write` creates the missing ones once the
    study's folder is claimed, and each is split again with the data seed.
    """

    def __init__(self, root: Path, main: Dataset, preset: StudyPreset, config: DataConfig):
        self.root, self.main, self.noise, self.config = root, main, preset.dim_noise, config
        self.dims: list[int] = []

    def __call__(self, dim: int) -> DataConfig:
        self.dims.append(dim)
        return DataConfig(name=str(self._path(dim).resolve()), test_fraction=self.config.test_fraction,
                          seed=self.config.seed)

    def _path(self, dim: int) -> Path:
        return self.root / "data" / f"{_safe(self.main.name)}-d{dim}.npz"

    def write(self) -> None:
        x = torch.cat([self.main.train, self.main.test]).flatten(1).double()  # [N, D]
        labels = None if self.main.labels is None else torch.cat([self.main.labels, self.main.test_labels])
        for dim in self.dims:
            path = self._path(dim)
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                atomic_write_bytes(path, _projected_npz(x, labels, dim, self.noise))


def _projected_npz(x: torch.Tensor, labels, dim: int, noise: float) -> bytes:
    g = torch.Generator().manual_seed(dim)
    basis, _ = torch.linalg.qr(torch.randn(x.shape[1], dim, generator=g, dtype=torch.float64))  # [D, dim]
    sigma = noise * x.var(0).mean().sqrt()
    y = x @ basis + sigma * torch.randn(x.shape[0], dim, generator=g, dtype=torch.float64)
    arrays = {"x": y.float().numpy()} | ({"y": labels.numpy()} if labels is not None else {})
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in Path(name).name)[:40] or "data"


def hardware(threads: int | None = None) -> dict[str, object]:
    """What the numbers were measured on (for the report header); `threads`: torch threads the runs use."""
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {"cpu": _cpu_name(), "cores": os.cpu_count(), "torch_threads": threads or torch.get_num_threads(),
            "gpu": gpu,
            "torch": torch.__version__, "python": platform.python_version(), "platform": platform.platform(),
            "load_average_1min": load}


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
