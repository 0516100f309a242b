"""Early stopping (`train.patience`): the run ends at the first validation check that makes `patience` checks
in a row without a new best, resumes to the same step, and never stops on the test split."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

import gausslab as gl
from gausslab.core.errors import ConfigError
from gausslab.training.early_stop import EarlyStop
from tests.resume import count_steps
from tests.state import assert_same_state

# the held-out objective at the end of epochs 1, 2, ...: best 3.5 at epoch 5, then a tie and lower ones
SCRIPT = [1.0, 2.0, 3.0, 2.5, 3.5, 3.5, 3.2, 3.1] + [0.0] * 30
BATCH = 256


def _stop_epoch(values: list[float], patience: int) -> int:
    """The first epoch (1-based) that lies `patience` checks after the best one so far: the rule, by brute force."""
    for epoch in range(1, len(values) + 1):
        seen = values[:epoch]
        if epoch - (seen.index(max(seen)) + 1) >= patience:
            return epoch
    raise AssertionError("never stops")


def _scripted(data, values=SCRIPT):
    """A small VAE whose validation ELBO at the end of epoch e is values[e - 1] (set from the step it trained)."""
    model = gl.build_model("vae", data, latent_dim=2, hidden=(8,))
    per_epoch = -(-len(data.train) // BATCH)
    at = {"step": 0}
    losses = model.training_losses

    def counted(x, step):
        at["step"] = step + 1
        yield from losses(x, step)

    model.training_losses = counted
    model.validation_terms = lambda x: {"elbo": torch.tensor(values[at["step"] // per_epoch - 1])}
    return model, per_epoch


@pytest.fixture(scope="module")
def digits():
    return gl.load_dataset("digits")


def test_the_rule_counts_checks_since_the_best():
    for patience in (1, 2, 3, 4):
        stop = EarlyStop(patience)
        decisions = [stop.update({"valid_elbo": v}) for v in SCRIPT]
        assert decisions.index(True) + 1 == _stop_epoch(SCRIPT, patience)
    quiet = EarlyStop(None)
    assert not any(quiet.update({"valid_elbo": v}) for v in SCRIPT)
    assert not EarlyStop(1).update({"step": 3, "loss": 1.0})  # a record without a check changes nothing
    assert not EarlyStop(1).update({"test_elbo": 1.0})  # nor does the test split's


def test_a_run_stops_at_the_check_the_rule_names(digits, tmp_path):
    model, per_epoch = _scripted(digits)
    steps = count_steps(model)
    train = gl.TrainConfig(epochs=30, batch_size=BATCH, patience=3, log_every=per_epoch)
    result = gl.fit(model, digits, train, out=tmp_path / "run", progress=False)
    end = _stop_epoch(SCRIPT, 3) * per_epoch
    assert result.steps == end and steps == list(range(end)) and result.stopped_early
    state = json.loads((tmp_path / "run" / "state.json").read_text())
    assert state["step"] == end and state["finished"]
    last = json.loads((tmp_path / "run" / "log.jsonl").read_text().splitlines()[-1])
    assert last["step"] == end and last["valid_elbo"] == pytest.approx(SCRIPT[_stop_epoch(SCRIPT, 3) - 1])
    again, _ = _scripted(digits)
    steps = count_steps(again)
    resumed = gl.fit(again, digits, train, out=tmp_path / "run", resume=True, progress=False)
    assert steps == [] and resumed.stopped_early  # a run that stopped early is complete


def test_a_converged_run_resumes_complete_and_not_stopped_early(tmp_path):
    """EM that met its tolerance also ends before its last step; resuming it trains nothing, and it was not
    ended by patience."""
    ring = gl.load_dataset("ring8", n=400)
    train = gl.TrainConfig(steps=500, log_every=5)
    first = gl.fit(gl.build_model("gmm", ring, components=2), ring, train, out=tmp_path / "gmm", progress=False)
    assert first.steps < 500 and not first.stopped_early
    model = gl.build_model("gmm", ring, components=2)
    steps = count_steps(model)
    again = gl.fit(model, ring, train, out=tmp_path / "gmm", resume=True, progress=False)
    assert steps == [] and not again.stopped_early


def test_a_resumed_run_stops_where_an_uninterrupted_one_does(digits, tmp_path):
    """The checks logged before the checkpoint count: without them the resumed run would wait for a new best
    and stop two epochs later."""
    model, per_epoch = _scripted(digits)
    train = gl.TrainConfig(epochs=30, batch_size=BATCH, patience=3, log_every=per_epoch)
    straight = gl.fit(model, digits, train, progress=False).model
    first, _ = _scripted(digits)
    gl.fit(first, digits, train.model_copy(update={"steps": 6 * per_epoch}), out=tmp_path / "run", progress=False)
    resumed, _ = _scripted(digits)
    steps = count_steps(resumed)
    result = gl.fit(resumed, digits, train, out=tmp_path / "run", resume=True, progress=False)
    end = _stop_epoch(SCRIPT, 3) * per_epoch
    assert result.steps == end and steps == list(range(6 * per_epoch, end))
    assert_same_state(resumed, straight, "resumed early-stopped run vs uninterrupted run")


def test_patience_needs_a_validation_split(digits):
    no_valid = dataclasses.replace(digits, valid=None)
    model = gl.build_model("vae", no_valid, latent_dim=2, hidden=(8,))
    with pytest.raises(ConfigError, match=r"^train.patience=2 stops on the validation split, and 'digits' has none"):
        gl.fit(model, no_valid, gl.TrainConfig(steps=3, patience=2), progress=False)
