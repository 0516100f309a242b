"""`train.compile`: torch.compile'd networks train like eager ones and checkpoint the same way."""

import shutil

import pytest
import torch

import gausslab as gl

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("c++") is None, reason="torch.compile on CPU needs a C++ compiler"),
]


def train(kind, out, compile_, **options):
    data = gl.load_dataset("ring8", n=1000)
    torch.manual_seed(0)
    model = gl.build_model(kind, data, **options)
    cfg = gl.TrainConfig(steps=30, epochs=100, batch_size=64, compile=compile_)
    return gl.fit(model, data, cfg, out=out, progress=False)


def test_compiled_vae_matches_eager_and_its_checkpoint_loads(tmp_path):
    eager = train("vae", tmp_path / "eager", False, latent_dim=2, hidden=(16, 16))
    compiled = train("vae", tmp_path / "compiled", True, latent_dim=2, hidden=(16, 16))
    nets = [compiled.model.encoder, compiled.model.decoder]
    assert all(net._compiled_call_impl is not None for net in nets)  # nn.Module.compile was applied
    assert eager.model.encoder._compiled_call_impl is None
    assert compiled.last["valid_elbo"] == pytest.approx(eager.last["valid_elbo"], rel=1e-4)
    loaded = gl.load(tmp_path / "compiled")  # same state-dict keys as an eager model (assert_close compares them)
    torch.testing.assert_close(loaded.state_dict(), eager.model.state_dict(), rtol=1e-3, atol=1e-4)


def test_compiled_gan_with_gradient_penalty_trains(tmp_path):
    # D stays eager under WGAN-GP: compiled graphs do not support the penalty's double backward.
    result = train("gan", tmp_path / "gan", True, loss="wgan-gp", hidden=(16, 16), d_hidden=(16, 16))
    assert result.model.generator._compiled_call_impl is not None
    assert result.model.discriminator._compiled_call_impl is None
    assert all(torch.isfinite(p).all() for p in result.model.parameters())
