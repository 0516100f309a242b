"""What a run logs: wall time and learning rates in log.jsonl, sample grids during training, the same weights."""

import json
import time

import torch

import gausslab as gl
from gausslab.training import loop
from gausslab.training.config import TrainConfig
from gausslab.models import build_model


def records(run) -> list[dict]:
    return [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]


def test_records_carry_wall_time_and_learning_rates(vectors, tmp_path):
    train = TrainConfig(steps=4, epochs=100, batch_size=32, log_every=2, checkpoint_every=4, lr=3e-3)
    before = time.time()
    gl.fit(build_model("vae", vectors, latent_dim=2, hidden=(8,)), vectors, train, out=tmp_path / "vae", progress=False)
    after = time.time()
    vae = records(tmp_path / "vae")
    assert len(vae) >= 2 and all(r["lr"] == 3e-3 for r in vae)
    times = [r["time"] for r in vae]
    assert before - 1e-3 <= times[0] and times == sorted(times) and times[-1] <= after + 1e-3  # Unix seconds
    gan = build_model("gan", vectors, hidden=(8,), d_hidden=(8,), lr_g=2e-4, lr_d=5e-4)
    gl.fit(gan, vectors, train, out=tmp_path / "gan", progress=False)
    (first, *_) = records(tmp_path / "gan")
    assert (first["lr_generator"], first["lr_discriminator"]) == (2e-4, 5e-4) and "lr" not in first


def test_sample_grids_during_training_leave_the_weights_alone(images, tmp_path, monkeypatch):
    written = []
    real_write = loop.atomic_write_bytes
    monkeypatch.setattr(loop, "atomic_write_bytes", lambda path, data: written.append(path.name) or real_write(path, data))
    runs = {}
    for every in (0, 1):
        model = build_model("vae", images, latent_dim=2, hidden=(8,))
        train = TrainConfig(steps=6, epochs=100, batch_size=16, log_every=2, checkpoint_every=6, sample_every=every)
        gl.fit(model, images, train, out=tmp_path / f"every{every}", progress=False)
        runs[every] = model.state_dict()
    assert written == ["samples.png"] + ["samples.png"] * 3  # at the end only; then at steps 2, 4 and the end
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])
