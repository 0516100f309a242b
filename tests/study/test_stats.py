"""The verdict statistics: intervals against scipy and by simulated coverage, the verdict rule, rounding."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats

from gausslab.study.stats import (CONTRADICTED, INCONCLUSIVE, SUPPORTED, Interval, bootstrap_interval,
                                  format_interval, format_mean_sd, per_example_difference, seed_interval, verdict)


def test_seed_interval_is_students_t():
    d = [0.3, -0.1, 0.5, 0.2]
    want = scipy_stats.ttest_1samp(d, 0.0).confidence_interval(0.95)
    got = seed_interval(d)
    assert (got.low, got.high, got.n) == (pytest.approx(want.low), pytest.approx(want.high), 4)
    assert got.effect == pytest.approx(np.mean(d))


def test_seed_interval_needs_two_seeds():
    assert not seed_interval([1.0]).defined and seed_interval([1.0]).effect == 1.0
    assert seed_interval([]).effect is None


def test_t_interval_covers_the_truth_in_95_percent_of_simulated_studies():
    """200 studies of 3 seeds each: a normal-quantile interval would cover only ~80 %."""
    rng = np.random.default_rng(1)
    truth = 0.7
    hits = [(i := seed_interval(rng.normal(truth, 1.3, size=3))).low <= truth <= i.high for _ in range(200)]
    assert np.mean(hits) >= 0.90


def test_bootstrap_interval_covers_the_truth_in_95_percent_of_simulated_studies():
    """200 studies of 300 skewed per-example differences (exponential, mean 1)."""
    rng = np.random.default_rng(2)
    hits = [(i := bootstrap_interval(rng.exponential(1.0, size=300), reps=500, seed=s)).low <= 1.0 <= i.high
            for s in range(200)]
    assert np.mean(hits) >= 0.90


def test_bootstrap_matches_a_brute_force_loop():
    d = np.random.default_rng(3).normal(size=50)
    got = bootstrap_interval(d, reps=300, seed=7, chunk=64)  # several chunks
    rng = np.random.default_rng(7)
    means = []
    while len(means) < 300:
        rows = min(64 // 50, 300 - len(means)) or 1
        means += list(d[rng.integers(0, 50, size=(rows, 50))].mean(1))
    assert (got.low, got.high) == pytest.approx(tuple(np.quantile(means, [0.025, 0.975])))


def test_per_example_difference_averages_seeds_then_subtracts():
    a = [np.array([1.0, 2.0]), np.array([3.0, 4.0])]
    b = [np.array([0.0, 1.0]), np.array([1.0, 1.0])]
    assert per_example_difference(a, b).tolist() == [1.5, 2.0]
    assert per_example_difference(a, None, reference=1.0).tolist() == [1.0, 2.0]


def _study(effect: float, seeds: int = 5, examples: int = 400, seed: int = 0) -> tuple[Interval, Interval]:
    """A planted effect: per-seed differences and per-example differences around `effect`."""
    rng = np.random.default_rng(seed)
    per_seed = effect + rng.normal(0, 0.05, size=seeds)
    per_example = effect + rng.normal(0, 0.5, size=examples)
    return seed_interval(per_seed), bootstrap_interval(per_example)


@pytest.mark.parametrize("effect, direction, want", [
    (1.0, +1, SUPPORTED), (-1.0, -1, SUPPORTED), (-1.0, +1, CONTRADICTED), (1.0, -1, CONTRADICTED),
    (0.0, +1, INCONCLUSIVE), (0.0, -1, INCONCLUSIVE),
])
def test_verdict_rule_on_planted_effects(effect, direction, want):
    seeds, examples = _study(effect)
    assert verdict(direction, seeds, examples) == want
    assert verdict(direction, seeds) == want


def test_verdict_needs_both_intervals_to_agree_and_two_seeds():
    sure, unsure = Interval(1.0, 0.5, 1.5, 3), Interval(1.0, -0.5, 2.5, 300)
    assert verdict(+1, sure, unsure) == INCONCLUSIVE
    assert verdict(+1, unsure, sure) == INCONCLUSIVE
    assert verdict(+1, seed_interval([1.0]), sure) == INCONCLUSIVE  # one seed: no interval


@pytest.mark.parametrize("mean, sd, text", [
    (23.9123, 0.0213, "23.9 ± 0.02"), (0.093281, 0.1146, "0.09 ± 0.11"), (12345.678, 321.0, "12,300 ± 300"),
    (-0.5, 0.25, "−0.50 ± 0.25"), (3.14159, None, "3.14"),
])
def test_mean_sd_is_rounded_to_what_the_spread_supports(mean, sd, text):
    assert format_mean_sd(mean, sd) == text


def test_interval_is_rounded_to_its_half_width():
    assert format_interval(Interval(0.09328, -0.0213, 0.2079, 3)) == "0.09 [−0.02, 0.21]"
    assert format_interval(Interval(-41.234, -45.61, -36.9, 3)) == "−41.2 [−45.6, −36.9]"
    assert format_interval(Interval(None, None, None, 0)) == "—"


@settings(max_examples=200, deadline=None)
@given(st.floats(-1e6, 1e6, allow_nan=False).filter(lambda v: abs(v) > 1e-6),
       st.floats(1e-6, 1e6, allow_nan=False))
@example(0.99999, 0.0625)  # rounds up to the next power of ten: "1.00", not "1.000"
def test_never_more_than_three_significant_digits(mean, sd):
    head = format_mean_sd(mean, sd).split(" ± ")[0]
    digits = re.sub(r"[^0-9]", "", head).lstrip("0")
    assert len(digits.rstrip("0") if "." not in head else digits) <= 3, head
