"""Executing one study task in its folder: train + evaluate, sampling through a fitted sampler, or a GMM k-sweep.

Finished tasks are skipped, unfinished trainings resume from their checkpoint, and any exception
inside a task is written to its `error.txt` (the study goes on with the next task).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor

from gausslab.training.checkpoint import STATE_JSON, load
from gausslab.data.config import DataConfig
from gausslab.data import Dataset, load_from_config
from gausslab.core.errors import TrainingError
from gausslab.evaluation.evaluate import METRICS, evaluate
from gausslab.core.fileio import atomic_write_json
from gausslab.metrics import latent
from gausslab.models import build_model
from gausslab.training.fitting import fit_gmm, k_sweep
from gausslab.plots.grids import image_grid_figure, save_png
from gausslab.samplers.saved import fit_or_load
from gausslab.study.figures import draw, samples
from gausslab.study.plan import generative_parameters
from gausslab.study.presets import StudyPreset
from gausslab.study.record import ERROR, FIGURES, METRICS_JSON, Task, is_finished, run_dir, write_error
from gausslab.training.loop import Interrupted, fit

Outcome = Literal["skipped", "finished", "failed"]
SAMPLE_METRICS = ("prdc", "fid", "kid", "latent_fidelity")  # evaluate.METRICS computed from samples


@dataclass
class RunContext:
    """Shared by all tasks of one study call: the folder, budgets, progress flag and a data cache."""

    root: Path
    preset: StudyPreset
    progress: bool | None = None
    _data: dict[str, Dataset] = field(default_factory=dict)

    def data(self, config: DataConfig) -> Dataset:
        key = config.model_dump_json()
        if key not in self._data:
            self._data[key] = load_from_config(config)
        return self._data[key]

    def evaluate(self, model, data: Dataset, names=tuple(METRICS), **options: Any) -> dict[str, Any]:
        """The metrics in `names` that apply (less the preset's skip list); feature extractors cached in OUT/cache/."""
        cache = self.root / "cache" / "".join(c if c.isalnum() else "_" for c in data.name)
        cache.mkdir(parents=True, exist_ok=True)
        chosen = [name for name in names if name not in self.preset.skip_metrics]
        values = evaluate(model, data, chosen, k=self.preset.eval_k, cache_dir=cache, **options).to_dict()
        return values | _test_nll(values)


def execute(task: Task, ctx: RunContext) -> Outcome:
    """Run `task` unless it finished before; record a failure instead of raising (Ctrl-C still stops)."""
    folder = run_dir(ctx.root, task.name)
    if is_finished(folder, task.kind) and not (folder / ERROR).exists():
        return "skipped"
    (folder / ERROR).unlink(missing_ok=True)
    try:
        EXECUTORS[task.kind](task, folder, ctx)
    except Interrupted:
        raise  # Ctrl-C: the checkpoint is saved; rerunning the study resumes here
    except Exception as err:  # one broken run must not stop the study; the report shows it as failed
        write_error(folder, err)
        return "failed"
    return "finished"


def train_task(task: Task, folder: Path, ctx: RunContext) -> None:
    config = task.config
    data = ctx.data(config.data)
    resume = (folder / STATE_JSON).is_file()
    if not resume and folder.exists():
        shutil.rmtree(folder)  # interrupted before its first checkpoint: start over
    model = build_model(config.model, data, seed=config.train.seed)
    result = fit(model, data, config.train, folder, resume=resume, progress=ctx.progress, config=config)
    values = ctx.evaluate(model, data) | {
        "steps": result.steps, "fit_seconds": result.wall_s,
        "n_parameters": generative_parameters(model),
        "n_parameters_total": sum(p.numel() for p in model.parameters()),
    }
    draw(task, model, data, folder)
    atomic_write_json(folder / METRICS_JSON, values)


def sampler_task(task: Task, folder: Path, ctx: RunContext) -> None:
    """The finished N(0, I) VAE sampled through the latent sampler `task.kind`: a GMM (`expost`, Ghosh et al.
    2020) or a second VAE (`two-stage`, Dai & Wipf 2019) fitted to its encoded training set, saved in
    FOLDER/sampler/.

    Only what sampling changes is measured again (sample metrics); likelihood and latent statistics
    belong to the unchanged network and stay in its own run.
    """
    source = run_dir(ctx.root, f"{task.options['source']}-s{task.seed}")
    if not is_finished(source, "train"):
        raise TrainingError(f"its source run {source.name!r} did not finish")
    data = ctx.data(task.data)
    model = load(source, device="cuda" if torch.cuda.is_available() else "cpu")
    options = {key: value for key, value in task.options.items() if key != "source"}
    sampler = fit_or_load(task.kind, model, data, folder / "sampler", seed=task.seed, **options)
    values = ctx.evaluate(model, data, SAMPLE_METRICS, sampler=sampler)
    values |= {"prior_holes": latent.sampler_hole_score(model, data.test[:2000], sampler, task.seed),
               "source": source.name,
               **{f"sampler_{key}": value for key, value in options.items()}}
    draw(task, SamplerModel(model, sampler), data, folder)
    atomic_write_json(folder / METRICS_JSON, values)


class SamplerModel:
    """A VAE whose `sample` draws its latents from a fitted sampler (for the pictures)."""

    def __init__(self, vae, sampler):
        self.vae, self.sampler, self.device = vae, sampler, vae.device

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        return self.vae.sample(n, generator=generator, sampler=self.sampler)

    def eval(self):
        return self


def ksweep_task(task: Task, folder: Path, ctx: RunContext) -> None:
    """Test log-likelihood, size, fit time and BIC per K; the best K's samples next to the data."""
    opts, data = task.options, ctx.data(task.data)
    points = k_sweep(data, opts["ks"], covariance="full", steps=opts["steps"], seed=task.seed,
                     reg_covar=opts["reg_covar"])
    values: dict[str, Any] = {}
    for p in points:
        values |= {f"{key}_k{p.k}": getattr(p, key) for key in ("test_log_likelihood", "n_parameters", "fit_seconds",
                                                                 "bic")}
    best = max(points, key=lambda p: p.test_log_likelihood)
    gmm = fit_gmm(data, opts["steps"], task.seed, components=best.k, reg_covar=opts["reg_covar"])
    values |= {"best_k": best.k, "test_log_likelihood": best.test_log_likelihood, "n_parameters": best.n_parameters}
    values |= ctx.evaluate(gmm, data)
    _draw_best(task, gmm, data, best.k, folder)
    atomic_write_json(folder / METRICS_JSON, values)


@torch.inference_mode()
def _draw_best(task: Task, gmm, data: Dataset, k: int, folder: Path) -> None:
    """The best GMM's samples (over the density / test data); for images also the test data beside them."""
    (folder / FIGURES).mkdir(parents=True, exist_ok=True)
    label = task.model_copy(update={"label": f"best GMM (K={k})"})
    save_png(samples(label, gmm, data), folder / FIGURES / "best.png")
    if data.kind == "image":
        save_png(image_grid_figure(data.test[:64], f"test data ({data.name})"), folder / FIGURES / "data.png")


def _test_nll(values: dict[str, Any]) -> dict[str, float]:
    """One test-NLL column for every model with a density: IWAE estimate (VAE) or exact (GMM)."""
    if "nll_iwae" in values:
        return {"test_nll": values["nll_iwae"]}
    if "test_log_likelihood" in values:
        return {"test_nll": -values["test_log_likelihood"]}
    return {}


EXECUTORS: dict[str, Callable[[Task, Path, RunContext], None]] = {
    "train": train_task, "expost": sampler_task, "two-stage": sampler_task, "ksweep": ksweep_task,
}
