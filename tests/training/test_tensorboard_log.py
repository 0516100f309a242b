"""TensorBoard event files, read back with TensorBoard's own reader."""

import io
import json
import sys

import numpy as np
import pytest
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import gausslab as gl
from gausslab.training.config import TrainConfig
from gausslab.core.errors import ConfigError
from gausslab.models import build_model

TRAIN = TrainConfig(steps=6, epochs=100, batch_size=16, log_every=2, checkpoint_every=6, sample_every=1,
                    tensorboard=True)


def rgb(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def test_every_logged_scalar_and_the_sample_grids_read_back(images, tmp_path):
    run = tmp_path / "run"
    gl.fit(build_model("vae", images, latent_dim=2, hidden=(8,)), images, TRAIN, out=run, progress=False)
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"scalars": 0, "images": 0})
    events.Reload()
    keys = {k for record in log for k in record} - {"step", "time"}
    assert {"loss", "recon", "kl", "lr", "samples_per_s", "test_elbo"} <= keys
    assert set(events.Tags()["scalars"]) == keys
    for key in keys:
        got = [(e.step, e.value, e.wall_time) for e in events.Scalars(key)]
        want = [(r["step"], r[key], r["time"]) for r in log if key in r]
        assert [g[0] for g in got] == [w[0] for w in want], key
        np.testing.assert_allclose([g[1:] for g in got], [w[1:] for w in want], rtol=1e-6)  # float32 values
    grids = events.Images("samples")
    assert [g.step for g in grids] == [2, 4, 6]
    np.testing.assert_array_equal(rgb(grids[-1].encoded_image_string), rgb((run / "samples.png").read_bytes()))


def test_missing_tensorboard_is_one_line_naming_the_extra(images, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # as if the package were not installed
    with pytest.raises(ConfigError, match=r"pip install 'gausslab\[tensorboard\]'"):
        gl.fit(build_model("vae", images, latent_dim=2, hidden=(8,)), images, TRAIN, out=tmp_path / "run")
    assert not (tmp_path / "run").exists()
