"""VAE training throughput: gausslab.fit vs a minimal hand-written PyTorch loop (and pythae, if installed).

MLP VAE 784-512-512-32 (Bernoulli likelihood), batch 128, Adam 1e-3, random binary data, same process.
Also the fraction of the machine's float32 GEMM peak the loop reaches (FLOPs counted per sample:
forward 2*MACs, backward 4*MACs of the linear layers).
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

import gausslab as gl
from benchmarks.common import gemm_peak_flops, table
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


def gausslab_rate(ds: Dataset, steps: int) -> float:
    model = gl.build_model("vae", ds, latent_dim=32, hidden=(512, 512), arch="mlp")
    cfg = gl.TrainConfig(steps=steps, epochs=10_000, batch_size=128, log_every=steps, checkpoint_every=10**9)
    gl.fit(model, ds, cfg.model_copy(update={"steps": 5}), progress=False)  # warm-up
    t0 = time.perf_counter()
    gl.fit(model, ds, cfg, progress=False)
    return steps * 128 / (time.perf_counter() - t0)


def hand_rate(ds: Dataset, steps: int) -> float:
    """The plain PyTorch loop a user would write: same layers, loss, optimiser and batching."""
    def mlp(sizes):
        layers = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
        return torch.nn.Sequential(*layers[:-1])

    enc, dec = mlp([784, 512, 512, 64]), mlp([32, 512, 512, 784])
    opt = torch.optim.Adam([*enc.parameters(), *dec.parameters()], lr=1e-3)
    x_all = ds.train.flatten(1)

    def step(idx):
        x = x_all[idx]
        mu, raw = enc(x).chunk(2, -1)
        std = F.softplus(raw) + 1e-5
        z = mu + std * torch.randn_like(std)
        recon = -F.binary_cross_entropy_with_logits(dec(z), x, reduction="none").sum(1)
        kl = 0.5 * (mu**2 + std**2 - 1).sum(1) - torch.log(std).sum(1)
        loss = (kl - recon).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    perm = torch.randperm(x_all.shape[0])
    for i in range(5):
        step(perm[i * 128 : (i + 1) * 128])
    t0 = time.perf_counter()
    n_batches = x_all.shape[0] // 128
    for s in range(steps):
        i = s % n_batches
        if i == 0:
            perm = torch.randperm(x_all.shape[0])
        step(perm[i * 128 : (i + 1) * 128])
    return steps * 128 / (time.perf_counter() - t0)


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
    with tempfile.TemporaryDirectory() as tmp:
        train_cfg = BaseTrainerConfig(output_dir=tmp, per_device_train_batch_size=128, num_epochs=1,
                                      learning_rate=1e-3, no_cuda=True, train_dataloader_num_workers=0)
        trainer = BaseTrainer(model, BaseDataset(x, torch.zeros(len(x))), training_config=train_cfg)
        trainer.prepare_training()  # what BaseTrainer.train does before its epoch loop
        t0 = time.perf_counter()
        trainer.train_step(1)
        return x.shape[0] / (time.perf_counter() - t0)


def conv_rates(ds: Dataset, steps: int) -> tuple[float, float]:
    """Conv VAE on 28x28 (gausslab's default conv nets): gausslab.fit vs a hand loop over the same networks."""
    model = gl.build_model("vae", ds, latent_dim=32, arch="conv")
    cfg = gl.TrainConfig(steps=steps, epochs=10_000, batch_size=128, log_every=steps, checkpoint_every=10**9)
    t0 = time.perf_counter()
    gl.fit(model, ds, cfg, progress=False)
    ours = steps * 128 / (time.perf_counter() - t0)
    enc, dec = model.encoder, model.decoder
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    t0 = time.perf_counter()
    for s in range(steps):
        x = ds.train[(s * 128) % (ds.train.shape[0] - 128):][:128]
        mu, raw = enc(x).chunk(2, -1)
        std = F.softplus(raw) + 1e-5
        z = mu + std * torch.randn_like(std)
        recon = -F.binary_cross_entropy_with_logits(dec(z), x, reduction="none").flatten(1).sum(1)
        loss = (0.5 * (mu**2 + std**2 - 1).sum(1) - torch.log(std).sum(1) - recon).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return ours, steps * 128 / (time.perf_counter() - t0)


def main(steps: int = 300, rounds: int = 3) -> dict:
    ds = data(128 * 40)
    peak = gemm_peak_flops()
    ours, hand, theirs = [], [], []
    for _ in range(rounds):  # interleaved so all see the same machine load
        hand.append(hand_rate(ds, steps))
        ours.append(gausslab_rate(ds, steps))
        theirs.append(pythae_rate(ds, min(steps, 40)))
    best_ours, best_hand = max(ours), max(hand)
    best_theirs = max(theirs) if None not in theirs else None
    result = {
        "gausslab_samples_per_s": best_ours,
        "hand_loop_samples_per_s": best_hand,
        "ratio_vs_hand_loop": best_ours / best_hand,
        "pythae_samples_per_s": best_theirs,
        "ratio_vs_pythae": best_ours / best_theirs if best_theirs else None,
        "gemm_peak_gflops": peak / 1e9,
        "fraction_of_gemm_peak": best_ours * flops_per_sample() / peak,
    }
    conv_ours, conv_hand = conv_rates(ds, max(steps // 10, 10))
    result |= {"conv_gausslab_samples_per_s": conv_ours, "conv_hand_loop_samples_per_s": conv_hand,
               "conv_ratio_vs_hand_loop": conv_ours / conv_hand}
    print(table([{k: v for k, v in result.items() if not k.startswith("conv")}],
                "VAE MLP 784-512-512-32, batch 128 (best of rounds)"))
    print(table([{k: v for k, v in result.items() if k.startswith("conv")}], "conv VAE 28x28, batch 128"))
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=300)
    main(parser.parse_args().steps)
