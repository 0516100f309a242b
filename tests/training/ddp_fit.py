"""Train a small VAE with its reparameterisation noise switched off (z = mu), for the DDP tests.

    python tests/training/ddp_fit.py OUT [--steps N] [--resume] [--poison-step N] [--policy stop|skip]

Run directly (one process) or under torchrun: with no noise, a 2-process run with the same global
batch does exactly the arithmetic of a 1-process run, up to float rounding in the gradient average.
--poison-step makes the loss NaN at that step on rank 1 only, as a bad batch on one machine would.
--resume continues the run in OUT from weights moved by +1 (only loading the checkpoint undoes that)
and prints the steps each rank ran.
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


def count_steps(model) -> list[int]:
    seen = []
    original = model.training_losses

    def losses(x, step):
        seen.append(step)
        yield from original(x, step)

    model.training_losses = losses
    return seen


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--poison-step", type=int)
    parser.add_argument("--policy", default="stop")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    Normal.rsample = lambda self, sample_shape=torch.Size(): self.loc + 0 * self.scale  # z = mu, grads intact
    data = gl.load_dataset("ring8", n=2000)
    model = gl.build_model("vae", data, latent_dim=2, hidden=(32, 32))
    if args.poison_step is not None:
        poison(model, args.poison_step)
    if args.resume:
        with torch.no_grad():
            for p in model.parameters():
                p.add_(1.0)
    seen = count_steps(model)
    cfg = gl.TrainConfig(steps=args.steps, epochs=100, batch_size=64, lr=1e-2, checkpoint_every=60,
                         nan_policy=args.policy)
    gl.fit(model, data, cfg, out=args.out, progress=False, resume=args.resume)
    if args.resume:
        print(f"rank {os.environ.get('RANK', '0')} ran steps {seen[0]}-{seen[-1]} ({len(seen)})", flush=True)


if __name__ == "__main__":
    main()
