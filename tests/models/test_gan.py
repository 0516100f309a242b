"""GAN: the shared model suite for every loss, plus the pieces with closed-form references."""

from __future__ import annotations

import pytest
import torch
from torch.func import functional_call

from gausslab.models.gan import GANConfig
from gausslab.core.errors import ConfigError
from gausslab.models import GAN, MODELS, build_model
from gausslab.models.gan_losses import GAN_LOSSES, gradient_penalty
from tests.conftest import tiny_images, tiny_vectors
from tests.models.suite import check_model

TINY = dict(latent_dim=2, hidden=(16, 16), d_hidden=(16, 16))


def test_registered():
    assert MODELS["gan"] is GAN


@pytest.mark.parametrize("loss", sorted(GAN_LOSSES))
def test_suite_vectors(loss, tmp_path):
    data = tiny_vectors()
    check_model(lambda: build_model("gan", data, seed=0, loss=loss, **TINY), data, tmp_path)


@pytest.mark.parametrize("loss", sorted(GAN_LOSSES))
def test_suite_images_conv_every_option(loss, tmp_path):
    """Conv G/D with packing, spectral norm, two critic steps and the weight EMA all on."""
    data = tiny_images()
    options = dict(latent_dim=4, arch="conv", channels=(4, 8), pack=2, spectral_norm=True, n_critic=2, ema=0.9)
    check_model(lambda: build_model("gan", data, seed=0, loss=loss, **options), data, tmp_path)


def test_unknown_loss_is_a_config_error():
    with pytest.raises(ConfigError, match="hinge"):
        build_model("gan", (2,), loss="hinje")


def _sigmoid_ref(real, fake):
    """Goodfellow et al. 2014 written with probabilities: D = sigmoid(t)."""
    dr, df = torch.sigmoid(real), torch.sigmoid(fake)
    return {
        "d": -(torch.log(dr).mean() + torch.log(1 - df).mean()),
        "minimax_g": torch.log(1 - df).mean(),
        "ns_g": -torch.log(df).mean(),
    }


def test_losses_match_their_definitions():
    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(50, generator=g, dtype=torch.float64), torch.randn(50, generator=g, dtype=torch.float64)
    ref = _sigmoid_ref(real, fake)
    for name in ("minimax", "ns"):
        torch.testing.assert_close(GAN_LOSSES[name].d_loss(real, fake), ref["d"])
    torch.testing.assert_close(GAN_LOSSES["minimax"].g_loss(fake), ref["minimax_g"])
    torch.testing.assert_close(GAN_LOSSES["ns"].g_loss(fake), ref["ns_g"])
    hinge = sum(max(0.0, 1 - r) for r in real.tolist()) / 50 + sum(max(0.0, 1 + f) for f in fake.tolist()) / 50
    assert GAN_LOSSES["hinge"].d_loss(real, fake).item() == pytest.approx(hinge)
    assert GAN_LOSSES["wgan-gp"].d_loss(real, fake).item() == pytest.approx(fake.mean().item() - real.mean().item())
    for name in ("wgan-gp", "hinge"):
        assert GAN_LOSSES[name].g_loss(fake).item() == pytest.approx(-fake.mean().item())
    assert [n for n, loss in GAN_LOSSES.items() if loss.penalty] == ["wgan-gp"]


def test_gradient_penalty_of_a_linear_critic():
    """f(x) = w.x + b has gradient w everywhere, so the penalty is (|w| - 1)^2 whatever the interpolates."""
    w = torch.tensor([3.0, -4.0, 12.0], dtype=torch.float64)  # |w| = 13
    real, fake = torch.randn(20, 3, dtype=torch.float64), torch.randn(20, 3, dtype=torch.float64)
    gp = gradient_penalty(lambda x: x @ w + 1.0, real, fake)
    assert gp.item() == pytest.approx(144.0)


def test_step_yields_critic_losses_then_generator():
    model = build_model("gan", (2,), n_critic=3, **TINY)
    names = [loss.optimizer for loss in model.training_losses(torch.randn(8, 2), 0)]
    assert names == ["discriminator"] * 3 + ["generator"]
    assert set(model.optimizers(None)) == {"generator", "discriminator"}


def test_packing_concatenates_consecutive_samples_and_drops_the_remainder():
    model = build_model("gan", (2,), pack=3, **TINY)
    x = torch.arange(14.0).view(7, 2)
    packed = model.pack(x[:6])
    assert torch.equal(packed, torch.tensor([[0.0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11]]))
    seen = []
    model.discriminator.register_forward_hook(lambda m, inp, out: seen.append(inp[0].shape))
    list(model.training_losses(x, 0))
    assert seen[0] == (4, 6)  # 7 rows -> 6 used -> 2 real + 2 fake packs of 3 samples, scored in one pass
    assert list(model.training_losses(x[:2], 0)) == []  # fewer rows than a pack: the batch is dropped


def test_image_packing_is_along_channels():
    model = build_model("gan", (1, 16, 16), pack=2, channels=(4, 8))
    x = torch.rand(4, 1, 16, 16)
    packed = model.pack(x)
    assert packed.shape == (2, 2, 16, 16)
    assert torch.equal(packed[1, 0], x[2, 0]) and torch.equal(packed[1, 1], x[3, 0])
    out = model.sample(3, generator=torch.Generator().manual_seed(0))
    assert out.shape == (3, 1, 16, 16) and out.min() >= 0 and out.max() <= 1


def test_ema_is_a_checkpointed_average_used_for_sampling():
    decay = 0.75
    model = build_model("gan", (2,), ema=decay, **TINY)
    assert any(k.startswith("ema.") for k in model.state_dict())
    before = {k: v.clone() for k, v in model.generator.named_parameters()}
    opts = model.optimizers(None)
    for loss in model.training_losses(torch.randn(16, 2), 0):
        opts[loss.optimizer].zero_grad()
        loss.value.backward()
        opts[loss.optimizer].step()
    after = dict(model.generator.named_parameters())
    expected = {k: decay * before[k] + (1 - decay) * after[k].detach() for k in before}
    for k, v in model.ema.weights().items():
        torch.testing.assert_close(v, expected[k])
    z = model.base(5, torch.Generator().manual_seed(0))
    with torch.no_grad():
        want = functional_call(model.generator, expected, (z,))
        assert torch.allclose(model.sample(5, generator=torch.Generator().manual_seed(0)), want)
        assert not torch.allclose(model.generate(z), want)  # the live generator differs from its average


def test_sample_is_the_push_forward_of_base_points():
    model = build_model("gan", (2,), **TINY)
    with torch.no_grad():
        z = torch.randn(6, 2, generator=torch.Generator().manual_seed(4))
        a = model.push_forward(z)
        b = model.sample(6, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b)


def test_spectral_norm_bounds_each_layer():
    model = build_model("gan", (2,), spectral_norm=True, **TINY)
    x = torch.randn(64, 4)
    for _ in range(200):  # one power iteration per training-mode forward (Miyato et al. 2018, Alg. 1)
        model.discriminator(x)
    for layer in model.discriminator.modules():
        if isinstance(layer, torch.nn.Linear):
            assert torch.linalg.matrix_norm(layer.weight.detach(), 2).item() == pytest.approx(1.0, abs=1e-2)


def _widths(net: torch.nn.Module) -> list[int]:
    return [m.out_features for m in net.modules() if isinstance(m, torch.nn.Linear)]


def test_mlp_widths_run_from_the_base_and_from_the_data():
    model = GAN(GANConfig(hidden=(8, 16, 32), d_hidden=(12, 6)), (2,))
    assert _widths(model.generator) == [8, 16, 32, 2]
    assert _widths(model.discriminator) == [12, 6, 1]
    assert model.discriminator.net[0].in_features == 4  # two packed 2-D samples (default pack=2)
