"""Your own data in an .npz file -> a VAE -> samples.

    python examples/own_npz_vae.py                       # 3,000 training steps
    python examples/own_npz_vae.py --steps 5 --out runs/npz-vae

`write_npz` stands in for your data: any .npz holding an array `x` (or `images`) shaped [N, H, W] or
[N, C, H, W] (uint8, or floats in [0, 1]) or [N, D] (vectors, used as given), and optionally labels `y`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

import gausslab as gl


def write_npz(path: Path, n: int = 2000, side: int = 12, seed: int = 0) -> None:
    """n 8-bit images of one bright bar each (a random row or column, random brightness), labels 0/1."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 40, size=(n, side, side), dtype=np.uint8)  # dim background noise
    y = rng.integers(0, 2, size=n)  # 0: horizontal bar, 1: vertical bar
    where, bright = rng.integers(0, side, size=n), rng.integers(150, 256, size=n)
    for i in range(n):
        if y[i]:
            x[i, :, where[i]] = bright[i]
        else:
            x[i, where[i], :] = bright[i]
    np.savez(path, x=x, y=y)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000, help="training steps")
    parser.add_argument("--out", type=Path, default=Path("runs/example-npz-vae"), help="output folder")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    write_npz(args.out / "my_data.npz")

    ds = gl.load_dataset(args.out / "my_data.npz")  # images scaled to [0, 1], split train / valid / test
    model = gl.build_model("vae", ds, latent_dim=4)
    # resume=True: running the script again continues (or reuses) the run instead of refusing the folder
    gl.fit(model, ds, gl.TrainConfig(steps=args.steps, batch_size=128), out=args.out / "run", resume=True)

    model = gl.load(args.out / "run")  # rebuilt from the run folder alone
    with torch.no_grad():
        samples = model.sample(16, generator=torch.Generator().manual_seed(0))  # [16, 1, 12, 12]
        terms = model(ds.test)  # per-example ELBO terms, nats
    np.save(args.out / "samples.npy", samples.numpy())
    print(f"data {ds.name}: {len(ds.train)} training images of shape {list(ds.shape)}")
    print(f"test ELBO {terms.elbo.mean():.2f} nats (reconstruction {terms.recon.mean():.2f}, KL {terms.kl.mean():.2f})")
    print(f"samples: {args.out / 'samples.npy'} {list(samples.shape)}; picture: {args.out / 'run' / 'samples.png'}")


if __name__ == "__main__":
    main()
