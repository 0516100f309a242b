"""Which study task runs next: estimated costs, and an order that keeps every worker busy to the end.

A study's wall time on `--workers N` is set by its last finishing worker. Two things decide it: the
long tasks must not be left for the end (longest first, Graham 1969), and a task that reuses another's
network (`options["source"]`: the ex-post and two-stage samplers) must wait for that one run only, not
for the whole study. So each task's priority is its own estimated cost plus the highest priority
among the tasks waiting for it (the longest chain of work that still follows it), and a task becomes
ready the moment its source has finished.

The estimates are seconds on one CPU thread, calibrated on the `standard` preset's runs on a 2-core
machine (a 256-unit MLP VAE on 784 pixels: 24 ms a step; IWAE with k = 5: about 3x; a 784-dimensional
full-covariance EM step on 3,500 examples: about 0.3 s per component). Only their order matters: the numbers each
task writes do not depend on when it runs.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Callable
from functools import cache

from gausslab.study.record import Task

STEP_S = 4e-3  # one optimiser step of a small MLP: Python and dispatch overhead, whatever the size
UNIT_S = 7.6e-8  # per hidden unit x (data dimension + hidden units): one step's matrix products at batch 128
EM_STEP_S = 1e-4  # one component's EM step on a few thousand points of a few dimensions
EM_S = 1.2e-10  # per example x component x D^2 of one full-covariance EM step (in float64)
EVAL_S = 5.0  # evaluating a finished run: test NLL, samples, features, pictures

DataSize = Callable[[Task], tuple[int, int]]  # a task -> (training examples, data dimension)


def cost(task: Task, size: DataSize) -> float:
    """Estimated seconds of `task` on one thread; `size` gives its data's training examples and dimension."""
    n, dim = size(task)
    if task.kind == "ksweep":  # one full-covariance mixture per K
        return EVAL_S + sum(task.options["ks"]) * task.options["steps"] * _em_step(n, dim, "full")
    if task.config is None:  # a latent sampler on a finished run: a small fit on the codes
        return EVAL_S + task.options.get("steps", 0) * STEP_S
    model, steps = task.config.model, task.config.train.steps or 0
    if model.kind == "gmm":
        return EVAL_S + steps * model.components * _em_step(n, dim, model.covariance)
    width = max(getattr(model, "hidden", None) or (64,))
    repeats = getattr(model, "n_critic", 1) * _importance_factor(model)
    return EVAL_S + steps * repeats * (STEP_S + UNIT_S * width * (dim + width))


def _em_step(n: int, dim: int, covariance: str) -> float:
    """One component's EM step: n x D for diagonal covariances, n x D^2 for the others (low-rank and factor
    components are evaluated as full D x D covariances: 40 s for K = 2 rank-8 components at D = 784, 100 steps)."""
    return EM_STEP_S + EM_S * n * dim * (1 if covariance == "diag" else dim)


def _importance_factor(model) -> float:
    """IWAE with k samples decodes k codes per example and encodes one: about (1 + k) / 2 ELBO steps."""
    return (1 + model.iwae_k) / 2 if getattr(model, "objective", "elbo") == "iwae" else 1.0


class Schedule:
    """Tasks handed out highest priority first, each only once its source run (if any) has finished.

    Call `done(task)` once a task has finished, or failed: the task that reuses it then runs and records why
    it cannot be measured.
    """

    def __init__(self, tasks: list[Task], size: DataSize):
        names = {t.name for t in tasks}
        self._waiting: dict[str, list[tuple[int, Task]]] = defaultdict(list)  # source name -> (plan index, task)
        for i, task in enumerate(tasks):
            if task.source in names:
                self._waiting[task.source].append((i, task))
        self._priority = _priorities(tasks, self._waiting, size)
        self._ready: list[tuple[float, int, Task]] = []  # (-priority, plan index: ties in plan order, task)
        self._left = len(tasks)
        for i, task in enumerate(tasks):
            if task.source not in names:
                self._push(i, task)

    def __len__(self) -> int:
        """Tasks not yet finished (ready, waiting or running)."""
        return self._left

    def pop(self) -> Task | None:
        """The ready task of highest priority, taken off the queue; None when none is ready."""
        return heapq.heappop(self._ready)[2] if self._ready else None

    def done(self, task: Task) -> None:
        """Mark `task` finished and make the tasks waiting for its run ready."""
        self._left -= 1
        for i, waiting in self._waiting.pop(task.name, []):
            self._push(i, waiting)

    def _push(self, i: int, task: Task) -> None:
        heapq.heappush(self._ready, (-self._priority[task.name], i, task))


def _priorities(tasks: list[Task], waiting: dict[str, list[tuple[int, Task]]], size: DataSize) -> dict[str, float]:
    """Each task's cost plus the highest priority among the tasks `waiting` for it (by name: a plan may list a
    name twice, the second a no-op once the first has finished)."""
    costs = {t.name: cost(t, size) for t in tasks}

    @cache
    def priority(name: str) -> float:
        return costs[name] + max((priority(t.name) for _, t in waiting.get(name, ())), default=0.0)

    return {name: priority(name) for name in costs}
