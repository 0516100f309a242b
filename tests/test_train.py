import json
import os
import signal

import pytest
import torch

import gausslab as gl
from gausslab.checkpoint import read_state
from gausslab.config import TrainConfig
from gausslab.errors import CheckpointError, ConfigError, TrainingError
from gausslab.models import Loss, build_model
from gausslab.train import Interrupted


def make(data, seed=0):
    return build_model("vae", data, latent_dim=2, hidden=(16,), seed=seed)


def test_same_seed_gives_bit_identical_weights(vectors, tiny_train, tmp_path):
    a, b = make(vectors), make(vectors)
    gl.fit(a, vectors, tiny_train)
    gl.fit(b, vectors, tiny_train)
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    c = make(vectors)
    gl.fit(c, vectors, tiny_train.model_copy(update={"seed": 1}))
    assert not all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), c.state_dict().values()))


def test_run_folder_and_log(images, tiny_train, tmp_path):
    out = tmp_path / "run"
    result = gl.fit(make(images), images, tiny_train, out=out)
    assert {p.name for p in out.iterdir()} >= {"config.json", "model.safetensors", "state.safetensors",
                                                 "state.json", "log.jsonl", "samples.png"}
    lines = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    steps_per_epoch = -(-images.train.shape[0] // tiny_train.batch_size)
    assert lines[-1]["step"] == result.steps == 2 * steps_per_epoch
    for key in ("loss", "recon", "kl", "beta", "samples_per_s"):
        assert key in lines[0]
    epoch_lines = [r for r in lines if "test_elbo" in r]
    assert len(epoch_lines) == 2  # one held-out evaluation per epoch
    assert lines[0]["loss"] == pytest.approx(lines[0]["beta"] * lines[0]["kl"] - lines[0]["recon"], rel=1e-5)
    state = read_state(out)
    assert state["finished"] and state["step"] == result.steps
    assert not list(out.glob("*.tmp")), "no temp files are left behind"


def test_held_out_terms_come_from_the_validation_split_when_there_is_one(tmp_path):
    data = gl.load_dataset("moons", n=200)
    model = gl.build_model("vae", data, latent_dim=2, hidden=[8])
    result = gl.fit(model, data, gl.TrainConfig(epochs=1, batch_size=64), out=tmp_path / "run")
    model.eval()
    means = {}
    with torch.no_grad():
        for split in ("valid", "test"):
            torch.manual_seed(0)  # the trainer scores held-out rows with this seed
            means[split] = float(model.elbo(getattr(data, split)).elbo.mean())
    assert "test_elbo" not in result.last and means["valid"] != means["test"]
    assert result.last["valid_elbo"] == pytest.approx(means["valid"], rel=1e-6)


def test_steps_cap_the_run(vectors, tmp_path):
    result = gl.fit(make(vectors), vectors, TrainConfig(epochs=100, steps=5, batch_size=16))
    assert result.steps == 5


def test_existing_run_folder_is_not_overwritten(vectors, tiny_train, tmp_path):
    gl.fit(make(vectors), vectors, tiny_train, out=tmp_path / "r")
    with pytest.raises(CheckpointError, match="already holds a run"):
        gl.fit(make(vectors), vectors, tiny_train, out=tmp_path / "r")


def test_resume_with_a_different_config_is_refused(vectors, tiny_train, tmp_path):
    gl.fit(make(vectors), vectors, tiny_train, out=tmp_path / "r")
    with pytest.raises(CheckpointError, match="train.lr"):
        gl.fit(make(vectors), vectors, tiny_train.model_copy(update={"lr": 0.5}), out=tmp_path / "r", resume=True)


def poison_after(model, bad_step):
    """Make the model's loss NaN from `bad_step` on."""
    original = model.training_losses

    def losses(x, step):
        for loss in original(x, step):
            value = loss.value * float("nan") if step >= bad_step else loss.value
            yield Loss(loss.optimizer, value, loss.parts)

    model.training_losses = losses
    return model


def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(vectors, tmp_path):
    out = tmp_path / "r"
    cfg = TrainConfig(epochs=100, steps=10, batch_size=16, checkpoint_every=3)
    with pytest.raises(TrainingError) as err:
        gl.fit(poison_after(make(vectors), 7), vectors, cfg, out=out)
    message = str(err.value)
    assert "step 7" in message and "learning rate" in message and "grad_clip" in message and "\n" not in message
    assert read_state(out)["step"] == 6
    loaded = gl.load(out)
    assert all(torch.isfinite(p).all() for p in loaded.parameters())


def test_non_finite_loss_between_checkpoints_names_its_step_and_writes_no_bad_weights(vectors, tmp_path):
    # "stop" notes the bad step on the device and checks at the next log or checkpoint (step 10 here).
    out = tmp_path / "r"
    cfg = TrainConfig(epochs=100, steps=10, batch_size=16, checkpoint_every=100, log_every=100)
    with pytest.raises(TrainingError, match="at step 2; no checkpoint had been written"):
        gl.fit(poison_after(make(vectors), 2), vectors, cfg, out=out)
    assert not out.exists(), "a run that failed before its first checkpoint leaves nothing"


def test_skip_policy_skips_bad_batches(vectors, tmp_path):
    cfg = TrainConfig(epochs=100, steps=10, batch_size=16, nan_policy="skip", log_every=10)
    result = gl.fit(poison_after(make(vectors), 7), vectors, cfg, out=tmp_path / "r")
    assert result.last["skipped_batches"] == 3


def test_skip_policy_stops_when_every_batch_between_two_log_lines_was_skipped(vectors, tmp_path):
    cfg = TrainConfig(epochs=100, steps=10, batch_size=16, nan_policy="skip", log_every=3, checkpoint_every=3)
    with pytest.raises(TrainingError, match="every batch of steps 6-8 had a non-finite loss"):
        gl.fit(poison_after(make(vectors), 5), vectors, cfg, out=tmp_path / "r")
    assert read_state(tmp_path / "r")["step"] == 6  # steps 6-8 were all skipped: that checkpoint is not written


def interrupt_at(model, at_step, action):
    """Run `action` inside step `at_step`, after its loss is computed and before its update."""
    original = model.training_losses

    def losses(x, step):
        for loss in original(x, step):
            if step == at_step:
                action()
            yield loss

    model.training_losses = losses
    return model


def ctrl_c():
    os.kill(os.getpid(), signal.SIGINT)


def raise_keyboard_interrupt():
    raise KeyboardInterrupt


LONG = TrainConfig(epochs=100, steps=10, batch_size=16, checkpoint_every=3)


def test_ctrl_c_mid_step_stops_after_that_step_with_an_exact_checkpoint(vectors, tmp_path):
    out = tmp_path / "r"
    with pytest.raises(Interrupted, match="interrupted by SIGINT at step 5; checkpoint saved") as err:
        gl.fit(interrupt_at(make(vectors), 4, ctrl_c), vectors, LONG, out=out)
    assert err.value.signum == signal.SIGINT
    assert read_state(out)["step"] == 5
    straight5 = make(vectors)
    gl.fit(straight5, vectors, LONG.model_copy(update={"steps": 5}))
    assert all(torch.equal(p, q) for p, q in zip(gl.load(out).state_dict().values(), straight5.state_dict().values()))
    assert_resumes_exactly(vectors, out)


def test_a_keyboard_interrupt_raised_mid_step_saves_nothing_and_keeps_the_last_checkpoint(vectors, tmp_path):
    # No signal handler to defer it (e.g. training in a thread): the step is half done, so nothing is saved.
    out = tmp_path / "r"
    with pytest.raises(Interrupted, match="aborted by SIGINT during step 4; the last good checkpoint"):
        gl.fit(interrupt_at(make(vectors), 4, raise_keyboard_interrupt), vectors, LONG, out=out)
    assert read_state(out)["step"] == 3
    assert_resumes_exactly(vectors, out)


def assert_resumes_exactly(vectors, out):
    resumed = make(vectors)
    gl.fit(resumed, vectors, LONG, out=out, resume=True)
    straight = make(vectors)
    gl.fit(straight, vectors, LONG)
    assert all(torch.equal(p, q) for p, q in zip(resumed.state_dict().values(), straight.state_dict().values()))
    steps = [json.loads(line)["step"] for line in (out / "log.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps)) and steps[-1] == 10


def test_resume_drops_a_torn_last_log_line_and_keeps_the_others(vectors, tmp_path):
    out = tmp_path / "r"
    gl.fit(make(vectors), vectors, LONG.model_copy(update={"steps": 6, "log_every": 2}), out=out)
    log = out / "log.jsonl"
    whole = log.read_text()
    log.write_text(whole + whole.splitlines()[0][:9])  # a kill or a full disk in the middle of an append
    assert_resumes_exactly(vectors, out)
    assert log.read_text().startswith(whole)


def test_a_folder_that_is_not_a_run_needs_force_and_keeps_its_files(vectors, tiny_train, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("my notes")
    with pytest.raises(ConfigError, match="--force"):
        gl.fit(make(vectors), vectors, tiny_train, out=out)
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    gl.fit(make(vectors), vectors, tiny_train, out=out, force=True)
    assert (out / "notes.txt").read_text() == "my notes" and read_state(out)["finished"]
    (tmp_path / "theirs").mkdir()
    (tmp_path / "theirs" / "log.jsonl").write_text("their log")
    with pytest.raises(ConfigError, match="never replaces a file"):
        gl.fit(make(vectors), vectors, tiny_train, out=tmp_path / "theirs", force=True)
    assert (tmp_path / "theirs" / "log.jsonl").read_text() == "their log"


def test_a_run_killed_before_its_first_checkpoint_is_started_over_by_a_plain_retry(vectors, tiny_train, tmp_path):
    out = tmp_path / "r"
    gl.fit(make(vectors), vectors, tiny_train, out=out)
    (out / "state.json").unlink()  # as after a SIGKILL before the first checkpoint: config.json and a log
    result = gl.fit(make(vectors), vectors, tiny_train, out=out)
    assert read_state(out)["step"] == result.steps


@pytest.mark.parametrize("kind", ["vae", "gan"])
def test_bf16_autocast_on_cpu_trains_close_to_float32(kind):
    data = gl.load_dataset("ring8", n=1000)
    runs = {}
    for amp in ("off", "bf16"):
        torch.manual_seed(0)
        model = gl.build_model(kind, data)
        runs[amp] = gl.fit(model, data, TrainConfig(steps=40, epochs=100, batch_size=64, amp=amp, device="cpu"))
    low = runs["bf16"]
    assert all(p.dtype == torch.float32 and torch.isfinite(p).all() for p in low.model.parameters())
    changed = [not torch.equal(p, q) for p, q in zip(low.model.parameters(), runs["off"].model.parameters())]
    assert any(changed), "bf16 autocast had no effect"
    key = "valid_elbo" if kind == "vae" else "loss_generator"
    assert low.last[key] == pytest.approx(runs["off"].last[key], rel=0.05, abs=0.05)
