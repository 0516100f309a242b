"""The checkpoint format read back with safetensors, json and hashlib alone, and a save / load round trip
compared with the optimizer, weights and RNG state that were saved."""

import hashlib
import json
import re

import pytest
import torch
from safetensors.torch import load_file, save_file

from gausslab.core.errors import CheckpointError
from gausslab.models import build_model
from gausslab.models.base import adam
from gausslab.training import checkpoint as ckpt
from tests.state import assert_same_state, scrambled


def where(path):
    """A path as the messages quote it, as a regular expression."""
    return re.escape(repr(str(path)))


def trained(seed=0, steps=3):
    """A tiny VAE and its Adam after `steps` hand-made steps (so the optimizer holds moments and step counts)."""
    model = build_model("vae", (3,), latent_dim=2, hidden=(4,), seed=seed)
    opts = model.optimizers(0.01)
    x = torch.randn(8, 3, generator=torch.Generator().manual_seed(seed))
    for step in range(steps):
        loss = next(iter(model.training_losses(x, step))).value
        opts["model"].zero_grad()
        loss.backward()
        opts["model"].step()
    return model, opts


def saved(tmp_path, step=7, **extra):
    model, opts = trained()
    torch.manual_seed(11)
    ckpt.save_checkpoint(tmp_path, model, opts, step, **extra)
    return model, opts


def test_the_files_hold_weights_optimizer_moments_rng_and_checksums(tmp_path):
    model, opts = saved(tmp_path, finished=True, skipped=2)
    rng = torch.get_rng_state()
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["step"] == 7 and state["finished"] is True and state["skipped"] == 2
    for name in ("model.safetensors", "state.safetensors"):
        assert state["sha256"][name] == hashlib.sha256((tmp_path / name).read_bytes()).hexdigest()
    assert not list(tmp_path.glob("*.pending"))
    on_disk = load_file(tmp_path / "model.safetensors")  # safetensors stores the names sorted
    assert_same_state(on_disk, {k: model.state_dict()[k] for k in on_disk}, "model.safetensors")
    assert sorted(on_disk) == sorted(model.state_dict())
    tensors = load_file(tmp_path / "state.safetensors")
    assert torch.equal(tensors["rng.torch"], rng)
    sd = opts["model"].state_dict()
    expected = {f"opt.model.{i}.{key}": v for i, entry in sd["state"].items() for key, v in entry.items() if v.dim() > 0}
    assert expected and all(torch.equal(tensors[k], v) for k, v in expected.items())
    meta = state["optimizers"]["model"]
    assert meta["param_groups"] == json.loads(json.dumps(sd["param_groups"]))
    steps = {k: v for k, v in sd["state"].items()}
    for i, entry in steps.items():  # Adam's step counts: tensors or numbers, one home each
        value = tensors.get(f"opt.model.{i}.step", meta["scalars"].get(f"{i}.step"))
        assert float(value) == float(entry["step"]) == 3.0


def test_a_save_loaded_into_a_fresh_model_restores_weights_optimizer_and_rng(tmp_path):
    model, opts = saved(tmp_path)
    expected_draw = torch.rand(5)
    fresh = scrambled(build_model("vae", (3,), latent_dim=2, hidden=(4,), seed=1))
    fresh_opts = fresh.optimizers(0.02)  # the saved learning rate (0.01) must replace this one
    torch.manual_seed(99)
    state = ckpt.load_training_state(tmp_path, fresh, fresh_opts)
    assert state["step"] == 7
    assert torch.equal(torch.rand(5), expected_draw), "the RNG continues where the saved run was"
    assert_same_state(fresh, model, "weights")
    a, b = opts["model"].state_dict(), fresh_opts["model"].state_dict()
    assert json.dumps(a["param_groups"]) == json.dumps(b["param_groups"]) and a["state"].keys() == b["state"].keys()
    for i in a["state"]:
        assert a["state"][i].keys() == b["state"][i].keys()
        for key in a["state"][i]:
            assert torch.equal(torch.as_tensor(a["state"][i][key]), torch.as_tensor(b["state"][i][key])), (i, key)
    # The same next step from both: the restored optimizer is the saved one, not a fresh Adam.
    x = torch.randn(8, 3, generator=torch.Generator().manual_seed(5))
    for m, o in ((model, opts), (fresh, fresh_opts)):
        torch.manual_seed(0)
        loss = next(iter(m.training_losses(x, 7))).value
        o["model"].zero_grad()
        loss.backward()
        o["model"].step()
    assert_same_state(fresh, model, "after one more step")


def test_a_save_into_a_folder_with_an_older_checkpoint_replaces_it(tmp_path):
    saved(tmp_path, step=3)
    model, _ = trained(steps=5)
    ckpt.save_checkpoint(tmp_path, model, model.optimizers(0.01), 5)
    fresh = build_model("vae", (3,), latent_dim=2, hidden=(4,), seed=1)
    ckpt.load_weights(tmp_path, fresh)
    assert_same_state(fresh, model)
    assert ckpt.read_state(tmp_path)["step"] == 5


def test_a_pending_file_named_by_the_committed_state_is_read_and_a_stray_one_is_not(tmp_path):
    model, _ = saved(tmp_path)
    (tmp_path / "model.safetensors").rename(tmp_path / "model.safetensors.pending")
    fresh = build_model("vae", (3,), latent_dim=2, hidden=(4,), seed=1)
    ckpt.load_weights(tmp_path, fresh)  # as after a kill between the commit and the move
    assert_same_state(fresh, model)
    (tmp_path / "model.safetensors.pending").write_bytes(b"x" * 64)
    with pytest.raises(CheckpointError, match=f"^{where(tmp_path / 'model.safetensors')} does not match the checksum in "
                                              "state.json: torn or edited file$"):
        ckpt.load_weights(tmp_path, fresh)


@pytest.mark.parametrize("content, message", [
    ("[1, 2]", "\\.json' is corrupt$"),
    ("{\"step\": -1, \"sha256\": {}}", "\\.json' is corrupt: .*step"),
    ("{\"step\": 3}", "\\.json' is corrupt: .*sha256"),
    ("{not json", "\\.json' is corrupt$"),
])
def test_a_broken_state_json_is_reported_as_corrupt(tmp_path, content, message):
    (tmp_path / "state.json").write_text(content)
    with pytest.raises(CheckpointError, match="^" + re.escape(repr(str(tmp_path / "state"))[:-1]) + message):
        ckpt.read_state(tmp_path)


def test_read_state_reports_a_missing_checkpoint_and_keeps_extra_keys(tmp_path):
    with pytest.raises(CheckpointError, match=f"^run folder {where(tmp_path)} has no checkpoint \\(state.json is missing\\)$"):
        ckpt.read_state(tmp_path)
    saved(tmp_path, total_steps=9)
    state = ckpt.read_state(tmp_path)
    assert state["total_steps"] == 9 and state["finished"] is False and state["world_size"] == 1


def test_missing_or_unreadable_weight_files_are_reported(tmp_path):
    saved(tmp_path)
    model = build_model("vae", (3,), latent_dim=2, hidden=(4,), seed=1)
    (tmp_path / "state.safetensors").unlink()
    with pytest.raises(CheckpointError, match=f"^run folder {where(tmp_path)} is missing state.safetensors$"):
        ckpt.load_training_state(tmp_path, model, model.optimizers(0.01))
    state = json.loads((tmp_path / "state.json").read_text())
    (tmp_path / "model.safetensors").write_bytes(b"not safetensors")
    state["sha256"]["model.safetensors"] = hashlib.sha256(b"not safetensors").hexdigest()
    (tmp_path / "state.json").write_text(json.dumps(state))
    with pytest.raises(CheckpointError, match=f"^{where(tmp_path / 'model.safetensors')} is not a valid safetensors file \\(."):
        ckpt.load_weights(tmp_path, model)


def test_weights_of_another_shape_are_refused_naming_the_tensor(tmp_path):
    saved(tmp_path)
    other = build_model("vae", (3,), latent_dim=3, hidden=(4,), seed=1)
    with pytest.raises(CheckpointError, match=f"^{where(tmp_path / 'model.safetensors')} does not fit the model in "
                                              "config.json: size mismatch for "):
        ckpt.load_weights(tmp_path, other)


def test_an_optimizer_the_checkpoint_lacks_and_a_state_without_rng_are_refused(tmp_path):
    model, _ = saved(tmp_path)
    two = {"model": model.optimizers(0.01)["model"], "critic": model.optimizers(0.01)["model"]}
    with pytest.raises(CheckpointError, match=f"^checkpoint in {where(tmp_path)} has no state for optimizer 'critic'$"):
        ckpt.load_training_state(tmp_path, model, two)
    tensors = load_file(tmp_path / "state.safetensors")
    del tensors["rng.torch"]
    save_file(tensors, tmp_path / "state.safetensors")
    state = json.loads((tmp_path / "state.json").read_text())
    state["sha256"]["state.safetensors"] = hashlib.sha256((tmp_path / "state.safetensors").read_bytes()).hexdigest()
    (tmp_path / "state.json").write_text(json.dumps(state))
    with pytest.raises(CheckpointError, match=f"^{where(tmp_path / 'state.safetensors')} holds no RNG state$"):
        ckpt.load_training_state(tmp_path, model, model.optimizers(0.01))


def test_weights_that_lack_a_layer_of_the_model_are_refused(tmp_path):
    saved(tmp_path)
    deeper = build_model("vae", (3,), latent_dim=2, hidden=(4, 4), seed=1)  # the same names, and more
    with pytest.raises(CheckpointError, match="does not fit the model in config.json: Missing key\\(s\\) in state_dict"):
        ckpt.load_weights(tmp_path, deeper)


def test_an_optimizer_over_other_parameters_is_refused(tmp_path):
    model, _ = saved(tmp_path)
    fewer = {"model": adam(list(model.parameters())[:2], lr=0.01)}  # the models' Adam (fused), on two tensors
    with pytest.raises(CheckpointError, match=f"^the optimizer state in {where(tmp_path)} does not fit optimizer 'model': "
                                              "loaded state dict contains a parameter group"):
        ckpt.load_training_state(tmp_path, model, fewer)


class Tally(torch.optim.Optimizer):
    """Plain SGD that keeps a step count (a number) for every parameter and the last gradient (a tensor) of the
    first one only: optimizer state that is not a tensor, entries without a tensor, and names with dots."""

    def __init__(self, params, lr=0.1):
        super().__init__(params, {"lr": lr})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for i, p in enumerate(group["params"]):
                self.state[p]["steps.done"] = self.state[p].get("steps.done", 0) + 1
                if i == 0:
                    self.state[p]["last.grad"] = p.grad.clone()
                p.add_(p.grad, alpha=-group["lr"])


def test_optimizer_state_that_is_not_a_tensor_is_saved_in_state_json_and_restored(tmp_path):
    model = build_model("vae", (3,), latent_dim=2, hidden=(4,), seed=0)
    opt = Tally(model.parameters())
    x = torch.randn(8, 3, generator=torch.Generator().manual_seed(0))
    for step in range(2):
        opt.zero_grad()
        next(iter(model.training_losses(x, step))).value.backward()
        opt.step()
    ckpt.save_checkpoint(tmp_path, model, {"sgd": opt}, 2)
    scalars = json.loads((tmp_path / "state.json").read_text())["optimizers"]["sgd"]["scalars"]
    count = len(opt.param_groups[0]["params"])
    assert scalars == {f"{i}.steps.done": 2 for i in range(count)}
    assert list(load_file(tmp_path / "state.safetensors")) == ["opt.sgd.0.last.grad", "rng.torch"]
    fresh = build_model("vae", (3,), latent_dim=2, hidden=(4,), seed=1)
    fresh_opt = Tally(fresh.parameters())
    ckpt.load_training_state(tmp_path, fresh, {"sgd": fresh_opt})
    restored = fresh_opt.state_dict()["state"]
    assert sorted(restored) == list(range(count)) and all(restored[i]["steps.done"] == 2 for i in range(count))
    assert torch.equal(restored[0]["last.grad"], opt.state_dict()["state"][0]["last.grad"])
    assert all(set(restored[i]) == {"steps.done"} for i in range(1, count))


def test_an_edited_optimizer_setting_of_another_kind_is_refused_naming_it(tmp_path):
    model, _ = saved(tmp_path)
    state = json.loads((tmp_path / "state.json").read_text())
    state["optimizers"]["model"]["param_groups"][0]["lr"] = "fast"
    (tmp_path / "state.json").write_text(json.dumps(state))
    with pytest.raises(CheckpointError, match=f"^{where(tmp_path / 'state.json')} is corrupt: optimizer 'model' setting "
                                              "'lr' is 'fast', not a number$"):
        ckpt.load_training_state(tmp_path, model, model.optimizers(0.01))
