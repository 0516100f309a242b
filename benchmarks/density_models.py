"""Explicit densities in data space at a small budget: what an exact likelihood costs as models get richer.

Per-pixel histograms, Gaussian mixtures with full, diagonal and low-rank covariances (mixtures of
probabilistic PCA and of factor analysers), each on pixels and in RealNVP's logit space, and a
RealNVP coupling flow, all trained by `gausslab.fit` on the same data. Pixels are dequantized once
with a fixed seed, x = (k + u) / L for grey level k (`gausslab.data.discrete.dequantize`; L = the data
set's grey levels, 17 for `digits`, 256 for 8-bit images), so every model sees the same values, and
every figure is a density of those x: bits/dim of the discrete data is -log p / (D ln 2) + log2(L)
(`gausslab.metrics.nll.bits_per_dim`). Reports free parameters, fit seconds, and validation / test
log-likelihood (nats per example).

Run: python -m benchmarks.density_models [--data digits] [--levels L] [--flow-epochs 30] [--em-steps 100]
(`--data` takes any data set name or path that `gausslab.load_dataset` reads; `--levels` is needed
only for data without grey levels.)
"""

from __future__ import annotations

import argparse

import torch

import gausslab as gl
from benchmarks.common import table
from gausslab.data import Dataset
from gausslab.data.discrete import dequantize
from gausslab.metrics.nll import bits_per_dim

MIXTURES = [  # (label, GMMConfig fields) — each fitted on pixels and in logit space
    ("GMM full K=1", dict(components=1, covariance="full")),
    ("GMM full K=5", dict(components=5, covariance="full")),
    ("GMM diag K=10", dict(components=10, covariance="diag")),
    ("GMM diag K=50", dict(components=50, covariance="diag")),
    ("MPPCA K=10 q=4", dict(components=10, covariance="lowrank", rank=4)),
    ("MPPCA K=10 q=8", dict(components=10, covariance="lowrank", rank=8)),
    ("MFA K=10 q=4", dict(components=10, covariance="factor", rank=4)),
    ("MFA K=10 q=8", dict(components=10, covariance="factor", rank=8)),
]
FLOW = dict(layers=6, hidden=(128, 128))  # on digits its validation log-likelihood peaks at ~30 epochs


def dequantized(data: Dataset, levels: int, seed: int = 0) -> Dataset:
    """Every split dequantized once with one seeded generator; the copy has no `levels`, so the trainer
    fits these fixed values as they are instead of drawing fresh noise per batch."""
    g = torch.Generator().manual_seed(seed)
    parts = {name: dequantize(getattr(data, name), levels, g) for name in ("train", "valid", "test")}
    return Dataset(data.name, parts["train"], parts["test"], data.kind, valid=parts["valid"])


def run(label: str, kind: str, config: dict, data: Dataset, levels: int, train: gl.TrainConfig) -> dict:
    model = gl.build_model(kind, data, **config)
    result = gl.fit(model, data, train, progress=False)
    with torch.no_grad():
        valid = float(model.log_prob(data.valid).double().mean())
        test = float(model.log_prob(data.test).double().mean())
    return {"model": label, "params": int(model.n_parameters), "fit_s": round(result.wall_s, 1),
            "valid_ll": round(valid, 2), "test_ll": round(test, 2),
            "test_bits_per_dim": round(bits_per_dim(-test, data.dim, levels), 4)}


def main(data: str = "digits", levels: int | None = None, em_steps: int = 100, flow_epochs: int = 30) -> dict:
    raw = gl.load_dataset(data)
    levels = levels or raw.levels
    if levels is None:
        raise SystemExit(f"{data!r} has no grey levels (continuous data); pass --levels to dequantize it")
    ds = dequantized(raw, levels)
    em = gl.TrainConfig(epochs=em_steps, log_every=em_steps, checkpoint_every=em_steps, seed=0)
    rows = [run(f"histogram L={levels}", "histogram", {"levels": levels}, ds, levels,
                em.model_copy(update={"epochs": 1}))]
    for label, config in MIXTURES:
        for preprocess in ("none", "logit"):
            rows.append(run(f"{label} {preprocess}", "gmm", {**config, "preprocess": preprocess}, ds, levels, em))
    flow_train = gl.TrainConfig(epochs=flow_epochs, batch_size=128, lr=1e-3, seed=0, checkpoint_every=10**9,
                                log_every=10**9)
    flow_label = f"flow {FLOW['layers']}x{'-'.join(map(str, FLOW['hidden']))} logit, {flow_epochs} epochs"
    rows.append(run(flow_label, "flow", FLOW, ds, levels, flow_train))
    print(table(rows, f"Explicit densities on {data} (D = {ds.dim}, {len(ds.train)} training examples, "
                      f"dequantized with L = {levels}; log-likelihoods in nats per example)"))
    return {row["model"]: row for row in rows}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="digits")
    parser.add_argument("--levels", type=int, default=None, help="grey levels (default: the data set's own)")
    parser.add_argument("--em-steps", type=int, default=100)
    parser.add_argument("--flow-epochs", type=int, default=30)
    args = parser.parse_args()
    main(args.data, args.levels, args.em_steps, args.flow_epochs)
