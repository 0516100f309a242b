"""The loop against a training loop written out by hand, and its schedule and resume checks against their promises.

The hand-written loop replays the batches the trainer fed the model, from the same seed, with
zero_grad / backward / clip / Adam step: `fit` must end on the same weights bit for bit, so a
gradient that accumulates across steps, a skipped clip or a lost step shows up as a difference.
"""

import json
import re

import pytest
import torch

import gausslab as gl
from gausslab.core.errors import CheckpointError, TrainingError
from gausslab.models import Loss, build_model
from gausslab.training.config import TrainConfig
from gausslab.training.loop import _Schedule
from tests.state import assert_same_state


def make(data):
    return build_model("vae", data, latent_dim=2, hidden=(16,), seed=0)


def recording(model):
    """Record (step, batch, loss) of every step the trainer runs on `model`."""
    seen = []
    original = model.training_losses

    def losses(x, step):
        for loss in original(x, step):
            seen.append((step, x.detach().clone(), float(loss.value.detach())))
            yield loss

    model.training_losses = losses
    return seen


def by_hand(model, batches, train):
    """The plain training loop: seed, then per batch one loss, fresh gradients, optional clip, one Adam step."""
    opt = model.optimizers(train.lr)["model"]
    model.train()
    torch.manual_seed(train.seed)
    for step, x in enumerate(batches):
        loss = next(iter(model.training_losses(x, step))).value
        opt.zero_grad()
        loss.backward()
        if train.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(list(model.parameters()), train.grad_clip)
        opt.step()
    return model


def row_indices(batch, rows):
    """Which rows of `rows` [N, D] the batch [B, D] holds (the rows of the toy data are distinct)."""
    return torch.cdist(batch, rows).argmin(1)


# 96 training rows in batches of 40: two full batches and one of 16 an epoch.
CLIPPED = TrainConfig(epochs=2, batch_size=40, lr=0.05, grad_clip=0.5, log_every=100, checkpoint_every=100)


@pytest.mark.parametrize("train", [CLIPPED, CLIPPED.model_copy(update={"grad_clip": None})], ids=["clip", "no clip"])
def test_fit_ends_on_the_weights_of_a_hand_written_loop_over_the_same_batches(vectors, train):
    model = make(vectors)
    seen = recording(model)
    result = gl.fit(model, vectors, train, progress=False)
    assert result.steps == len(seen) == 6 and [s for s, _, _ in seen] == list(range(6))
    reference = by_hand(make(vectors), [x for _, x, _ in seen], train)
    assert_same_state(model, reference, "fit vs a hand-written loop")


def test_each_epoch_visits_every_training_row_once_in_batches_of_the_configured_size(vectors):
    model = make(vectors)
    seen = recording(model)
    gl.fit(model, vectors, CLIPPED.model_copy(update={"epochs": 3}), progress=False)
    assert [len(x) for _, x, _ in seen] == [40, 40, 16] * 3
    orders = []
    for epoch in range(3):
        order = torch.cat([row_indices(x, vectors.train) for _, x, _ in seen[3 * epoch : 3 * epoch + 3]])
        assert torch.equal(order.sort().values, torch.arange(96)), f"epoch {epoch} is not a permutation of the rows"
        orders.append(order)
    assert not torch.equal(orders[0], orders[1]) and not torch.equal(orders[1], orders[2]), "epochs must reshuffle"
    assert not torch.equal(orders[0], torch.arange(96)), "the first epoch must be shuffled too"


@pytest.mark.parametrize("world", [2, 3])
def test_each_rank_gets_a_contiguous_share_of_the_global_batch(world):
    schedule = _Schedule(n=50, batch=20, seed=3)
    for step in range(6):  # two epochs and a half, the last batch of each is 10 rows
        whole = _Schedule(n=50, batch=20, seed=3).rows(step, 0, 1)
        shares = [schedule.rows(step, rank, world) for rank in range(world)]
        assert torch.equal(torch.cat(shares), whole)
        sizes = [len(s) for s in shares]
        assert max(sizes) - min(sizes) <= 1 and sizes == sorted(sizes, reverse=True)


def test_the_log_averages_each_loss_over_the_steps_since_the_previous_line(vectors, tmp_path):
    model = make(vectors)
    seen = recording(model)
    train = TrainConfig(epochs=2, batch_size=32, log_every=4, checkpoint_every=100)  # lines at steps 3, 4 and 6
    gl.fit(model, vectors, train, out=tmp_path / "run", progress=False)
    lines = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == [3, 4, 6]
    losses = [loss for _, _, loss in seen]
    for record, (a, b) in zip(lines, [(0, 3), (3, 4), (4, 6)]):
        assert record["loss"] == pytest.approx(sum(losses[a:b]) / (b - a), rel=1e-6)


def test_a_resumed_finished_run_runs_no_step_and_keeps_its_state(vectors, tmp_path):
    train = TrainConfig(epochs=1, batch_size=32, log_every=2, checkpoint_every=2)
    out = tmp_path / "run"
    gl.fit(make(vectors), vectors, train, out=out, progress=False)
    before = {name: (out / name).read_bytes() for name in ("model.safetensors", "log.jsonl")}
    model = make(vectors)
    seen = recording(model)
    result = gl.fit(model, vectors, train, out=out, resume=True, progress=False)
    assert seen == [] and result.steps == 3
    assert {name: (out / name).read_bytes() for name in before} == before


def test_resuming_past_the_end_of_the_run_is_refused_naming_both_steps(vectors, tmp_path):
    out = tmp_path / "run"
    gl.fit(make(vectors), vectors, TrainConfig(steps=5, epochs=10, batch_size=32), out=out, progress=False)
    where = re.escape(repr(str(out)))
    with pytest.raises(CheckpointError, match=f"checkpoint in {where} is at step 5 but this run ends at step 4; raise"):
        gl.fit(make(vectors), vectors, TrainConfig(steps=4, epochs=10, batch_size=32), out=out, resume=True)


def test_a_checkpoint_of_another_world_size_is_refused(vectors, tmp_path):
    out = tmp_path / "run"
    train = TrainConfig(steps=3, epochs=10, batch_size=32)
    gl.fit(make(vectors), vectors, train, out=out, progress=False)
    state = json.loads((out / "state.json").read_text())
    (out / "state.json").write_text(json.dumps(state | {"world_size": 2}))
    where = re.escape(repr(str(out)))
    with pytest.raises(CheckpointError, match=f"^{where} was trained with 2 processes; resume it with the same number "
                                              "\\(got 1\\)$"):
        gl.fit(make(vectors), vectors, train.model_copy(update={"steps": 6}), out=out, resume=True)


def poisoned_at(model, bad_steps):
    original = model.training_losses

    def losses(x, step):
        for loss in original(x, step):
            yield Loss(loss.optimizer, loss.value * float("nan") if step in bad_steps else loss.value, loss.parts)

    model.training_losses = losses
    return model


def test_a_resumed_run_keeps_counting_skipped_batches_and_its_checkpoint(vectors, tmp_path):
    out = tmp_path / "run"
    train = TrainConfig(steps=4, epochs=10, batch_size=32, nan_policy="skip", log_every=2, checkpoint_every=2)
    gl.fit(poisoned_at(make(vectors), {1}), vectors, train, out=out, progress=False)
    result = gl.fit(make(vectors), vectors, train.model_copy(update={"steps": 6}), out=out, resume=True)
    assert result.last["step"] == 6 and result.last["skipped_batches"] == 1
    # A loss gone bad after a resume names the checkpoint it keeps, and the folder stays.
    with pytest.raises(TrainingError, match="steps 6-7 had a non-finite loss .*; the last good checkpoint in .* is kept"):
        gl.fit(poisoned_at(make(vectors), {6, 7}), vectors, train.model_copy(update={"steps": 8}), out=out, resume=True)
    assert json.loads((out / "state.json").read_text())["step"] == 6
