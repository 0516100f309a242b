"""Data larger than memory: peak resident memory and samples/s of VAE training on lazy and in-memory data.

A 200,000 x 1 x 64 x 64 uint8 .npy (0.82 GB on disk, 3.3 GB as float32) is written in chunks, then
an MLP VAE trains on it through the public API with the file read from disk a batch at a time (`data.lazy`, chosen
automatically at this size); the same on a 20,000-example file held in memory and read lazily, in
interleaved rounds, for the speed comparison; and a folder of 2,000 PNG/JPEG images of mixed sizes
with data.resize=32, in memory, lazy, and lazy with one DataLoader worker decoding ahead
(train.loader_workers=1). Every run is its own process, which reports its peak
resident set (ru_maxrss, the whole process: interpreter, torch, model, data; a reading worker's peak
is given apart); `floor` is a process that only imports gausslab and torch.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import median_ratio, table

STEPS, BATCH, SIDE = 300, 128, 64


# The interleaved runs: key, data ("small": the 20k .npy, "folder": the images), data options, loader workers.
VARIANTS = (("memory", "small", {"lazy": False}, 0), ("lazy", "small", {"lazy": True}, 0),
            ("images_memory", "folder", {"lazy": False, "resize": 32}, 0),
            ("images_lazy", "folder", {"lazy": True, "resize": 32}, 0),
            ("images_workers", "folder", {"lazy": True, "resize": 32}, 1))


def write_npy(path: Path, n: int, seed: int = 0, chunk: int = 5_000) -> None:
    """n images [n, 1, 64, 64] uint8 of one soft blob each (random place, width, brightness), in chunks."""
    rng = np.random.default_rng(seed)
    grid = np.arange(SIDE, dtype=np.float32)
    with path.open("wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "|u1", "fortran_order": False, "shape": (n, 1, SIDE, SIDE)})
        for start in range(0, n, chunk):
            m = min(chunk, n - start)
            centre, width = rng.uniform(12, 52, (2, m, 1)), rng.uniform(3, 10, (m, 1))
            brightness = rng.uniform(0.5, 1.0, (m, 1, 1))
            ys, xs = (np.exp(-((grid - c) ** 2) / (2 * width**2)) for c in centre)  # each [m, 64]
            images = 255 * brightness * ys[:, :, None] * xs[:, None, :]  # [m, 64, 64]
            f.write(images.astype(np.uint8).tobytes())


def write_folder(folder: Path, n: int = 2_000, seed: int = 0) -> None:
    """n RGB images of sizes between 24 and 80 pixels a side, half PNG and half JPEG."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    folder.mkdir()
    for i in range(n):
        w, h = rng.integers(24, 81, 2)
        pixels = rng.integers(0, 256, (1, 1, 3)) * np.linspace(0.2, 1.0, w)[None, :, None]  # [1, w, 3]
        image = Image.fromarray(np.broadcast_to(pixels, (h, w, 3)).astype(np.uint8))
        image.save(folder / f"{i:04d}.{'png' if i % 2 else 'jpg'}")


def child(spec: dict) -> dict:
    """One measured run in this process: load the data as `spec` says, train, report peak RSS and rate."""
    import torch

    import gausslab as gl
    from gausslab.data import DataConfig, load_from_config
    from gausslab.data.lazy import LazyRows

    torch.set_num_threads(1)
    if spec.get("floor"):
        return {"peak_rss_mb": _peak_mb()}
    t0 = time.perf_counter()
    data = load_from_config(DataConfig(**spec["data"]))
    load_s = time.perf_counter() - t0
    model = gl.build_model("vae", data, latent_dim=16, hidden=(256,), arch="mlp")
    train = gl.TrainConfig(steps=STEPS, epochs=10_000, batch_size=BATCH, log_every=STEPS, checkpoint_every=10**9,
                           loader_workers=spec.get("workers", 0))
    result = gl.fit(model, data, train, progress=False)
    return {"lazy": isinstance(data.train, LazyRows), "train_examples": len(data.train), "load_s": round(load_s, 2),
            "samples_per_s": round(result.samples_per_s, 1), "peak_rss_mb": _peak_mb(),
            "worker_peak_rss_mb": _peak_mb(resource.RUSAGE_CHILDREN)}


def _peak_mb(who: int = resource.RUSAGE_SELF) -> float:
    """Peak resident set in MB of this process (RUSAGE_SELF) or of its largest finished child."""
    return round(resource.getrusage(who).ru_maxrss / 1024, 1)  # Linux: kB


def measure(spec: dict) -> dict:
    """`child(spec)` in a fresh process (so its peak memory is its own)."""
    out = subprocess.run([sys.executable, "-m", "benchmarks.data_scale", "--child", json.dumps(spec)],
                         check=True, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(rounds: int = 2) -> dict:
    """Peak memory and samples/s: 200k lazy, 20k in memory vs lazy (interleaved), 2,000 mixed-size images."""
    fractions = {"test_fraction": 0.01, "valid_fraction": 0.01}
    with tempfile.TemporaryDirectory() as tmp:
        big, small, folder = Path(tmp, "big.npy"), Path(tmp, "small.npy"), Path(tmp, "images")
        t0 = time.perf_counter()
        write_npy(big, 200_000)
        write_npy(small, 20_000)
        write_folder(folder)
        written_s = time.perf_counter() - t0
        floor = measure({"floor": True})
        large = measure({"data": {"name": str(big), **fractions}})
        runs: dict[str, list[dict]] = {key: [] for key, *_ in VARIANTS}
        for _ in range(rounds):
            for key, name, extra, workers in VARIANTS:
                path = {"small": small, "folder": folder}[name]
                runs[key].append(measure({"data": {"name": str(path), **fractions, **extra}, "workers": workers}))
    rate = {key: [r["samples_per_s"] for r in rs] for key, rs in runs.items()}
    result = {
        "write_s": round(written_s, 1),
        "floor_peak_rss_mb": floor["peak_rss_mb"],
        "lazy_200k_peak_rss_mb": large["peak_rss_mb"],
        "lazy_200k_samples_per_s": large["samples_per_s"],
        "lazy_200k_load_s": large["load_s"],
        "lazy_200k_was_lazy": large["lazy"],
        "memory_20k_peak_rss_mb": max(r["peak_rss_mb"] for r in runs["memory"]),
        "memory_20k_samples_per_s": max(rate["memory"]),
        "lazy_20k_peak_rss_mb": max(r["peak_rss_mb"] for r in runs["lazy"]),
        "lazy_20k_samples_per_s": max(rate["lazy"]),
        "lazy_vs_memory_speed": round(median_ratio(rate["lazy"], rate["memory"]), 3),
        "images_memory_peak_rss_mb": max(r["peak_rss_mb"] for r in runs["images_memory"]),
        "images_memory_samples_per_s": max(rate["images_memory"]),
        "images_memory_load_s": min(r["load_s"] for r in runs["images_memory"]),
        "images_lazy_peak_rss_mb": max(r["peak_rss_mb"] for r in runs["images_lazy"]),
        "images_lazy_samples_per_s": max(rate["images_lazy"]),
        "images_lazy_vs_memory_speed": round(median_ratio(rate["images_lazy"], rate["images_memory"]), 3),
        "images_workers_peak_rss_mb": max(r["peak_rss_mb"] for r in runs["images_workers"]),
        "images_workers_worker_peak_rss_mb": max(r["worker_peak_rss_mb"] for r in runs["images_workers"]),
        "images_workers_samples_per_s": max(rate["images_workers"]),
        "images_workers_vs_lazy_speed": round(median_ratio(rate["images_workers"], rate["images_lazy"]), 3),
    }
    print(table([{"figure": k, "value": v} for k, v in result.items()],
                f"MLP VAE 4096-256-16 (3072-256-16 on images), batch {BATCH}, {STEPS} steps, one thread, one process "
                f"per run (best of {rounds} interleaved rounds, median ratios)"))
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", help="run one measurement (JSON spec) and print its result")
    args = parser.parse_args()
    print(json.dumps(child(json.loads(args.child)) if args.child else main()))
