"""Generative adversarial network (Goodfellow et al. 2014) on a Gaussian base z ~ N(0, I).

G pushes the base forward into data space; D (the critic) scores packed groups of samples
(PacGAN, Lin et al. 2018). Losses come from `GAN_LOSSES`; a training step yields `n_critic`
discriminator losses, then one generator loss, and the one trainer steps each in turn.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Literal

import torch
from torch import Tensor, nn
from torch.func import functional_call
from torch.nn.utils.parametrizations import spectral_norm

from pydantic import Field

from gausslab.blocks import nets, usernets
from gausslab.blocks.usernets import NetworkSpec, UserNetwork
from gausslab.core.config import Beta, Size, StrictModel, choices
from gausslab.core.errors import ConfigError, lookup
from gausslab.models.base import GenerativeModel, Loss, adam, full_precision
from gausslab.models.gan_losses import GAN_LOSSES, gradient_penalty


class GANConfig(StrictModel):
    """Arguments of `GAN`: base size, loss, packing, optimisers and networks."""

    kind: Literal["gan"] = "gan"
    latent_dim: int = Field(2, gt=0, description="size of the Gaussian base z ~ N(0, I)")
    loss: choices(GAN_LOSSES) = Field("ns", description="adversarial loss: " + ", ".join(GAN_LOSSES))
    pack: int = Field(2, gt=0, description="PacGAN packing degree, Lin et al. 2018 (1 = vanilla)")
    n_critic: int = Field(1, gt=0, le=1000, description="discriminator updates per generator update")
    gp_weight: float = Field(10.0, ge=0, description="WGAN-GP lambda, Gulrajani et al. 2017")
    spectral_norm: bool = Field(False, description="spectral normalisation of the discriminator, Miyato et al. 2018")
    lr_g: float = Field(1e-3, gt=0, description="generator Adam lr (defaults tuned on ring8, benchmarks/toy_modes.py)")
    lr_d: float = Field(1e-3, gt=0, description="discriminator Adam lr")
    betas: tuple[Beta, Beta] = Field((0.5, 0.999), description="Adam betas of both networks (Radford et al. 2016)")
    ema: float = Field(0.99, ge=0, lt=1, description="generator weight EMA decay used for sampling (0 = off)")
    arch: choices(nets.ARCHS) = Field("auto", description="networks; auto: conv for images of side >= 16")
    hidden: tuple[Size, ...] = Field((256, 256, 256), min_length=1, description="generator MLP widths")
    d_hidden: tuple[Size, ...] = Field((256, 256), min_length=1, description="discriminator MLP widths")
    channels: tuple[Size, ...] = Field((32, 64, 128), description="conv widths, one per stride-2 stage")
    generator: NetworkSpec | None = UserNetwork  # z [B, latent_dim] -> [B, *shape] (squashed by a sigmoid for images)
    discriminator: NetworkSpec | None = UserNetwork  # packed [B/pack, pack*shape[0], *shape[1:]] -> [B/pack, 1]


class WeightAverage(nn.Module):
    """Exponential moving average of a network's parameters, held as buffers so checkpoints carry it.

    Used for sampling (Yazıcı et al. 2019, "The unusual effectiveness of averaging in GAN training").
    """

    def __init__(self, net: nn.Module, decay: float):
        super().__init__()
        self.decay, self.names = decay, [name for name, _ in net.named_parameters()]
        self.keys = [name.replace(".", "__") for name in self.names]  # buffer names may not contain dots
        for key, p in zip(self.keys, net.parameters()):
            self.register_buffer(key, p.detach().clone())

    def weights(self) -> dict[str, Tensor]:
        """Parameter name of the averaged network -> its averaged tensor."""
        return {name: self._buffers[key] for name, key in zip(self.names, self.keys)}

    @torch.no_grad()
    def update(self, net: nn.Module) -> None:
        """avg <- decay * avg + (1 - decay) * current, one fused call over all tensors."""
        averages = [self._buffers[key] for key in self.keys]
        torch._foreach_lerp_(averages, [p.detach() for p in net.parameters()], 1 - self.decay)


class GAN(GenerativeModel):
    """Generator G: z [B, latent_dim] -> x [B, *shape]; discriminator D: `pack` samples -> one score.

    generator / discriminator: your own networks (built by `gausslab.network`) instead of the MLP /
    conv ones; without them, those named by the config, else the built-in ones. G maps z
    [B, latent_dim] to [B, *shape] (for images a sigmoid then squashes it into [0, 1]); D maps
    m = `pack` samples side by side, [B/m, m * shape[0], *shape[1:]], to scores [B/m, 1], and keeps
    no batch statistics (real and fake go through it in one batch). Spectral norm, when on, wraps
    every Linear and Conv2d of D, yours included.
    """

    config_class = GANConfig
    data_transform = None  # no density: trained on the data as stored

    def __init__(
        self, config: GANConfig, shape: tuple[int, ...], generator: nn.Module | None = None,
        discriminator: nn.Module | None = None,
    ):
        super().__init__()
        self.config, self.shape = config, tuple(shape)
        self.objective = lookup(GAN_LOSSES, "GAN loss", config.loss)
        arch = dict(arch=config.arch, channels=config.channels)
        # nets.decoder lists MLP widths from the data side (a VAE mirrors its encoder); `hidden` runs from z.
        self.generator = usernets.resolve(generator, config.generator, lambda: nets.decoder(
            config.latent_dim, self.shape, hidden=config.hidden[::-1], **arch))
        # PacGAN packs images along channels and vectors along features: D sees [B/m, m*C, H, W] or [B/m, m*D].
        packed = (config.pack * self.shape[0], *self.shape[1:])
        leaky = partial(nn.LeakyReLU, 0.2)  # Radford et al. 2016: LeakyReLU(0.2) in D
        self.discriminator = usernets.resolve(discriminator, config.discriminator, lambda: nets.encoder(
            packed, 1, hidden=config.d_hidden, act=leaky, **arch))
        if config.generator is not None:
            usernets.check_output(self.generator, "generator", (2, config.latent_dim), (2, *self.shape), "samples")
        if config.discriminator is not None:
            usernets.check_output(self.discriminator, "discriminator", (2, *packed), (2, 1), "one score per pack")
        if config.spectral_norm:
            _apply_spectral_norm(self.discriminator)
        self.ema = WeightAverage(self.generator, config.ema) if config.ema > 0 else None
        # Images live in [0, 1]: squash G's output there; vectors are used as given.
        self.squash = nn.Sigmoid() if len(self.shape) == 3 else nn.Identity()

    def optimizers(self, lr: float) -> dict[str, torch.optim.Optimizer]:
        """Two Adams at `lr_g` / `lr_d` with the GAN `betas` (the trainer's `lr` is for single-optimizer models)."""
        c = self.config
        return {
            "generator": adam(self.generator.parameters(), lr=c.lr_g, betas=c.betas),
            "discriminator": adam(self.discriminator.parameters(), lr=c.lr_d, betas=c.betas),
        }

    def check_data(self, n: int, batch: int) -> None:
        """Refuse a PacGAN `pack` larger than the batches (n training rows, batches of `batch`)."""
        if self.config.pack > batch:  # a batch smaller than `pack` yields no loss: nothing would train
            raise ConfigError(f"model.pack={self.config.pack} exceeds the batches of {batch} rows (train.batch_size, "
                              f"at most the {n} training rows); PacGAN packs that many samples into one input")

    def compile_networks(self) -> None:
        """G always; D only without a gradient penalty, whose double backward compiled graphs do not support."""
        self.generator.compile()
        if not self.objective.penalty:
            self.discriminator.compile()

    def base(self, n: int, generator: torch.Generator | None = None, device: torch.device | None = None) -> Tensor:
        """z ~ N(0, I) [n, latent_dim] in the model's dtype; from torch's global RNG unless `generator` is given."""
        return torch.randn(n, self.config.latent_dim, generator=generator, device=device or self.device,
                           dtype=self.dtype)

    def generate(self, z: Tensor) -> Tensor:
        """The trained generator's output [B, *shape] for base points z [B, latent_dim]."""
        return self.squash(self.generator(z))

    def push_forward(self, z: Tensor) -> Tensor:
        """The sampling generator's output for z [B, latent_dim]: the weight average when `ema` > 0."""
        if self.ema is None:
            return self.generate(z)
        return self.squash(functional_call(self.generator, self.ema.weights(), (z,)))

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n draws [n, *shape]: z ~ N(0, I) from `generator` through the sampling generator (`push_forward`)."""
        return self.push_forward(self.base(n, generator))

    def pack(self, x: Tensor) -> Tensor:
        """[B, *shape] -> [B/m, m*shape[0], *shape[1:]]: m consecutive samples side by side (B divisible by m)."""
        return x.reshape(x.shape[0] // self.config.pack, -1, *self.shape[1:])

    def critic(self, packed: Tensor) -> Tensor:
        """D's raw score (logit or critic value) [B/m] for packed inputs."""
        return full_precision(self.discriminator(packed).squeeze(-1))  # losses in float32 under autocast too

    def forward(self, x: Tensor) -> Tensor:
        """D's raw scores [B // pack] of x [B, *shape] taken in consecutive groups of `pack` (rows beyond a
        multiple of `pack` are dropped): the logits (`minimax`, `ns`) or critic values (`wgan-gp`, `hinge`)
        that the `GAN_LOSSES` turn into the discriminator's and generator's losses."""
        return self.critic(self.pack(x[: x.shape[0] - x.shape[0] % self.config.pack]))

    def training_losses(self, x: Tensor, step: int) -> Iterator[Loss]:
        """`n_critic` D losses on the batch (fresh z each), then the G loss on the last fakes against the updated D.

        Rows beyond a multiple of `pack` are dropped; a batch smaller than `pack` yields nothing.
        """
        n = x.shape[0] - x.shape[0] % self.config.pack
        if n == 0:
            return
        real = self.pack(x[:n])
        for _ in range(self.config.n_critic):
            fake = self.pack(self.generate(self.base(n, device=x.device)))
            yield self._d_loss(real, fake.detach())
        g = self.objective.g_loss(self.critic(fake))
        yield Loss("generator", g)
        if self.ema is not None:
            self.ema.update(self.generator)

    def _d_loss(self, real: Tensor, fake: Tensor) -> Loss:
        # One D pass over real and fake together (D has no batch statistics, so this equals two passes).
        d_real, d_fake = self.critic(torch.cat([real, fake])).split([real.shape[0], fake.shape[0]])
        loss = self.objective.d_loss(d_real, d_fake)
        if not self.objective.penalty:
            return Loss("discriminator", loss)  # no extra logged parts: they cost ~4% of a toy step
        gp = gradient_penalty(self.critic, real, fake)
        return Loss("discriminator", loss + self.config.gp_weight * gp, {"gradient_penalty": gp.detach()})


def _apply_spectral_norm(net: nn.Module) -> None:
    """W / σ(W) on every linear and conv layer (Miyato et al. 2018), one power iteration per forward."""
    for module in list(net.modules()):
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            spectral_norm(module)
