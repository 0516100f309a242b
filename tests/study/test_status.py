"""Run status on hand-made runs: which numbers may enter a verdict, and why the others may not."""

from __future__ import annotations

import pytest

from gausslab.study.status import RunFacts, classify

VAE_OK = {"rate": 12.0, "active_units": 9, "test_nll": 30.0, "nll_iwae": 30.0}


def _log(values: list[float], key: str = "valid_elbo") -> list[dict]:
    return [{"step": 100 * (i + 1), key: v} for i, v in enumerate(values)]


@pytest.mark.parametrize("facts, status", [
    (RunFacts(VAE_OK), "ok"),
    # the collapsed ring8 VAE of an earlier study: rate 0.0004 nats, no unit active
    (RunFacts({**VAE_OK, "rate": 0.0004, "active_units": 0}), "posterior-collapse"),
    (RunFacts({**VAE_OK, "rate": 3.0, "active_units": 0}), "posterior-collapse"),
    (RunFacts({**VAE_OK, "rate": 0.005, "active_units": 2}), "posterior-collapse"),
    # a collapsed GAN: every sample on one of eight modes
    (RunFacts({"modes_captured": 1, "n_modes": 8, "high_quality": 95.0}, kind="gan"), "mode-collapse"),
    # all 25 modes touched, but only 3.6 % of the samples near one
    (RunFacts({"modes_captured": 25, "n_modes": 25, "high_quality": 3.6}, kind="vae"), "mode-collapse"),
    (RunFacts({"modes_captured": 4, "n_modes": 8, "high_quality": 80.0}, kind="gan"), "ok"),
    # one Gaussian misses modes by construction: a measurement, not a failed run
    (RunFacts({"modes_captured": 1, "n_modes": 8, "high_quality": 0.2}, kind="gmm"), "ok"),
    (RunFacts({}, "TrainingError: loss became non-finite at step 12; try a lower learning rate"), "diverged"),
    (RunFacts({**VAE_OK, "nll_iwae": None}), "diverged"),
    (RunFacts({}, "RuntimeError: out of memory"), "failed"),
    (RunFacts(VAE_OK, log=_log([-60, -40, -35, -34, -33.9, -33.8, -33.8, -33.7])), "ok"),
    (RunFacts(VAE_OK, log=_log([-60, -55, -50, -45, -40, -35, -30, -25])), "not-converged"),
    (RunFacts({"test_log_likelihood": 2.0}, log=_log([1, 1.8, 1.95, 1.99, 2.0], "valid_log_likelihood")), "ok"),
])
def test_status_rules(facts, status):
    assert classify(facts).name == status


def test_reasons_name_the_numbers():
    reason = classify(RunFacts({**VAE_OK, "rate": 0.0004, "active_units": 0})).reason
    assert "0.0004" in reason and "0.01" in reason
    assert "1 of 8" in classify(RunFacts({"modes_captured": 1, "n_modes": 8, "high_quality": 95.0}, kind="gan")).reason


def test_collapse_wins_over_not_converged():
    facts = RunFacts({**VAE_OK, "rate": 0.0}, log=_log([-60, -55, -50, -45, -40, -35, -30, -25]))
    assert classify(facts).name == "posterior-collapse"
