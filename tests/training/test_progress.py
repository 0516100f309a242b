"""Progress on stderr: a plain line per log step away from a terminal, a bar that keeps the loss on one."""

import json
import re

import gausslab as gl
from gausslab.training.config import TrainConfig
from gausslab.models import build_model
from gausslab.training.progress import _duration

TRAIN = TrainConfig(steps=6, epochs=100, batch_size=16, log_every=2, checkpoint_every=6, sample_every=0)
LINE = re.compile(r"train step (\d+)/6 \((\d+)%\)  (.+)  ([\d,]+) samples/s  eta (\w+)")


def test_a_line_per_log_step_when_stderr_is_not_a_terminal(images, tmp_path, capsys):
    gl.fit(build_model("vae", images, latent_dim=2, hidden=(8,)), images, TRAIN, out=tmp_path / "run")
    lines = capsys.readouterr().err.splitlines()
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    matches = [LINE.fullmatch(line) for line in lines]
    assert all(matches), lines
    assert [int(m[1]) for m in matches] == [r["step"] for r in log] and len(log) >= 3
    assert [m[3] for m in matches] == [f"loss {r['loss']:.4g}" for r in log]
    assert matches[-1][2] == "100" and matches[-1][5] == "0s"


def test_gan_lines_show_both_losses(vectors, capsys):
    gl.fit(build_model("gan", vectors, hidden=(8,), d_hidden=(8,)), vectors, TRAIN)
    first = capsys.readouterr().err.splitlines()[0]
    assert re.search(r"loss_discriminator \S+  loss_generator \S+", first), first


def test_the_bar_shows_the_loss_and_stays(images, capsys):
    gl.fit(build_model("vae", images, latent_dim=2, hidden=(8,)), images, TRAIN, progress=True)
    final = capsys.readouterr().err.rstrip("\n").split("\r")[-1]  # what is left on screen
    assert "6/6" in final and "loss=" in final


def test_quiet_prints_nothing(images, capsys):
    gl.fit(build_model("vae", images, latent_dim=2, hidden=(8,)), images, TRAIN, progress=False)
    assert capsys.readouterr().err == ""


def test_durations_read_like_a_clock():
    assert [_duration(s) for s in (0.4, 59, 185, 7260)] == ["0s", "59s", "3m05s", "2h01m"]
