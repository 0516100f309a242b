import json

import pytest
import torch

import gausslab as gl
from gausslab.config import TrainConfig
from gausslab.errors import CheckpointError
from gausslab.models import build_model


@pytest.fixture
def run(vectors, tmp_path):
    out = tmp_path / "run"
    gl.fit(build_model("vae", vectors, latent_dim=2, hidden=(8,)), vectors, TrainConfig(steps=3, batch_size=16), out=out)
    return out


def test_load_rebuilds_the_model_from_the_folder(run):
    model = gl.load(run)
    assert model.config.latent_dim == 2 and model.config.hidden == (8,)
    assert not model.training


@pytest.mark.parametrize("name", ["model.safetensors", "state.json", "config.json"])
def test_missing_files_are_reported(run, name):
    (run / name).unlink()
    with pytest.raises(CheckpointError, match=name.split(".")[0]):
        gl.load(run)


def test_tampered_weights_are_detected(run):
    data = bytearray((run / "model.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (run / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="checksum"):
        gl.load(run)


def test_incompatible_config_is_reported(run):
    raw = json.loads((run / "config.json").read_text())
    raw["config"]["model"]["latent_dim"] = 5
    (run / "config.json").write_text(json.dumps(raw))
    with pytest.raises(CheckpointError, match="does not fit"):
        gl.load(run)


def test_corrupt_config_is_reported(run):
    (run / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="corrupt"):
        gl.load(run)


def test_no_pickle_in_checkpoints(run):
    for path in run.glob("*.safetensors"):
        assert not path.read_bytes().startswith(b"\x80"), "pickle protocol header"
    state = json.loads((run / "state.json").read_text())
    assert set(state["sha256"]) == {"model.safetensors", "state.safetensors"}
    assert torch.equal(gl.load(run).prior._zero, torch.zeros(()))
