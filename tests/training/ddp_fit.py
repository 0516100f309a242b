"""Train a small VAE with its reparameterisation noise switched off (z = mu), for the DDP tests.

    python tests/training/ddp_fit.py OUT [--poison-step N] [--policy stop|skip]

Run directly (one process) or under torchrun: with no noise, a 2-process run with the same global
batch does exactly the arithmetic of a 1-process run, up to float rounding in the gradient average.
--poison-step makes the loss NaN at that step on rank 1 only, as a bad batch on one machine would.
"""

import argparse
import os

import torch
from torch.distributions import Normal

import gausslab as gl
from gausslab.models.base import Loss


def poison(model, step_to_poison: int) -> None:
    original = model.training_losses

    def losses(x, step):
        for loss in original(x, step):
            bad = step == step_to_poison and os.environ.get("RANK") == "1"
            yield Loss(loss.optimizer, loss.value * float("nan") if bad else loss.value, loss.parts)

    model.training_losses = losses


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--poison-step", type=int)
    parser.add_argument("--policy", default="stop")
    args = parser.parse_args()
    torch.set_num_threads(1)
    Normal.rsample = lambda self, sample_shape=torch.Size(): self.loc + 0 * self.scale  # z = mu, grads intact
    data = gl.load_dataset("ring8", n=2000)
    model = gl.build_model("vae", data, latent_dim=2, hidden=(32, 32))
    if args.poison_step is not None:
        poison(model, args.poison_step)
    cfg = gl.TrainConfig(steps=60, epochs=100, batch_size=64, lr=1e-2, checkpoint_every=60, nan_policy=args.policy)
    gl.fit(model, data, cfg, out=args.out, progress=False)


if __name__ == "__main__":
    main()
