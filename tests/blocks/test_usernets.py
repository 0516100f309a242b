"""User networks: recorded by import path + JSON arguments, rebuilt by `gl.load` bit for bit, else refused."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

import gausslab as gl
from gausslab.core.errors import ConfigError
from tests.conftest import tiny_images, tiny_vectors
from tests.models import custom_nets
from tests.models.suite import check_model

HERE = "tests.models.custom_nets"
TRAIN = gl.TrainConfig(steps=6, batch_size=16, checkpoint_every=6)


def vae_networks(latent: int = 3) -> dict[str, nn.Module]:
    return {"encoder": gl.network(f"{HERE}:Encoder", shape=(1, 8, 8), latent_dim=latent, width=12),
            "decoder": gl.network(f"{HERE}:Decoder", latent_dim=latent, shape=[1, 8, 8])}


@pytest.mark.slow
def test_vae_with_own_networks_survives_train_save_load(tmp_path):
    data = tiny_images()
    torch.manual_seed(0)
    model = gl.build_model("vae", data, latent_dim=3, **vae_networks())
    gl.fit(model, data, TRAIN, out=tmp_path / "run")
    recorded = json.loads((tmp_path / "run" / "config.json").read_text())["config"]["model"]
    assert recorded["encoder"] == {"target": f"{HERE}:Encoder", "kwargs": {"shape": [1, 8, 8], "latent_dim": 3,
                                                                           "width": 12}}
    loaded = gl.load(tmp_path / "run")
    assert type(loaded.encoder) is custom_nets.Encoder and type(loaded.decoder) is custom_nets.Decoder
    assert float(loaded.decoder.calls) == float(model.decoder.calls) > 0  # buffers come back too
    model.eval()
    x, z = data.test, torch.randn(5, 3, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(loaded.encoder(x), model.encoder(x)) and torch.equal(loaded.decoder(z), model.decoder(z))
        g = lambda: torch.Generator().manual_seed(2)  # noqa: E731
        assert torch.equal(loaded.sample(4, generator=g()), model.sample(4, generator=g()))


@pytest.mark.slow
def test_gan_with_own_networks_passes_the_shared_suite(tmp_path):
    """Specs given as mappings are built inside build_model, seeded: the suite's save/load/resume checks apply."""
    data = tiny_vectors()
    nets = {"generator": {"target": f"{HERE}:Decoder", "kwargs": {"latent_dim": 2, "shape": [2]}},
            "discriminator": {"target": f"{HERE}:Critic", "kwargs": {"width_in": 4}}}
    check_model(lambda: gl.build_model("gan", data, pack=2, ema=0.9, **nets), data, tmp_path)
    assert type(gl.build_model("gan", data, **nets).discriminator) is custom_nets.Critic


def test_a_network_that_reads_its_values_builds():
    """The model-size check counts shapes on torch's meta device, where a forward pass reads no values: a user's
    network is left out of it (it is built for real anyway), so its output check never runs there."""
    encoder = gl.network(f"{HERE}:Rescaled", shape=(1, 8, 8), latent_dim=3, width=12)
    model = gl.build_model("vae", tiny_images(), latent_dim=3, encoder=encoder)
    assert model.encoder is encoder
    spec = {"target": f"{HERE}:Rescaled", "kwargs": {"shape": [1, 8, 8], "latent_dim": 3}}
    assert type(gl.build_model("vae", tiny_images(), latent_dim=3, encoder=spec).encoder) is custom_nets.Rescaled


def test_an_unrecordable_module_is_refused():
    with pytest.raises(ConfigError, match=r"encoder=torch.nn.modules.linear.Linear cannot be recorded.*network"):
        gl.build_model("vae", tiny_images(), latent_dim=3, encoder=nn.Linear(64, 6))


def test_a_module_changed_after_it_was_built_is_refused():
    nets = vae_networks()
    nets["encoder"].extra = nn.Linear(2, 2)
    with pytest.raises(ConfigError, match="encoder no longer matches what"):
        gl.build_model("vae", tiny_images(), latent_dim=3, **nets)


@pytest.mark.parametrize(("target", "kwargs", "match"), [
    (f"{HERE}:Encoder", {"shape": [1, 8, 8], "latent_dim": torch.tensor(3)}, "must be JSON values"),
    (f"{HERE}:Encoder", {"shape": [1, 8, 8], "latent_dim": float("nan")}, "must be JSON values"),
    ("__main__:Net", {}, "lives in the script being run"),
    ("no_such_package.nets:Net", {}, "cannot import 'no_such_package.nets'"),
    ("json:dumps", {}, "is not an nn.Module class"),
    (f"{HERE}.Encoder", {}, "target"),
    (f"{HERE}:Encoder", {"depth": 3}, "cannot be built from arguments"),
])
def test_network_errors_are_one_line(target, kwargs, match):
    with pytest.raises(ConfigError, match=match) as info:
        gl.network(target, **kwargs)
    assert "\n" not in str(info.value)


ENCODER_64 = {"target": f"{HERE}:Encoder", "kwargs": {"shape": [1, 8, 8], "latent_dim": 3}}  # reads 64 inputs


@pytest.mark.parametrize(("kind", "role", "net", "match"), [
    ("vae", "encoder", f"{HERE}:Wrong", r"encoder maps \[2, 1, 8, 8\] to \[2, 1\]; it must output \[2, 6\]"),
    ("vae", "decoder", f"{HERE}:Wrong", r"decoder maps \[2, 3\] to \[2, 1\]; it must output \[2, 1, 8, 8\]"),
    ("vae", "decoder", ENCODER_64, r"decoder fails on an input of shape \[2, 3\]: RuntimeError"),
    ("gan", "generator", f"{HERE}:Wrong", r"generator maps \[2, 3\] to \[2, 1\]"),
    ("gan", "discriminator", ENCODER_64, r"discriminator fails on an input of shape \[2, 2, 8, 8\]"),
])
def test_networks_breaking_the_contract_are_refused(kind, role, net, match):
    spec = {"target": net} if isinstance(net, str) else net
    with pytest.raises(ConfigError, match=match) as info:
        gl.build_model(kind, tiny_images(), latent_dim=3, **{role: spec})
    assert "\n" not in str(info.value)


def test_gaussian_decoder_outputs_means():
    """For a Gaussian likelihood the decoder's output is the mean of p(x|z): decode() returns it unchanged."""
    data = tiny_vectors()
    model = gl.build_model("vae", data, latent_dim=2, likelihood="gaussian",
                           decoder=gl.network(f"{HERE}:Decoder", latent_dim=2, shape=[2]))
    z = torch.randn(4, 2)
    with torch.no_grad():
        assert torch.equal(model.decode(z), model.decoder(z))


@pytest.mark.slow
def test_a_yaml_config_names_own_networks_for_the_cli(tmp_path):
    from typer.testing import CliRunner

    from gausslab.cli import app

    spec = {"target": f"{HERE}:Encoder", "kwargs": {"shape": [1, 8, 8], "latent_dim": 2}}
    (tmp_path / "run.yaml").write_text(json.dumps({"model": {"latent_dim": 2, "encoder": spec}}))  # JSON is YAML
    args = ["train", "vae", "--data", "digits", "--config", tmp_path / "run.yaml", "--set", "train.steps=2",
            "--out", tmp_path / "run", "-q"]
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    assert type(gl.load(tmp_path / "run").encoder) is custom_nets.Encoder
