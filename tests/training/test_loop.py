import json
import os
import signal

import pytest
import torch

import gausslab as gl
from gausslab.core.errors import CheckpointError, ConfigError, Interrupted, TrainingError
from gausslab.models import Loss, build_model
from gausslab.training import checkpoint as ckpt
from gausslab.training import loop as trainer
from gausslab.training import runfolder
from gausslab.training.checkpoint import read_state
from gausslab.training.config import TrainConfig
from tests.resume import assert_resumes_exactly, count_steps, log_lines
from tests.state import assert_same_state, scrambled, state_differences


def make(data, seed=0):
    return build_model("vae", data, latent_dim=2, hidden=(16,), seed=seed)


def test_same_seed_gives_bit_identical_weights(vectors, tiny_train, tmp_path):
    a, b = make(vectors), make(vectors)
    gl.fit(a, vectors, tiny_train)
    gl.fit(b, vectors, tiny_train)
    assert_same_state(a, b)
    c = make(vectors)
    gl.fit(c, vectors, tiny_train.model_copy(update={"seed": 1}))
    differences = state_differences(a, c)
    assert differences and all(d.endswith(" differs") for d in differences)


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


# 96 rows in batches of 32: 3 steps an epoch, so a run stopped at step 4 resumes inside its second epoch.
THREE_EPOCHS = TrainConfig(epochs=3, batch_size=32, log_every=2, checkpoint_every=100)


def stopped_at_step_4(data, out):
    gl.fit(make(data), data, THREE_EPOCHS.model_copy(update={"steps": 4}), out=out, progress=False)


def test_resume_runs_only_the_remaining_steps_and_ends_like_an_uninterrupted_run(vectors, tmp_path):
    stopped_at_step_4(vectors, tmp_path / "r")
    assert_resumes_exactly(lambda: make(vectors), vectors, THREE_EPOCHS, tmp_path / "r")


def _restart(loop, resume, force):
    """Resume planted as a restart: re-seed, clear the log, train from step 0."""
    torch.manual_seed(loop.train.seed + loop.dist.rank)
    (loop.out / ckpt.LOG).write_text("")
    return 0


# name -> (where, what, the planted replacement, what the failing check says)
PLANTED_RESUME_BUGS = {
    "restart": (trainer._Loop, "_start", _restart, "resumed from step 4, ran steps \\[0, 1, 2\\]"),
    "weights not loaded": (ckpt, "load_training_state", lambda run, model, opts: ckpt.read_state(run),
                           "resumed run vs uninterrupted run: .* differs"),
    "optimizer not restored": (ckpt, "load_training_state",
                               lambda run, model, opts: (ckpt.load_weights(run, model), ckpt.read_state(run))[1],
                               "resumed run vs uninterrupted run: .* differs"),
    "log rewritten": (runfolder, "repair_log", lambda path, step: (path.write_text(""), [])[1], "rewritten"),
}


@pytest.mark.parametrize("bug", list(PLANTED_RESUME_BUGS))
def test_the_resume_check_fails_when_a_bug_is_planted_in_resume(vectors, tmp_path, monkeypatch, bug):
    owner, name, planted, message = PLANTED_RESUME_BUGS[bug]
    stopped_at_step_4(vectors, tmp_path / "r")
    monkeypatch.setattr(owner, name, planted)
    with pytest.raises(AssertionError, match=message):
        assert_resumes_exactly(lambda: make(vectors), vectors, THREE_EPOCHS, tmp_path / "r")


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
    assert_same_state(gl.load(out), straight5)
    assert_resumes_exactly(lambda: make(vectors), vectors, LONG, out)


def test_a_keyboard_interrupt_raised_mid_step_saves_nothing_and_keeps_the_last_checkpoint(vectors, tmp_path):
    # No signal handler to defer it (e.g. training in a thread): the step is half done, so nothing is saved.
    out = tmp_path / "r"
    with pytest.raises(Interrupted, match="aborted by SIGINT during step 4; the last good checkpoint"):
        gl.fit(interrupt_at(make(vectors), 4, raise_keyboard_interrupt), vectors, LONG, out=out)
    assert read_state(out)["step"] == 3
    assert_resumes_exactly(lambda: make(vectors), vectors, LONG, out)


def test_resume_drops_a_torn_last_log_line_and_keeps_the_others(vectors, tmp_path):
    out = tmp_path / "r"
    gl.fit(make(vectors), vectors, LONG.model_copy(update={"steps": 6, "log_every": 2}), out=out)
    log = out / "log.jsonl"
    whole = log.read_text()
    log.write_text(whole + whole.splitlines()[0][:9])  # a kill or a full disk in the middle of an append
    resumed = scrambled(make(vectors))
    steps = count_steps(resumed)
    gl.fit(resumed, vectors, LONG, out=out, resume=True)
    assert steps == list(range(6, 10)), "the resumed run must run only the steps after the checkpoint"
    assert log.read_text().startswith(whole)
    logged = [json.loads(line)["step"] for line in log_lines(out)]
    assert logged == sorted(set(logged)) and logged[-1] == 10
    straight = make(vectors)
    gl.fit(straight, vectors, LONG)
    assert_same_state(resumed, straight)


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


def test_a_converged_model_ends_the_run_with_a_final_checkpoint(vectors, tmp_path):
    """EM below its tolerance: the loop stops there, logs that step and saves a finished checkpoint."""
    model = build_model("gmm", vectors, components=2, tol=1e-3)
    result = gl.fit(model, vectors, TrainConfig(epochs=500, log_every=1000, checkpoint_every=1000), out=tmp_path / "run")
    assert model.converged() and result.steps < 500
    lines = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    state = read_state(tmp_path / "run")
    assert lines[-1]["step"] == state["step"] == result.steps and state["finished"]
