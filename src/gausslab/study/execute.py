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

from gausslab.data import Dataset, load_from_config
from gausslab.data.config import DataConfig
from gausslab.training.checkpoint import STATE_JSON, load
from gausslab.core.errors import TrainingError
from gausslab.evaluation.evaluate import METRICS, Evaluation, evaluate
from gausslab.metrics import latent
from gausslab.models import build_model
from gausslab.samplers.saved import fit_or_load
from gausslab.study.figures import draw
from gausslab.study.dimension import generative_parameters
from gausslab.study.presets import StudyPreset
from gausslab.study.record import (ERROR, METRICS_JSON, Task, is_finished, run_dir, write_error, write_json,
                                   write_per_example)
from gausslab.training.fitting import k_sweep, select_k
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
        """The data set of `config`, loaded once per study call (cached by the config's JSON)."""
        key = config.model_dump_json()
        if key not in self._data:
            self._data[key] = load_from_config(config)
        return self._data[key]

    def cache(self, data: Dataset) -> Path:
        """OUT/cache/<data>/: the domain feature extractor of `data`, trained once per study."""
        folder = self.root / "cache" / "".join(c if c.isalnum() else "_" for c in data.name)
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def evaluate(self, model, data: Dataset, names=tuple(METRICS), **options: Any) -> Evaluation:
        """The metrics in `names` that apply (less the preset's skip list), at the preset's sample sizes."""
        chosen = [name for name in names if name not in self.preset.skip_metrics]
        p = self.preset
        result = evaluate(model, data, chosen, k=p.eval_k, cache_dir=self.cache(data), n_generated=p.n_generated,
                          hole_draws=p.hole_draws, **options)
        result.values |= _test_nll(model, result.values)
        if "test_log_likelihood" in result.per_example:
            result.per_example.setdefault("test_nll", -result.per_example["test_log_likelihood"])
        if "nll_bernoulli_binarized" in result.per_example:
            result.per_example.setdefault("test_nll", result.per_example["nll_bernoulli_binarized"])
        return result


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
    """Train the run (resuming its checkpoint), evaluate it, draw its pictures, then write metrics.json."""
    config = task.config
    data = ctx.data(config.data)
    resume = (folder / STATE_JSON).is_file()
    if not resume and folder.exists():
        shutil.rmtree(folder)  # interrupted before its first checkpoint: start over
    model = build_model(config.model, data, seed=config.train.seed)
    result = fit(model, data, config.train, folder, resume=resume, progress=ctx.progress, config=config)
    evaluation = ctx.evaluate(model, data)
    values = evaluation.to_dict() | {
        "steps": result.steps, "fit_seconds": result.wall_s,
        "n_parameters": generative_parameters(model),
        "n_parameters_total": sum(p.numel() for p in model.parameters()),
    }
    draw(task, model, data, folder)
    finish(folder, values, evaluation.per_example)


def finish(folder: Path, values: dict[str, Any], per_example: dict[str, Any]) -> None:
    """Per-example arrays, then metrics.json last: its presence marks the task finished."""
    write_per_example(folder, per_example)
    write_json(folder / METRICS_JSON, values)


def sampler_task(task: Task, folder: Path, ctx: RunContext) -> None:
    """The finished N(0, I) VAE sampled through the latent sampler `task.kind`: a GMM (`expost`, Ghosh et al.
    2020) or a second VAE (`two-stage`, Dai & Wipf 2019) fitted to its encoded training set, saved in
    FOLDER/sampler/.

    Only what sampling changes is measured again (sample metrics); likelihood and latent statistics
    belong to the unchanged network and stay in its own run.
    """
    source = run_dir(ctx.root, task.source)
    if not is_finished(source, "train"):
        raise TrainingError(f"its source run {source.name!r} did not finish")
    data = ctx.data(task.data)
    model = load(source, device="cuda" if torch.cuda.is_available() else "cpu")
    options = {key: value for key, value in task.options.items() if key != "source"}
    sampler = fit_or_load(task.kind, model, data, folder / "sampler", seed=task.seed, **options)
    evaluation = ctx.evaluate(model, data, SAMPLE_METRICS, sampler=sampler)
    members = latent.sampler_hole_membership(model, data.test, sampler, task.seed, ctx.preset.hole_draws)
    values = evaluation.to_dict() | {"prior_holes": members.double().mean().item(), "hole_draws": len(members),
                                     "source": source.name, **{f"sampler_{key}": value for key, value in options.items()}}
    draw(task, SamplerModel(model, sampler), data, folder)
    finish(folder, values, evaluation.per_example | {"prior_holes": members.numpy()})


class SamplerModel:
    """A VAE whose `sample` draws its latents from a fitted sampler (for the pictures)."""

    def __init__(self, vae, sampler):
        self.vae, self.sampler, self.device = vae, sampler, vae.device

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n decoded draws [n, *shape] whose latents come from the sampler."""
        return self.vae.sample(n, generator=generator, sampler=self.sampler)

    def eval(self):
        """Itself, so the picture code can call it as on a model (the loaded VAE is already in eval mode)."""
        return self


KSWEEP_KEYS = ("valid_log_likelihood", "test_log_likelihood", "n_parameters", "fit_seconds", "bic")


def ksweep_task(task: Task, folder: Path, ctx: RunContext) -> None:
    """Held-out log-likelihoods, size, fit time and BIC per K; K chosen on the validation split (never on
    test); the chosen mixture evaluated like any model, its samples next to the data."""
    opts, data = task.options, ctx.data(task.data)
    points = k_sweep(data, opts["ks"], covariance="full", steps=opts["steps"], seed=task.seed,
                     reg_covar=opts["reg_covar"])
    best = select_k(points)
    gmm = best.model
    evaluation = ctx.evaluate(gmm, data)
    values = evaluation.to_dict()
    for p in points:
        values |= {f"{key}_k{p.k}": getattr(p, key) for key in KSWEEP_KEYS}
    values |= {"best_k": best.k, "selection_split": "validation", "n_parameters": best.n_parameters}
    if data.log_prob is not None:  # the true density's own score: the ceiling every K aims at
        values["true_test_log_likelihood"] = data.log_prob(data.test.flatten(1).double()).mean().item()
    draw(task.model_copy(update={"label": f"GMM (K = {best.k}, chosen on validation)"}), gmm, data, folder)
    per_k = {f"test_log_likelihood_k{p.k}": p.test_log_likelihoods.numpy() for p in points}
    finish(folder, values, evaluation.per_example | per_k)


def _test_nll(model, values: dict[str, Any]) -> dict[str, Any]:
    """One test-NLL column for every model with a likelihood (IWAE estimate for VAEs, exact for mixtures), and
    the unit it is in: a Bernoulli VAE scores binarized images (other data), so it is never compared with a
    density of the grey levels."""
    if "nll_bernoulli_binarized" in values:
        return {"test_nll": values["nll_bernoulli_binarized"], "nll_unit": "bernoulli"}
    if "nll_iwae" in values:
        return {"test_nll": values["nll_iwae"], "nll_unit": "density"}
    if "test_log_likelihood" in values:
        return {"test_nll": -values["test_log_likelihood"], "nll_unit": "density"}
    return {}


EXECUTORS: dict[str, Callable[[Task, Path, RunContext], None]] = {
    "train": train_task, "expost": sampler_task, "two-stage": sampler_task, "ksweep": ksweep_task,
}
