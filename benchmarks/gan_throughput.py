"""GAN training throughput: gausslab.fit vs a minimal hand-written PyTorch loop, same process.

The default GAN on ring8 (`GANConfig()`: MLP G and D, non-saturating loss, PacGAN packing, the
generator weight average) at batch 128; the hand loop builds the same layers, losses, Adams and
batching and does the same work per step: one generator forward, a D step on the detached fakes,
a G step on the same fakes against the updated D, one weight-average update.
"""

from __future__ import annotations

import argparse
import copy
import time

import torch
import torch.nn.functional as F
from torch import nn

import gausslab as gl
from benchmarks.common import fit_steps_per_s, median_ratio, table
from gausslab.models.gan import GANConfig

BATCH = 128


def gausslab_rate(ds, steps: int) -> float:
    return fit_steps_per_s(gl.build_model("gan", ds), ds, steps, BATCH, warmup=5)


def _mlp(sizes, act) -> nn.Sequential:
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), act()]
    return nn.Sequential(*layers[:-1])


def hand_rate(ds, steps: int) -> float:
    """The plain loop a user would write for the same model."""
    c = GANConfig()
    dim, m = ds.train.shape[1], c.pack
    G = _mlp([c.latent_dim, *c.hidden, dim], nn.ReLU)
    D = _mlp([m * dim, *c.d_hidden, 1], lambda: nn.LeakyReLU(0.2))
    G_avg = copy.deepcopy(G).requires_grad_(False)
    opt_g = torch.optim.Adam(G.parameters(), lr=c.lr_g, betas=c.betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=c.lr_d, betas=c.betas)
    x_all = ds.train

    def step(idx):
        x = x_all[idx]
        n = x.shape[0] - x.shape[0] % m
        real = x[:n].reshape(n // m, m * dim)
        fake = G(torch.randn(n, c.latent_dim)).reshape(n // m, m * dim)
        d_loss = F.softplus(-D(real)).mean() + F.softplus(D(fake.detach())).mean()
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        g_loss = F.softplus(-D(fake)).mean()
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        if c.ema > 0:
            with torch.no_grad():
                for a, p in zip(G_avg.parameters(), G.parameters()):
                    a.lerp_(p, 1 - c.ema)

    n_batches = -(-x_all.shape[0] // BATCH)
    perm = torch.randperm(x_all.shape[0])
    for i in range(5):
        step(perm[i * BATCH : (i + 1) * BATCH])
    t0 = time.perf_counter()
    for s in range(steps):
        i = s % n_batches
        if i == 0:
            perm = torch.randperm(x_all.shape[0])
        step(perm[i * BATCH : (i + 1) * BATCH])
    return steps / (time.perf_counter() - t0)


def main(steps: int = 400, rounds: int = 5) -> dict:
    ds = gl.load_dataset("ring8")
    ours, hand = [], []
    for _ in range(rounds):  # interleaved so both see the same machine load
        hand.append(hand_rate(ds, steps))
        ours.append(gausslab_rate(ds, steps))
    result = {
        "gausslab_steps_per_s": max(ours),
        "hand_loop_steps_per_s": max(hand),
        "ratio_vs_hand_loop": median_ratio(ours, hand),
    }
    print(table([result], f"GAN step throughput on ring8, default GANConfig, batch {BATCH} "
                          f"({rounds} interleaved rounds: best rates, median per-round ratio, {torch.get_num_threads()} threads)"))
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    main(args.steps, args.rounds)
