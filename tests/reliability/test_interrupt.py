"""Fault injection: SIGINT, SIGTERM and SIGKILL at named points of VAE, GAN and GMM runs, then --resume
or a rerun. Every outcome is a run bit-identical to an uninterrupted one, or a clean one-line refusal.

Signals are real (`os.kill`) and arrive at a point the test names (faults.py), never after a sleep.
The matrix runs in this process through the CLI entry point; a few cases use a real `gausslab`
process, for what only one shows: SIGKILL, and the handlers of a fresh interpreter.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import gausslab as gl
from gausslab.data import load_from_config
from gausslab.training.run_config import resolve
from tests.reliability import faults
from tests.reliability.cli import call

REPO = Path(__file__).resolve().parents[2]
STEPS = 12
DATA = ["--data", "ring8", "--set", "data.n=400"]  # 280 training rows: 5 steps per epoch at batch 64
MODELS = {
    "vae": ["vae", *DATA, "--set", "model.latent_dim=2", "--set", "model.hidden=[16, 16]"],
    "gan": ["gan", *DATA, "--set", "model.hidden=[16]", "--set", "model.d_hidden=[16]"],
    "gmm": ["gmm", *DATA, "--set", "model.components=4", "--set", "model.tol=0"],  # tol 0: EM never stops early
}
# On the CPU on every machine: some CUDA kernels (atomic adds in backward passes) are not bit-reproducible.
TRAIN = ["--set", "train.batch_size=64", "--set", "train.checkpoint_every=4", "--set", "train.log_every=2",
         "--set", "train.device=cpu", "--quiet"]
# The steps logged by an uninterrupted run: every 2 steps, and at each epoch end (a GMM's EM step is an epoch).
LOGGED = {"vae": [2, 4, 5, 6, 8, 10, 12], "gan": [2, 4, 5, 6, 8, 10, 12], "gmm": [2, 4, 6, 8, 10, 12]}

# (model, point, n-th time it is reached) -> the step boundary the run stops at. A VAE step has one
# update; a GAN step two (D, then G); a GMM's first step two M-steps (its initialisation, then EM).
MATRIX = {
    ("vae", "before-update", 6): 6,
    ("vae", "after-update", 6): 6,
    ("vae", "checkpoint", 1): 4,
    ("vae", "validation", 1): 5,
    ("gan", "before-update", 6): 3,
    ("gan", "after-update", 5): 3,  # between the discriminator and the generator update of step 3
    ("gan", "checkpoint", 2): 8,
    ("gan", "validation", 1): 5,
    ("gmm", "em-update", 3): 2,
    ("gmm", "checkpoint", 1): 4,
    ("gmm", "validation", 3): 6,
}


def train_argv(kind: str, out: Path, steps: int = STEPS, *extra: str) -> list[str]:
    return ["train", *MODELS[kind], "--set", f"train.steps={steps}", *TRAIN, "--out", str(out), *extra]


@pytest.fixture(scope="module")
def reference():
    """kind, steps -> the weights of an uninterrupted run of that many steps (the library, no run folder)."""
    cache: dict[tuple[str, int], dict[str, torch.Tensor]] = {}

    def weights(kind: str, steps: int) -> dict[str, torch.Tensor]:
        if (kind, steps) not in cache:
            args = MODELS[kind][1:] + TRAIN[:-1] + ["--set", f"train.steps={steps}"]
            sets = [args[i + 1] for i, a in enumerate(args) if a == "--set"]
            config = resolve({}, sets, model={"kind": kind}, data={"name": "ring8"})
            model = gl.build_model(config.model, load_from_config(config.data), seed=config.train.seed)
            gl.fit(model, load_from_config(config.data), config.train, progress=False, config=config)
            cache[kind, steps] = {k: v.clone() for k, v in model.state_dict().items()}
        return cache[kind, steps]

    return weights


def same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def checkpoint(out: Path) -> tuple[int, dict[str, torch.Tensor]]:
    """(step, weights) of the run folder's checkpoint, checksums verified."""
    model = gl.load(out)
    return json.loads((out / "state.json").read_text())["step"], dict(model.state_dict())


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def assert_resumes_exactly(kind: str, out: Path, reference, *extra: str) -> None:
    """`train ... extra` on the interrupted folder finishes with the uninterrupted run's weights and log steps."""
    code, err = call(train_argv(kind, out, STEPS, *extra))
    assert code == 0, err
    step, weights = checkpoint(out)
    assert step == STEPS and same(weights, reference(kind, STEPS)), "the resumed run differs from a straight one"
    logged = [json.loads(line)["step"] for line in (out / "log.jsonl").read_text().splitlines()]
    assert logged == LOGGED[kind], "log lines lost, duplicated or out of order"
    assert not list(out.glob(".*.tmp")) and not list(out.glob("*.pending"))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("kind, point, nth", list(MATRIX), ids=[f"{k}-{p}" for k, p, _ in MATRIX])
def test_a_signal_anywhere_stops_at_a_step_boundary_and_resumes_exactly(kind, point, nth, sig, tmp_path,
                                                                         monkeypatch, reference):
    out, stop = tmp_path / "run", MATRIX[kind, point, nth]
    faults.arm(point, sig.name, nth, monkeypatch)
    code, err = call(train_argv(kind, out))
    monkeypatch.undo()
    assert code == 128 + sig, err
    line = one_line(err)
    assert f"interrupted by {sig.name} at step {stop}; checkpoint saved" in line and "--resume" in line, line
    # The checkpoint is labelled with the boundary and holds exactly that many steps of updates.
    step, weights = checkpoint(out)
    assert step == stop and same(weights, reference(kind, stop)), f"checkpoint at {step} is not the run at {stop}"
    assert_resumes_exactly(kind, out, reference, "--resume")


@pytest.mark.parametrize("kind, nth, kept", [("vae", 7, 4), ("gan", 11, 4), ("gmm", 3, None)])
def test_a_second_ctrl_c_aborts_at_once_and_keeps_the_last_checkpoint(kind, nth, kept, tmp_path, monkeypatch,
                                                                       reference):
    out = tmp_path / "run"
    faults.arm("em-update" if kind == "gmm" else "after-update", "SIGINTx2", nth, monkeypatch)
    code, err = call(train_argv(kind, out))
    monkeypatch.undo()
    line = one_line(err)
    assert code == 130 and "aborted by SIGINT" in line, line
    if kept is None:  # before the first checkpoint: nothing of the run is left, and a plain rerun starts it
        assert "no checkpoint" in line and not out.exists()
        return assert_resumes_exactly(kind, out, reference)
    step, weights = checkpoint(out)
    assert step == kept and same(weights, reference(kind, kept)) and f"checkpoint in {str(out)!r} is kept" in line
    assert_resumes_exactly(kind, out, reference, "--resume")


def test_an_interrupt_that_raises_mid_step_saves_nothing_mislabelled(tmp_path, monkeypatch, reference):
    # As in a thread without signal handlers: KeyboardInterrupt raised right after a GAN's D update.
    out = tmp_path / "run"
    faults.arm("after-update", "KeyboardInterrupt", 13, monkeypatch)
    code, err = call(train_argv("gan", out))
    monkeypatch.undo()
    assert code == 130 and "aborted by SIGINT during step 6" in one_line(err)
    step, weights = checkpoint(out)
    assert step == 4 and same(weights, reference("gan", 4))
    assert_resumes_exactly("gan", out, reference, "--resume")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_during_evaluate_leaves_no_metrics_and_a_rerun_matches(sig, tmp_path, monkeypatch):
    run = tmp_path / "run"
    assert call(train_argv("vae", run, 5))[0] == 0
    evaluate = ["evaluate", str(run), "--k", "4", "--metrics", "elbo,nll_iwae,latent", "--out"]
    assert call([*evaluate, str(tmp_path / "straight.json")])[0] == 0
    faults.arm("evaluation", sig.name, 1, monkeypatch)
    code, err = call([*evaluate, str(tmp_path / "m.json")])
    monkeypatch.undo()
    assert code == 128 + sig and one_line(err) == "gausslab: interrupted"
    assert not (tmp_path / "m.json").exists() and not list(tmp_path.glob(".*.tmp"))
    assert call([*evaluate, str(tmp_path / "m.json")])[0] == 0
    assert (tmp_path / "m.json").read_text() == (tmp_path / "straight.json").read_text()


def run_driver(point: str, action: str, nth: int, argv: list[str]) -> subprocess.CompletedProcess:
    """`gausslab ARGV` in a real process, with one fault armed."""
    command = [sys.executable, "-m", "tests.reliability.fault_driver", point, action, str(nth), "--", *argv]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)])}
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
@pytest.mark.parametrize("kind, point, nth, action, left", [
    ("vae", "after-update", 6, "SIGINT", 6),  # a real Ctrl-C: the handlers of a fresh `gausslab` process
    ("vae", "after-update", 6, "SIGKILL", 4),  # killed mid-run: the last checkpoint
    ("gan", "checkpoint", 2, "SIGKILL", 8),  # killed inside a save, after its commit: the pending weights
    ("gmm", "validation", 1, "SIGKILL", None),  # killed before the first checkpoint: a plain rerun starts over
], ids=["vae-SIGINT", "vae-SIGKILL-step", "gan-SIGKILL-save", "gmm-SIGKILL-first"])
def test_a_real_process_signalled_at_a_point_resumes_exactly(kind, point, nth, action, left, tmp_path, reference):
    out = tmp_path / "run"
    done = run_driver(point, action, nth, train_argv(kind, out))
    if action == "SIGKILL":
        assert done.returncode == -signal.SIGKILL, done.stderr
    else:
        assert done.returncode == 130 and "--resume" in one_line(done.stderr)
    if left is None:
        assert not (out / "state.json").exists()
        return assert_resumes_exactly(kind, out, reference)
    step, weights = checkpoint(out)
    assert step == left and same(weights, reference(kind, left))
    assert_resumes_exactly(kind, out, reference, "--resume")


@pytest.mark.slow
def test_a_second_process_on_a_run_folder_is_refused_naming_the_holder(tmp_path, reference):
    out, gate = tmp_path / "run", tmp_path / "gate"
    gate.mkdir()
    first = subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.fault_driver", "after-update", f"hold:{gate}", "6", "--",
         *train_argv("vae", out)], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)])})
    try:
        while not (gate / "held").exists():  # wait until the first process holds the folder mid-run
            assert first.poll() is None, first.communicate()
            time.sleep(0.05)
        pid = (gate / "held").read_text()
        for extra in (["--resume"], []):
            code, err = call(train_argv("vae", out, STEPS, *extra))
            line = one_line(err)
            assert code == 2 and f"{str(out)!r} is locked by process {pid}" in line, line
    finally:
        (gate / "released").write_text("")
        stdout, stderr = first.communicate(timeout=600)
    assert first.returncode == 0, stderr
    step, weights = checkpoint(out)
    assert step == STEPS and same(weights, reference("vae", STEPS))
    logged = [json.loads(line)["step"] for line in (out / "log.jsonl").read_text().splitlines()]
    assert logged == LOGGED["vae"] and not (out / ".gausslab.lock").exists()
