"""The study's task order: a run that reuses another waits for that run alone; the longest chains go first."""

from __future__ import annotations

import pytest

from gausslab.data.config import DataConfig
from gausslab.study.plan import Context, plan
from gausslab.study.presets import PRESETS
from gausslab.study.schedule import EVAL_S, STEP_S, Schedule, cost


def _size(task):
    """(training examples, dimension) as a study of 784-pixel images with 2-D toys sees them."""
    return (2800, 2) if task.data.name == "ring8" else (3500, 784)


def _tasks(seeds=1, preset="quick", **overrides):
    preset = PRESETS[preset].model_copy(update=overrides)
    ctx = Context(preset, DataConfig(name="digits"), (1, 28, 28), 3500, lambda dim: DataConfig(name="digits"))
    return plan(ctx, seeds, {})


def _drain(schedule):
    """Every ready task in the order handed out, each finished at once (one worker)."""
    order = []
    while (task := schedule.pop()) is not None:
        order.append(task)
        schedule.done(task)
    return order


def test_a_run_that_reuses_another_waits_for_that_run_alone():
    tasks = _tasks()
    schedule = Schedule(tasks, _size)
    ready = []
    while (task := schedule.pop()) is not None:  # nothing finishes yet
        ready.append(task.name)
    assert {t.name for t in tasks if t.source} & set(ready) == set()
    assert "prior-standard-s0" in ready and len(schedule) == len(tasks)
    waiting = {t.name for t in tasks if t.source == "prior-standard-s0"}
    assert waiting == {"prior-expost-s0", "prior-two-stage-s0"}
    schedule.done(next(t for t in tasks if t.name == "prior-standard-s0"))  # every other task still running
    assert {schedule.pop().name, schedule.pop().name} == waiting and schedule.pop() is None


def test_every_task_is_handed_out_once_after_its_source():
    tasks = _tasks(seeds=2)
    order = [t.name for t in _drain(Schedule(tasks, _size))]
    assert sorted(order) == sorted(t.name for t in tasks)
    for task in tasks:
        if task.source:
            assert order.index(task.source) < order.index(task.name)


def test_longest_chain_first():
    tasks = _tasks()
    order = _drain(Schedule(tasks, _size))
    independent = [t for t in order if not t.source and not any(d.source == t.name for d in tasks)]
    costs = [cost(t, _size) for t in independent]
    assert costs == sorted(costs, reverse=True)
    # the source's priority carries the runs waiting for it: it goes before a task that costs a bit more
    source = next(t for t in tasks if t.name == "prior-standard-s0")
    chain = cost(source, _size) + max(cost(t, _size) for t in tasks if t.source == source.name)
    passed = [t for t in independent if cost(source, _size) < cost(t, _size) < chain]
    assert passed, "the plan has no task between the source's own cost and its chain's"
    assert all(order.index(source) < order.index(t) for t in passed)


def test_costs_follow_the_work():
    tasks = {t.group: t for t in _tasks(preset="standard", iwae_ks=(5,))}
    train = {name: cost(tasks[name], _size) - EVAL_S for name in ("prior-standard", "prior-iwae5", "gan-wgan-gp")}
    assert train["prior-iwae5"] == pytest.approx(3 * train["prior-standard"])  # k = 5: five decodes, one encode
    wgan = tasks["gan-wgan-gp"].config
    assert train["gan-wgan-gp"] > wgan.model.n_critic * wgan.train.steps * STEP_S  # a critic step per n_critic
    ksweep = [cost(tasks["gmm-ksweep-digits"], lambda task, dim=dim: (3500, dim)) - EVAL_S for dim in (64, 784)]
    assert ksweep[1] > 50 * ksweep[0]  # full covariances: D^2 per EM step
    mixtures = {t.config.model.covariance: t for t in _tasks(preset="full") if t.group.startswith("dim-0784-gmm")}
    per_component = {c: (cost(t, _size) - EVAL_S) / t.config.model.components for c, t in mixtures.items()}
    assert per_component["lowrank"] > 100 * per_component["diag"]  # evaluated as full D x D covariances


@pytest.mark.parametrize("main", ["digits", "ring8"])
def test_a_plan_names_each_task_once(main):
    """Two tasks of one name would share a run folder (a toy as the main data once planned its k-sweep twice)."""
    shape = (2,) if main == "ring8" else (1, 8, 8)
    ctx = Context(PRESETS["quick"], DataConfig(name=main), shape, 1257, lambda dim: DataConfig(name=main))
    names = [t.name for t in plan(ctx, 2, {})]
    assert len(names) == len(set(names))
