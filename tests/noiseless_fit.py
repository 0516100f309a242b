"""Train a small VAE with its reparameterisation noise switched off (z = mu), for the DDP test.

Run directly (one process) or under torchrun: with no noise, a 2-process run with the same global
batch does exactly the arithmetic of a 1-process run, up to float rounding in the gradient average.
"""

import sys

import torch
from torch.distributions import Normal

import gausslab as gl


def main(out: str) -> None:
    torch.set_num_threads(1)
    Normal.rsample = lambda self, sample_shape=torch.Size(): self.loc + 0 * self.scale  # z = mu, grads intact
    data = gl.load_dataset("ring8", n=2000)
    model = gl.build_model("vae", data, latent_dim=2, hidden=(32, 32))
    gl.fit(model, data, gl.TrainConfig(steps=60, epochs=100, batch_size=64, lr=1e-2, checkpoint_every=60), out=out,
           progress=False)


if __name__ == "__main__":
    main(sys.argv[1])
