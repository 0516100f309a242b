"""What the prior costs: VAEs with each prior on digits, ex-post sampling, and GMM k-sweeps.

1. VAEs with every prior in PRIORS, same architecture and budget, several seeds: test NLL
   (IWAE bound, k importance samples), rate (mean KL), distortion (mean -log p(x|z)).
2. Ex-post sampling (Ghosh et al. 2020): a 10-component full-covariance GMM on the training
   codes, against sampling the prior. Sample-quality proxy, in data space: mean Euclidean
   distance from a decoded sample (the decoder's mean image) to its nearest test image (lower
   = closer to real digits). L2 favours smooth mean images, so compare the prior and ex-post
   columns with each other; the row `real` (training images) only gives the scale. Latent
   proxy: `holes_*_%`, the percentage of latent draws where the exact aggregate posterior
   q(z) = mean_n q(z|x_n) of the training set lies below its 1st percentile at held-out codes
   z ~ q(z|x_test) (the "holes" of Rosca et al. 2018); draws from q(z) itself score about 1%.
3. GMM k-sweeps (EM through the same trainer) on ring8 (2-D, exact density known) and on
   digits (64-D): test log-likelihood vs mixture size, parameters and fit time.

Run: python -m benchmarks.priors [--epochs 150] [--seeds 3] [--k 1000]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import gausslab as gl
from benchmarks.common import mean_sd, on_one_thread, table
from gausslab.data import Dataset
from gausslab.evaluation.evaluate import evaluate
from gausslab.training.fitting import k_sweep
from gausslab.blocks.priors import PRIORS, diagonal_mixture_log_prob
from gausslab.samplers import ExPostSampler

ARCH = dict(latent_dim=8, hidden=(128, 128), prior_components=10, flow_layers=4)
N_SAMPLES = 1000


def nearest_test_distance(x: torch.Tensor, test: torch.Tensor) -> float:
    """Mean distance from each row of x [N, *shape] to its nearest test example."""
    return float(torch.cdist(x.flatten(1), test.flatten(1)).min(1).values.mean())


def hole_percent(z: torch.Tensor, model, data: Dataset) -> float:
    """Percentage of latents z [N, D] that land where no data is encoded (in a prior hole).

    That is, where the training set's aggregate posterior q(z) = mean_n q(z|x_n) is lower than at
    99% of held-out codes z ~ q(z|x_test).
    """
    q = model.encode(data.train)  # loc, scale [N, D]: q(z) is exactly this equal-weight mixture
    uniform = torch.zeros(len(q.loc))

    def log_q(points: torch.Tensor) -> torch.Tensor:
        return torch.cat([diagonal_mixture_log_prob(c, q.loc, q.scale, uniform) for c in points.split(256)])

    floor = torch.quantile(log_q(model.encode(data.test).sample()), 0.01)
    return 100 * float((log_q(z) < floor).double().mean())


@torch.no_grad()
def assess(model, data: Dataset, k: int, seed: int) -> dict[str, float]:
    """NLL, rate and distortion on the test split; prior vs ex-post samples."""
    nll = evaluate(model, data, k=k, seed=seed).values["nll_iwae"]
    torch.manual_seed(seed)
    terms = model.elbo(data.test)
    sampler = ExPostSampler.fit(model, data, k=10, covariance="full", seed=seed)
    z_prior = model.prior.sample(N_SAMPLES, generator=torch.Generator().manual_seed(seed))
    z_post = sampler.sample(N_SAMPLES, generator=torch.Generator().manual_seed(seed))
    return {
        "nll": nll, "rate": float(terms.kl.mean()), "distortion": float(-terms.recon.mean()),
        "nn_prior": nearest_test_distance(model.decode(z_prior), data.test),
        "nn_expost": nearest_test_distance(model.decode(z_post), data.test),
        "holes_prior_%": hole_percent(z_prior, model, data),
        "holes_expost_%": hole_percent(z_post, model, data),
    }


def train_vae(prior: str, data: Dataset, epochs: int, seed: int):
    model = gl.build_model("vae", data, seed=seed, prior=prior, **ARCH)
    gl.fit(model, data, gl.TrainConfig(epochs=epochs, batch_size=128, seed=seed, log_every=10**6), progress=False)
    return model.eval()


def prior_table(data: Dataset, epochs: int, seeds: int, k: int) -> dict[str, dict[str, float]]:
    rows, figures = [], {}
    for prior in PRIORS:
        start = time.perf_counter()
        runs = [assess(train_vae(prior, data, epochs, s), data, k, s) for s in range(seeds)]
        seconds = (time.perf_counter() - start) / seeds
        keys = runs[0].keys()
        figures[prior] = {key: statistics.mean(r[key] for r in runs) for key in keys} | {"seconds_per_seed": seconds}
        rows.append({"prior": prior, **{key: mean_sd([r[key] for r in runs]) for key in keys},
                     "wall_s/seed": round(seconds, 1)})
    real = nearest_test_distance(data.train[:N_SAMPLES], data.test)
    rows.append({"prior": "real", "nn_prior": f"{real:.2f}", "nn_expost": f"{real:.2f}"})
    figures["real_nn"] = real
    title = (f"VAE priors on {data.name}: latent {ARCH['latent_dim']}, MLP {ARCH['hidden']}, {epochs} epochs, "
             f"{seeds} seeds (mean ± sd); nll = IWAE k={k} (nats), rate/distortion in nats; "
             f"nn_* = mean L2 to nearest test image of {N_SAMPLES} decoded samples (prior vs ex-post GMM, "
             "k=10, full); holes_*_% = percentage of those latents below the 1st percentile of held-out codes' "
             "aggregate-posterior density")
    print(table([{key: r.get(key, "") for key in rows[0]} for r in rows], title), "\n", flush=True)
    return figures


def sweep_table(data: Dataset, ks: list[int], covariances: list[str], steps: int, **config) -> dict[str, list]:
    figures, rows = {}, []
    for covariance in covariances:
        points = k_sweep(data, ks, covariance=covariance, steps=steps, **config)
        figures[covariance] = [vars(p) for p in points]
        rows += [{"covariance": covariance, **vars(p)} for p in points]
    exact = f"; exact test log-likelihood {float(data.log_prob(data.test).mean()):.3f}" if data.log_prob else ""
    options = ", ".join(f"{k}={v}" for k, v in config.items())
    title = (f"GMM k-sweep on {data.name} (D={data.dim}, {len(data.train)} train / {len(data.test)} test, "
             f"{steps} EM steps{', ' + options if options else ''}){exact}; test_log_likelihood in nats per example")
    print(table(rows, title), "\n", flush=True)
    return figures


def main(argv: list[str] | None = ()) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=150, help="VAE training epochs (12 steps each on digits)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--k", type=int, default=1000, help="IWAE importance samples")
    parser.add_argument("--em-steps", type=int, default=100)
    args = parser.parse_args(argv)
    return on_one_thread(lambda: run(args))  # 128-wide MLPs on batches of 128


def run(args: argparse.Namespace) -> dict:
    start = time.perf_counter()
    digits = gl.load_dataset("digits")
    figures = {
        "vae_priors": prior_table(digits, args.epochs, args.seeds, args.k),
        "gmm_ring8": sweep_table(gl.load_dataset("ring8"), [1, 2, 4, 8, 16], ["full"], args.em_steps),
        "gmm_digits": sweep_table(digits, [1, 2, 5, 10, 20, 40], ["full", "diag"], args.em_steps, reg_covar=1e-3),
    }
    figures["seconds"] = time.perf_counter() - start
    print(f"total {figures['seconds']:.0f} s")
    return figures


if __name__ == "__main__":
    main(None)
