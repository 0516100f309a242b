"""VAE training throughput: gausslab.fit vs a minimal hand-written PyTorch loop (and pythae, if installed).

MLP VAE 784-512-512-32 (Bernoulli likelihood), batch 128, Adam 1e-3, random binary data, same process.
Also the fraction of the machine's float32 GEMM peak the loop reaches (FLOPs counted per sample:
forward 2*MACs, backward 4*MACs of the linear layers).
"""

from __future__ import annotations

import argparse
import io
import logging
import math
import time
from contextlib import redirect_stderr, redirect_stdout

import torch
import torch.nn.functional as F

import gausslab as gl
from benchmarks.common import best_of, fit_steps_per_s, gemm_peak_flops, median_ratio, table
from gausslab.data.dataset import Dataset

LAYERS = [784, 512, 512, 32]


def data(n: int) -> Dataset:
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(n, 1, 28, 28, generator=g) < 0.3).float()
    return Dataset("random-784", x, x[:256], "image")


def flops_per_sample() -> float:
    enc = sum(a * b for a, b in zip(LAYERS[:-2], LAYERS[1:-1])) + LAYERS[-2] * 2 * LAYERS[-1]
    dec = sum(a * b for a, b in zip(LAYERS[::-1][:-1], LAYERS[::-1][1:]))
    return 6.0 * (enc + dec)  # 2 (fwd) + 4 (bwd) FLOPs per multiply-accumulate


def gemm_ceiling_rate(repeats: int = 20) -> float:
    """Samples/s if a step did nothing but its GEMMs: per layer the forward product and the two
    backward ones (weight and input gradients), at batch 128. The roofline of this architecture."""
    shapes = list(zip(LAYERS[:-2], LAYERS[1:-1])) + [(LAYERS[-2], 2 * LAYERS[-1])]
    shapes += list(zip(LAYERS[::-1][:-1], LAYERS[::-1][1:]))
    mats = [(torch.randn(128, a), torch.randn(b, a), torch.randn(128, b)) for a, b in shapes]

    def step():
        for x, w, g in mats:
            x @ w.T, g.T @ x, g @ w

    step()
    return 128 / best_of(step, repeats)


def gausslab_rate(ds: Dataset, steps: int, amp: str = "off") -> float:
    model = gl.build_model("vae", ds, latent_dim=32, hidden=(512, 512), arch="mlp")
    return 128 * fit_steps_per_s(model, ds, steps, 128, warmup=5, amp=amp)


def negative_elbo(enc, dec, x: torch.Tensor) -> torch.Tensor:
    """Batch-mean -ELBO of the Bernoulli VAE with a N(0, I) prior, as a user writes it."""
    mu, raw = enc(x).chunk(2, -1)
    std = F.softplus(raw) + 1e-5
    z = mu + std * torch.randn_like(std)
    recon = -F.binary_cross_entropy_with_logits(dec(z), x, reduction="none").flatten(1).sum(1)
    kl = 0.5 * (mu**2 + std**2 - 1).sum(1) - torch.log(std).sum(1)
    return (kl - recon).mean()


def hand_loop(enc, dec, opt, train: torch.Tensor, test: torch.Tensor, steps: int) -> float:
    """Samples/s of the plain PyTorch loop: shuffled batches of 128, Adam, and the test ELBO after
    every epoch and at the end (the work `fit` does besides its steps)."""
    n_batches = math.ceil(train.shape[0] / 128)
    t0 = time.perf_counter()
    for s in range(steps):
        i = s % n_batches
        if i == 0:
            perm = torch.randperm(train.shape[0])
        loss = negative_elbo(enc, dec, train[perm[i * 128 : (i + 1) * 128]])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if i == n_batches - 1 or s == steps - 1:
            with torch.no_grad():
                negative_elbo(enc, dec, test).item()
    return steps * 128 / (time.perf_counter() - t0)


def hand_rate(ds: Dataset, steps: int) -> float:
    """The plain loop over networks built by hand: same layers, loss, optimiser and batching."""
    def mlp(sizes):
        layers = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
        return torch.nn.Sequential(*layers[:-1])

    enc, dec = mlp([784, 512, 512, 64]), mlp([32, 512, 512, 784])
    opt = torch.optim.Adam([*enc.parameters(), *dec.parameters()], lr=1e-3)
    train, test = ds.train.flatten(1), ds.test.flatten(1)
    hand_loop(enc, dec, opt, train, test, 5)  # warm-up
    return hand_loop(enc, dec, opt, train, test, steps)


def pythae_rate(ds: Dataset, steps: int) -> float | None:
    """pythae's own training step loop (BaseTrainer.train_step, one epoch of `steps` batches), same layers."""
    try:
        from pythae.data.datasets import BaseDataset
        from pythae.models import VAE, VAEConfig
        from pythae.models.base.base_utils import ModelOutput
        from pythae.models.nn import BaseDecoder, BaseEncoder
        from pythae.trainers import BaseTrainer, BaseTrainerConfig
    except ImportError:
        return None

    class Encoder(BaseEncoder):
        def __init__(self):
            super().__init__()
            self.net = torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Linear(512, 512),
                                           torch.nn.ReLU(), torch.nn.Linear(512, 64))

        def forward(self, x):
            mu, log_var = self.net(x.flatten(1)).chunk(2, -1)
            return ModelOutput(embedding=mu, log_covariance=log_var)

    class Decoder(BaseDecoder):
        def __init__(self):
            super().__init__()
            self.net = torch.nn.Sequential(torch.nn.Linear(32, 512), torch.nn.ReLU(), torch.nn.Linear(512, 512),
                                           torch.nn.ReLU(), torch.nn.Linear(512, 784), torch.nn.Sigmoid())

        def forward(self, z):
            return ModelOutput(reconstruction=self.net(z).view(-1, 1, 28, 28))

    import tempfile

    config = VAEConfig(input_dim=(1, 28, 28), latent_dim=32, reconstruction_loss="bce")
    model = VAE(config, encoder=Encoder(), decoder=Decoder())
    x = ds.train[: steps * 128]
    logging.disable(logging.INFO)  # pythae's trainer logs its set-up at INFO
    try:
        with tempfile.TemporaryDirectory() as tmp, redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
            train_cfg = BaseTrainerConfig(output_dir=tmp, per_device_train_batch_size=128, num_epochs=1,
                                          learning_rate=1e-3, no_cuda=True, train_dataloader_num_workers=0)
            trainer = BaseTrainer(model, BaseDataset(x, torch.zeros(len(x))), training_config=train_cfg)
            trainer.prepare_training()  # what BaseTrainer.train does before its epoch loop
            t0 = time.perf_counter()
            trainer.train_step(1)
            return x.shape[0] / (time.perf_counter() - t0)
    finally:
        logging.disable(logging.NOTSET)


def conv_rates(ds: Dataset, steps: int, rounds: int) -> tuple[list[float], list[float]]:
    """Conv VAE on 28x28 (gausslab's default conv nets): gausslab.fit vs a hand loop over the same
    networks, `rounds` interleaved rounds after a warm-up."""
    model = gl.build_model("vae", ds, latent_dim=32, arch="conv")
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    fit_steps_per_s(model, ds, 3, 128)  # warm-up
    hand_loop(model.encoder, model.decoder, opt, ds.train, ds.test, 3)
    ours, theirs = [], []
    for _ in range(rounds):
        ours.append(128 * fit_steps_per_s(model, ds, steps, 128))
        theirs.append(hand_loop(model.encoder, model.decoder, opt, ds.train, ds.test, steps))
    return ours, theirs


def main(steps: int = 100, rounds: int = 8) -> dict:
    """Short interleaved rounds; ratios are medians of per-round ratios (see `median_ratio`), rates the best round."""
    ds = data(128 * steps)  # one epoch per round for every loop, pythae's included
    rates: dict[str, list[float]] = {"ours": [], "hand": [], "pythae": [], "peak": [], "ceiling": [], "bf16": []}
    for _ in range(rounds):
        rates["peak"].append(gemm_peak_flops())
        rates["ceiling"].append(gemm_ceiling_rate())
        rates["hand"].append(hand_rate(ds, steps))
        rates["ours"].append(gausslab_rate(ds, steps))
        rates["pythae"].append(pythae_rate(ds, steps))
        rates["bf16"].append(gausslab_rate(ds, steps, amp="bf16"))
    has_pythae = None not in rates["pythae"]
    result = {
        "gausslab_samples_per_s": max(rates["ours"]),
        "hand_loop_samples_per_s": max(rates["hand"]),
        "ratio_vs_hand_loop": median_ratio(rates["ours"], rates["hand"]),
        "pythae_samples_per_s": max(rates["pythae"]) if has_pythae else None,
        "ratio_vs_pythae": median_ratio(rates["ours"], rates["pythae"]) if has_pythae else None,
        "gemm_peak_gflops": max(rates["peak"]) / 1e9,
        "fraction_of_gemm_peak": median_ratio([r * flops_per_sample() for r in rates["ours"]], rates["peak"]),
        # the step's own GEMMs alone: what is left above this is Adam, activations and the loss
        "gemm_only_samples_per_s": max(rates["ceiling"]),
        "fraction_of_gemm_only": median_ratio(rates["ours"], rates["ceiling"]),
        # --set train.amp=bf16: autocast GEMMs in bfloat16 (fast where the CPU has AVX512-BF16/AMX)
        "bf16_samples_per_s": max(rates["bf16"]),
        "bf16_speedup": median_ratio(rates["bf16"], rates["ours"]),
    }
    conv_ours, conv_hand = conv_rates(ds, max(steps // 5, 10), rounds)
    result |= {"conv_gausslab_samples_per_s": max(conv_ours), "conv_hand_loop_samples_per_s": max(conv_hand),
               "conv_ratio_vs_hand_loop": median_ratio(conv_ours, conv_hand)}
    title = f"({rounds} interleaved rounds: best rates, median per-round ratios)"
    print(table([{k: v for k, v in result.items() if not k.startswith("conv")}],
                f"VAE MLP 784-512-512-32, batch 128 {title}"))
    print(table([{k: v for k, v in result.items() if k.startswith("conv")}], f"conv VAE 28x28, batch 128 {title}"))
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    main(args.steps, args.rounds)
