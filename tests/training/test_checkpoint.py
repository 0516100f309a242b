import json

import pytest
import torch

import gausslab as gl
from gausslab.training import checkpoint as ckpt
from gausslab.training.config import TrainConfig
from gausslab.core.errors import CheckpointError
from gausslab.models import build_model
from tests.resume import assert_resumes_exactly


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


def _cut_short(monkeypatch, where: str):
    """Make save_checkpoint die at `where`, as a SIGKILL would ('commit': writing state.json;
    'promote': moving the first pending weight file into place, after the commit)."""

    def die(*args, **kwargs):
        raise SystemExit("killed")

    monkeypatch.setattr(ckpt, {"commit": "atomic_write_json", "promote": "_promote"}[where], die)


@pytest.mark.parametrize("where, step", [("commit", 3), ("promote", 6)])
def test_a_save_cut_short_leaves_a_run_that_loads_and_resumes_exactly(vectors, tmp_path, monkeypatch, where, step):
    # Killed before the commit, the run is the previous checkpoint (step 3); after it, the new one (step 6).
    cfg = TrainConfig(steps=9, batch_size=16, checkpoint_every=3, epochs=100)
    make = lambda: build_model("vae", vectors, latent_dim=2, hidden=(8,))  # noqa: E731
    out = tmp_path / "run"
    saves = []
    original = ckpt.save_checkpoint

    def save(run, model, optimizers, done, **extra):
        saves.append(done)
        if done == 6:
            _cut_short(monkeypatch, where)
        original(run, model, optimizers, done, **extra)

    monkeypatch.setattr("gausslab.training.loop.ckpt.save_checkpoint", save)
    with pytest.raises(SystemExit):
        gl.fit(make(), vectors, cfg, out=out)
    monkeypatch.undo()
    assert saves == [3, 6] and ckpt.read_state(out)["step"] == step
    gl.load(out)  # the weights of that step, checksums verified
    assert_resumes_exactly(make, vectors, cfg, out)
    assert not list(out.glob("*.pending"))
