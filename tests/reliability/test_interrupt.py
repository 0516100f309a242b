"""Interruptions lose nothing: SIGKILL then --resume is bit-identical; SIGINT saves a checkpoint and exits 130."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

TRAIN = [sys.executable, "-m", "gausslab", "train", "vae", "--data", "ring8", "--set", "data.n=4000",
         "--set", "train.steps=300", "--set", "train.checkpoint_every=40", "--set", "train.batch_size=32",
         "--set", "model.hidden=[64, 64]", "--quiet"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def start(out: Path) -> subprocess.Popen:
    return subprocess.Popen([*TRAIN, "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=ENV)


def wait_for_checkpoint(proc: subprocess.Popen, out: Path, timeout: float = 120) -> int:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            step = json.loads((out / "state.json").read_text())["step"]
            if step > 0:
                return step
        except (FileNotFoundError, json.JSONDecodeError, KeyError):
            pass
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.05)
    raise AssertionError("no checkpoint appeared")


def weights(out: Path) -> dict[str, torch.Tensor]:
    return load_file(str(out / "model.safetensors"))


@pytest.mark.slow
def test_sigkill_then_resume_is_bit_identical(tmp_path):
    straight = tmp_path / "straight"
    assert subprocess.run([*TRAIN, "--out", str(straight)], env=ENV, capture_output=True).returncode == 0
    killed = tmp_path / "killed"
    proc = start(killed)
    step = wait_for_checkpoint(proc, killed)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert step < 300 and json.loads((killed / "state.json").read_text())["finished"] is False
    done = subprocess.run([*TRAIN, "--out", str(killed), "--resume"], env=ENV, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    a, b = weights(straight), weights(killed)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    log_steps = [json.loads(line)["step"] for line in (killed / "log.jsonl").read_text().splitlines()]
    assert log_steps == sorted(set(log_steps)), "resumed log has no duplicated or out-of-order steps"


@pytest.mark.slow
def test_sigint_saves_a_checkpoint_and_exits_cleanly(tmp_path):
    out = tmp_path / "run"
    proc = start(out)
    wait_for_checkpoint(proc, out)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "--resume" in err and "Traceback" not in err
    state = json.loads((out / "state.json").read_text())
    assert not state["finished"] and state["step"] > 0
    assert not list(out.glob("*.tmp"))
