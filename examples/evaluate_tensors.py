"""Evaluate samples from another library's model: gausslab's metrics take plain tensors or arrays.

    python examples/evaluate_tensors.py                  # ring8, 100 EM iterations
    python examples/evaluate_tensors.py --data digits    # images: FID/PRDC in domain features
    python examples/evaluate_tensors.py --steps 3

The "other library" here is scikit-learn's GaussianMixture; any generator works the same way:
draw samples as an array shaped like the data and hand them to the metrics.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from sklearn.mixture import GaussianMixture

import gausslab as gl
from gausslab.evaluation.features import extractor
from gausslab.metrics import fid, kid, mode_coverage, prdc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="ring8", help="built-in data set or a path")
    parser.add_argument("--steps", type=int, default=100, help="EM iterations of the other library's model")
    parser.add_argument("--out", type=Path, default=Path("runs/example-evaluate"), help="feature cache folder")
    args = parser.parse_args()

    ds = gl.load_dataset(args.data)
    other = GaussianMixture(8, max_iter=args.steps, random_state=0).fit(ds.train.flatten(1).numpy())
    fake = torch.as_tensor(other.sample(len(ds.test))[0], dtype=torch.float32).view(-1, *ds.shape)  # [N, *shape]
    if ds.kind == "image":
        fake = fake.clamp(0, 1)  # pixels live in [0, 1]

    # Raw coordinates for vectors; for images a small network trained on ds ("domain features", not Inception).
    features = extractor(ds, cache_dir=args.out)
    real_f, fake_f = features(ds.test), features(fake)
    scores = prdc(real_f, fake_f, k=5)
    print(f"features: {features.name}")
    print("precision {precision:.3f}  recall {recall:.3f}  density {density:.3f}  coverage {coverage:.3f}".format(**scores))
    print(f"FID {fid(real_f, fake_f):.4f}  KID {kid(real_f, fake_f).mean:.5f}")
    if ds.modes is not None:
        modes = mode_coverage(fake, ds)
        print(f"modes captured {modes.modes_captured} of {modes.n_modes}, high quality {modes.high_quality:.1f} %")


if __name__ == "__main__":
    main()
