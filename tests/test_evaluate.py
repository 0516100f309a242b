"""`evaluate`: the metrics that apply to each model and data kind, DESIGN's flat keys, seeded, subsettable."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

import gausslab as gl
import gausslab.metrics.features as features
from gausslab.errors import ConfigError
from gausslab.evaluate import METRICS, evaluate
from gausslab.metrics import fid, kid, prdc
from tests.conftest import tiny_images, tiny_vectors

PRDC = ["precision", "recall", "density", "coverage"]
VAE_IMAGE_KEYS = {
    "elbo", "nll_iwae", "bits_per_dim", "rate", "distortion", "active_units", "mutual_info", "marginal_kl",
    "prior_holes", "collapsed", *PRDC, "fid_domain", "kid_domain", *(f"{m}_vs_recon" for m in PRDC),
    *(f"latent_{m}" for m in PRDC), "n_real", "n_generated", "kid_subset_size", "hole_draws",
}


@pytest.fixture(autouse=True)
def quick_features(monkeypatch):
    monkeypatch.setitem(features.RECIPE, "steps", 10)


def test_vae_on_images_gets_every_design_key(tmp_path):
    data = tiny_images()
    model = gl.build_model("vae", data, latent_dim=2)
    result = evaluate(model, data, k=20, cache_dir=tmp_path, n_generated=150, hole_draws=500)
    record = result.to_dict()
    assert set(record) == VAE_IMAGE_KEYS | {"model", "data", "gausslab_version"}
    assert (record["n_real"], record["n_generated"], record["hole_draws"]) == (len(data.test), 150, 500)
    assert record["kid_subset_size"] == min(len(data.test), 150)  # never larger than either set
    assert result.per_example["test_nll"].shape == (len(data.test),)
    assert record["nll_iwae"] == pytest.approx(float(result.per_example["test_nll"].astype(float).mean()), rel=1e-6)
    assert result.per_example["prior_holes"].dtype == bool and len(result.per_example["prior_holes"]) == 500
    assert record["prior_holes"] == result.per_example["prior_holes"].mean()
    assert record["model"] == "vae" and record["data"] == data.name and record["gausslab_version"] == gl.__version__
    assert isinstance(record["active_units"], int) and isinstance(record["collapsed"], bool)
    assert record["bits_per_dim"] == pytest.approx(record["nll_iwae"] / (64 * math.log(2)))
    assert all(math.isfinite(v) for k, v in record.items() if isinstance(v, float))
    json.dumps(record)
    assert (tmp_path / "features.safetensors").exists() and not list(tmp_path.glob("*.p*kl*"))


def test_subset_seeding_and_global_rng():
    data = tiny_images()
    model = gl.build_model("vae", data, latent_dim=2)
    torch.manual_seed(7)
    state = torch.random.get_rng_state()
    a = evaluate(model, data, metrics=["nll_iwae", "elbo"], k=10).to_dict()
    assert torch.equal(torch.random.get_rng_state(), state)
    assert set(a) == {"model", "data", "gausslab_version", "nll_iwae", "bits_per_dim", "elbo"}
    assert evaluate(model, data, metrics=["elbo", "nll_iwae"], k=10).to_dict() == a


def test_unknown_metric_is_a_config_error():
    data = tiny_vectors()
    with pytest.raises(ConfigError, match="did you mean 'prdc'"):
        evaluate(gl.build_model("gmm", data, components=2), data, metrics=["prdcc"])


def test_gan_gets_sample_metrics_equal_to_direct_computation():
    data = tiny_vectors()
    model = gl.build_model("gan", data)
    record = evaluate(model, data, seed=3, n_generated=300).to_dict()
    assert set(record) - {"model", "data", "gausslab_version"} == {*PRDC, "fid_domain", "kid_domain", "n_real",
                                                                   "n_generated", "kid_subset_size"}
    with torch.no_grad():
        g = torch.Generator().manual_seed(3)
        fake = torch.cat([model.sample(256, generator=g), model.sample(44, generator=g)])  # drawn in batches of 256
    want = prdc(data.test, fake, 5)
    assert all(record[key] == want[key] for key in PRDC)  # vectors: raw coordinates
    assert (record["n_real"], record["n_generated"]) == (len(data.test), 300)
    assert record["fid_domain"] == pytest.approx(fid(data.test, fake), rel=1e-10)
    size = min(len(data.test), 300)
    assert record["kid_domain"] == pytest.approx(kid(data.test, fake, subset_size=size, seed=3).mean, rel=1e-10)


def test_gmm_test_log_likelihood_is_the_mean_exact_density():
    data = tiny_vectors()
    model = gl.build_model("gmm", data, components=2)
    gl.fit(model, data, gl.TrainConfig(steps=5), progress=False)
    record = evaluate(model, data, metrics=["test_log_likelihood", "elbo"]).to_dict()
    assert record["test_log_likelihood"] == pytest.approx(model.log_prob(data.test.double()).mean().item())
    assert "elbo" not in record  # does not apply to a GMM


def test_factors_add_mig_and_dci():
    data = tiny_images(n=160)
    g = torch.Generator().manual_seed(0)
    data.test_factors = torch.randint(0, 3, (len(data.test), 2), generator=g).float()
    model = gl.build_model("vae", data, latent_dim=3)
    record = evaluate(model, data, metrics=["disentanglement"]).to_dict()
    keys = {"mig", "dci_disentanglement", "dci_completeness", "dci_informativeness"}
    assert keys <= set(record) and all(0 <= record[k] <= 1 + 1e-12 for k in keys)


def test_mixture_toy_gets_mode_coverage():
    data = gl.load_dataset("ring8", n=400)
    model = gl.build_model("gmm", data, components=8)
    gl.fit(model, data, gl.TrainConfig(steps=20), progress=False)
    record = evaluate(model, data, metrics=["toy", "test_log_likelihood"]).to_dict()
    assert {"modes_captured", "high_quality", "reverse_kl", "test_log_likelihood"} <= set(record)
    assert np.isfinite(record["test_log_likelihood"])


def test_registry_names():
    assert set(METRICS) == {"elbo", "nll_iwae", "latent", "prdc", "fid", "kid", "latent_fidelity", "disentanglement",
                            "toy", "test_log_likelihood"}
