"""The statistics behind the study's verdicts: 95 % intervals of differences, rounding, the verdict rule.

Two intervals, both at `LEVEL`:

- **across seeds** (`seed_interval`): the paired difference d_s = a_s − b_s of two models trained
  with the same seed on the same data split; Student's t interval mean(d) ± t_{0.975, n−1} sd(d)/√n.
  It carries the training noise (initialisation, batch order), and needs n ≥ 2 seeds.
- **over test examples** (`bootstrap_interval`): for per-example quantities (NLL, log-likelihood,
  membership of a prior draw in a hole), the per-example difference averaged over seeds,
  d_i = mean_s (a_s[i] − b_s[i]), resampled with replacement (percentile bootstrap, Efron &
  Tibshirani 1993, ch. 13). It carries the test-set noise: which examples happened to be drawn.
  Pairing by index is valid for prior draws too, since draw i of one model is independent of
  draw i of the other.

Numbers are printed with the precision their spread supports (`round_to`): two significant
digits of the spread (standard deviation or interval half-width), never more than three
significant digits of the value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats as scipy_stats

LEVEL = 0.95
BOOTSTRAP_REPS = 2000
Verdict = Literal["supported", "contradicted", "inconclusive on this data"]
SUPPORTED, CONTRADICTED, INCONCLUSIVE = "supported", "contradicted", "inconclusive on this data"
VERDICT_RULE = (
    "A claim is supported when the 95 % interval of its effect lies entirely on the side the claim predicts, "
    "contradicted when it lies entirely on the other side, and inconclusive on this data when it contains zero "
    "or rests on fewer than 2 seeds with status ok. The interval is Student's t over the per-seed differences "
    "(paired by seed); for per-example quantities (NLL, log-likelihood, hole membership) a paired bootstrap over "
    "the test examples (or prior draws) must agree as well. Runs whose status is not ok are left out."
)


@dataclass(frozen=True)
class Interval:
    """An effect with its interval; None where it cannot be computed (then `reason` says why)."""

    effect: float | None
    low: float | None
    high: float | None
    n: int  # seeds (t interval) or examples (bootstrap)
    reason: str = ""

    @property
    def defined(self) -> bool:
        """Whether both ends of the interval could be computed."""
        return self.low is not None and self.high is not None

    def side(self) -> int:
        """+1 when the interval lies above zero, −1 below, 0 when it holds zero or is undefined."""
        if not self.defined:
            return 0
        return 1 if self.low > 0 else -1 if self.high < 0 else 0


def seed_interval(differences: Sequence[float], level: float = LEVEL) -> Interval:
    """Student's t interval of the mean of per-seed paired differences [n]."""
    d = np.asarray(differences, dtype=np.float64)
    if len(d) == 0:
        return Interval(None, None, None, 0, "no seed with both runs ok")
    mean = float(d.mean())
    if len(d) < 2:
        return Interval(mean, None, None, 1, "one seed: no spread to build an interval from")
    half = float(scipy_stats.t.ppf(0.5 + level / 2, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d)))
    return Interval(mean, mean - half, mean + half, len(d))


def bootstrap_interval(per_example: np.ndarray, level: float = LEVEL, reps: int = BOOTSTRAP_REPS,
                       seed: int = 0, chunk: int = 1 << 21) -> Interval:
    """Percentile bootstrap interval of the mean of per-example differences d [n] (already averaged over seeds)."""
    d = np.asarray(per_example, dtype=np.float64)
    if len(d) < 2:
        return Interval(float(d.mean()) if len(d) else None, None, None, len(d), "fewer than 2 examples")
    rng = np.random.default_rng(seed)
    rows = max(1, chunk // len(d))
    means = np.concatenate([d[rng.integers(0, len(d), size=(min(rows, reps - start), len(d)))].mean(1)
                            for start in range(0, reps, rows)])
    low, high = np.quantile(means, [0.5 - level / 2, 0.5 + level / 2])
    return Interval(float(d.mean()), float(low), float(high), len(d))


def per_example_difference(a: Sequence[np.ndarray], b: Sequence[np.ndarray] | None,
                           reference: float = 0.0) -> np.ndarray:
    """d_i = mean_s (a_s[i] − b_s[i]) over the seeds s, or mean_s a_s[i] − reference without b [n]."""
    a_mean = np.mean(np.stack([np.asarray(x, dtype=np.float64) for x in a]), axis=0)
    if b is None:
        return a_mean - reference
    return a_mean - np.mean(np.stack([np.asarray(x, dtype=np.float64) for x in b]), axis=0)


def verdict(direction: int, seeds: Interval, examples: Interval | None = None) -> Verdict:
    """The verdict rule (VERDICT_RULE): direction +1 when the claim predicts a positive effect, −1 negative."""
    sides = {seeds.side()} | ({examples.side()} if examples is not None else set())
    if sides == {direction}:
        return SUPPORTED
    if sides == {-direction}:
        return CONTRADICTED
    return INCONCLUSIVE


def decimals(spread: float | None, value: float, significant: int = 2, most: int = 3) -> int:
    """Decimal places showing `spread` to `significant` digits, but `value` to at most `most` digits."""
    # the exponent after rounding to `most` digits: 0.99999 rounds up to 1.00, one digit left of the point
    cap = most - 1 - _exponent(round(value, most - 1 - _exponent(value))) if value else \
        most - 1 - _exponent(spread or 1.0)
    if not spread or not math.isfinite(spread):
        return cap
    return min(significant - 1 - _exponent(spread), cap)


def _exponent(x: float) -> int:
    return math.floor(math.log10(abs(x))) if x else 0


def round_to(value: float, places: int) -> str:
    """`value` rounded to `places` decimals (negative: tens, hundreds), with a true minus sign."""
    rounded = round(value, places)
    text = f"{rounded:,.{max(places, 0)}f}"
    if float(rounded) == 0:
        text = text.lstrip("-")
    return text.replace("-", "−")


def format_mean_sd(mean: float, sd: float | None) -> str:
    """'23.9 ± 0.11': the mean to the precision its standard deviation supports (at most 3 digits)."""
    places = decimals(sd, mean)
    if sd is None:
        return round_to(mean, places)
    sd_places = places if round(sd, places) else decimals(None, sd, most=1)
    return f"{round_to(mean, places)} ± {round_to(sd, sd_places)}"


def format_interval(interval: Interval) -> str:
    """'−0.21 [−0.35, −0.07]': an effect and its interval, rounded to what the interval supports."""
    if interval.effect is None:
        return "—"
    if not interval.defined:
        return round_to(interval.effect, decimals(None, interval.effect))
    places = decimals((interval.high - interval.low) / 2, interval.effect)
    return (f"{round_to(interval.effect, places)} [{round_to(interval.low, places)}, "
            f"{round_to(interval.high, places)}]")


__all__ = [
    "BOOTSTRAP_REPS", "CONTRADICTED", "INCONCLUSIVE", "Interval", "LEVEL", "SUPPORTED", "VERDICT_RULE",
    "bootstrap_interval", "decimals", "format_interval", "format_mean_sd", "per_example_difference", "round_to",
    "seed_interval", "verdict",
]
