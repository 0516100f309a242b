"""The status of a study run: `ok`, or the reason its numbers must not be averaged into a verdict.

The rules, in order (the first that applies wins; `RULES`):

- `failed`: the task raised (its error.txt holds the message).
- `diverged`: the loss became non-finite (the trainer's guard stopped it), or a likelihood came
  out non-finite.
- `posterior-collapse` (VAEs): rate below `MIN_RATE` nats per example, or no active unit. A unit
  is active when its posterior mean varies across test examples by more than 0.01 times the
  prior's own variance of that unit (Burda et al. 2016's threshold, made relative so that a
  learned prior, whose marginal variance is not 1, is judged on the same scale:
  `metrics.latent.active_units`).
- `mode-collapse` (networks on toys with known modes): fewer than half of the modes captured, or
  fewer than `MIN_HIGH_QUALITY` % of the samples within 3 standard deviations of a mode (the
  protocol of `metrics.toy`). Gaussian mixtures are not labelled: a mixture with too few
  components misses modes by construction (the single Gaussian is the study's baseline), and
  that is what their numbers measure.
- `not-converged`: the held-out objective (validation ELBO or log-likelihood, logged once per
  epoch) gained more than `LATE_GAIN` of its whole improvement in the last quarter of the run:
  still climbing when the budget ran out.
- `ok` otherwise; `pending` for a task that has not run yet.

A run that reuses another run's network (the ex-post sampler) inherits that run's status.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gausslab.training.early_stop import HELD_OUT_OBJECTIVES

STATUSES = ("ok", "posterior-collapse", "mode-collapse", "not-converged", "diverged", "failed", "pending")
MIN_RATE = 0.01  # nats per example
MIN_HIGH_QUALITY = 20.0  # percent of samples
LATE_GAIN = 0.1  # share of the held-out objective's whole gain made in the last quarter
# log keys of the held-out objective, higher is better: validation first, the test split for data without one
HELD_OUT = tuple(f"{split}_{key}" for split in ("valid", "test") for key in HELD_OUT_OBJECTIVES)
DENSITY_KEYS = ("nll_iwae", "test_nll", "test_log_likelihood", "elbo")
NON_FINITE_LOSS = "loss became non-finite"  # the trainer's guard message (gausslab.training.guard)
NETWORKS = ("vae", "gan")  # model kinds that can collapse


@dataclass(frozen=True)
class Status:
    """A run's status: one of `STATUSES`, with the reason when it is not ok."""

    name: str  # one of STATUSES
    reason: str = ""

    @property
    def ok(self) -> bool:
        """Whether the run's numbers can be used."""
        return self.name == "ok"


@dataclass
class RunFacts:
    """What the rules look at: the run's metrics, its error line, and its training log."""

    metrics: dict[str, Any]
    error: str | None = None
    log: list[dict[str, Any]] | None = None
    kind: str | None = None  # the model kind ("vae", "gan", "gmm") of a trained run


def _failed(run: RunFacts) -> str | None:
    if run.error is not None and NON_FINITE_LOSS not in run.error:
        return run.error
    return None


def _diverged(run: RunFacts) -> str | None:
    if run.error is not None:
        return run.error
    bad = [k for k in DENSITY_KEYS if k in run.metrics and not _finite(run.metrics[k])]
    return f"{', '.join(bad)} not finite" if bad else None


def _posterior_collapse(run: RunFacts) -> str | None:
    rate, units = run.metrics.get("rate"), run.metrics.get("active_units")
    if _finite(rate) and rate < MIN_RATE:
        return f"rate {rate:.2g} nats < {MIN_RATE:g}: the code carries (almost) no information about x"
    if units == 0:
        return "no active latent unit: every posterior mean is (almost) the same for all examples"
    return None


def _mode_collapse(run: RunFacts) -> str | None:
    modes, total, hq = (run.metrics.get(k) for k in ("modes_captured", "n_modes", "high_quality"))
    if modes is None or total is None or run.kind not in NETWORKS:
        return None
    if modes < total / 2:
        return f"{modes} of {total} modes captured (fewer than half)"
    if _finite(hq) and hq < MIN_HIGH_QUALITY:
        return f"{hq:.1f} % high-quality samples (under {MIN_HIGH_QUALITY:g} %)"
    return None


def _not_converged(run: RunFacts) -> str | None:
    for key in HELD_OUT:
        points = [(r["step"], r[key]) for r in run.log or () if _finite(r.get(key))]
        if len(points) < 4:
            continue
        last_step = points[-1][0]
        late = next(v for s, v in points if s >= 0.75 * last_step)
        whole, recent = points[-1][1] - points[0][1], points[-1][1] - late
        if whole > 0 and recent > LATE_GAIN * whole:
            return (f"{key} still rising: {recent:.3g} of its {whole:.3g} gain came in the last quarter "
                    f"(more than {LATE_GAIN:.0%})")
        return None
    return None


# status -> rule (reason when it applies, else None), in order of precedence
RULES: dict[str, Callable[[RunFacts], str | None]] = {
    "failed": _failed,
    "diverged": _diverged,
    "posterior-collapse": _posterior_collapse,
    "mode-collapse": _mode_collapse,
    "not-converged": _not_converged,
}


def classify(run: RunFacts) -> Status:
    """The first rule that applies, else ok."""
    for name, rule in RULES.items():
        reason = rule(run)
        if reason is not None:
            return Status(name, reason)
    return Status("ok")


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
