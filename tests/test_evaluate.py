"""`evaluate`: the metrics that apply to each model and data kind, DESIGN's flat keys, seeded, subsettable."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

import gausslab as gl
import gausslab.metrics.features as features
from gausslab.data.dataset import Dataset
from gausslab.errors import ConfigError
from gausslab.evaluate import METRICS, evaluate
from gausslab.metrics import fid, kid, prdc
from gausslab.models.base import GenerativeModel
from tests.conftest import tiny_images, tiny_vectors

PRDC = ["precision", "recall", "density", "coverage"]
VAE_IMAGE_KEYS = {
    "elbo", "nll_iwae", "bits_per_dim", "rate", "distortion", "active_units", "mutual_info", "marginal_kl",
    "prior_holes", "collapsed", *PRDC, "fid_domain", "kid_domain", *(f"{m}_vs_recon" for m in PRDC),
    *(f"latent_{m}" for m in PRDC),
}


@pytest.fixture(autouse=True)
def quick_features(monkeypatch):
    monkeypatch.setitem(features.RECIPE, "steps", 10)


def test_vae_on_images_gets_every_design_key(tmp_path):
    data = tiny_images()
    model = gl.build_model("vae", data, latent_dim=2)
    record = evaluate(model, data, k=20, cache_dir=tmp_path).to_dict()
    assert set(record) == VAE_IMAGE_KEYS | {"model", "data", "gausslab_version"}
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
    record = evaluate(model, data, seed=3).to_dict()
    assert set(record) - {"model", "data", "gausslab_version"} == {*PRDC, "fid_domain", "kid_domain"}
    with torch.no_grad():
        fake = model.sample(len(data.test), generator=torch.Generator().manual_seed(3))
    want = prdc(data.test, fake, 5)
    assert all(record[key] == want[key] for key in PRDC)  # vectors: raw coordinates
    assert record["fid_domain"] == pytest.approx(fid(data.test, fake), rel=1e-10)
    assert record["kid_domain"] == pytest.approx(kid(data.test, fake, seed=3).mean, rel=1e-10)


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


class FixedDensity(GenerativeModel):
    """A density model with no training: independent N(loc, scale^2) pixels, or uniform on [0, 1)^D."""

    def __init__(self, shape, loc: float | None = None, scale: float = 1.0):
        super().__init__()
        self.shape, self.loc, self.scale, self.config = shape, loc, scale, gl.GMMConfig()
        self.register_buffer("_anchor", torch.zeros(()))

    def log_prob(self, x):
        if self.loc is None:
            return torch.zeros(len(x), dtype=x.dtype)
        return torch.distributions.Normal(self.loc, self.scale).log_prob(x).flatten(1).sum(1)

    def sample(self, n, generator=None):
        return torch.rand(n, *self.shape, generator=generator)


def grey_images(n: int = 4000, levels: int = 17) -> Dataset:
    k = torch.randint(levels, (n, 1, 2, 2), generator=torch.Generator().manual_seed(0)).float()
    return Dataset("grey", k[:10] / (levels - 1), k / (levels - 1), "image", levels=levels)


def test_a_uniform_density_scores_exactly_log2_levels_bits_per_dim():
    for levels in (17, 256):
        data = grey_images(levels=levels)
        record = evaluate(FixedDensity((1, 2, 2)), data, metrics=["test_log_likelihood"]).to_dict()
        assert record["test_log_likelihood"] == 0 and record["bits_per_dim"] == math.log2(levels)


def test_a_gaussian_density_scores_its_closed_form_on_dequantized_levels():
    # E over u ~ U[0, 1) of -log N((k + u)/L; m, s^2) = log(2 pi s^2)/2 + (((k + 1/2)/L - m)^2 + 1/(12 L^2)) / (2 s^2)
    data, m, s, levels = grey_images(), 0.45, 0.3, 17
    record = evaluate(FixedDensity((1, 2, 2), m, s), data, metrics=["test_log_likelihood"], n=4000).to_dict()
    k = (data.test * (levels - 1)).round()
    centre_sq = (((k + 0.5) / levels - m) ** 2).mean().item()
    per_dim = 0.5 * math.log(2 * math.pi * s**2) + (centre_sq + 1 / (12 * levels**2)) / (2 * s**2)
    assert record["bits_per_dim"] == pytest.approx(per_dim / math.log(2) + math.log2(levels), abs=2e-3)
    stored = -torch.distributions.Normal(m, s).log_prob(data.test).sum((1, 2, 3)).mean().item()
    assert -record["test_log_likelihood"] != pytest.approx(stored, abs=1e-3)  # scored on dequantized values


def test_a_bernoulli_vae_on_grey_levels_is_scored_on_binarized_data_under_its_own_key():
    grey = grey_images(200)
    model = gl.build_model("vae", grey, latent_dim=2, hidden=(8,), likelihood="bernoulli")
    record = evaluate(model, grey, metrics=["nll_iwae", "elbo"], k=5).to_dict()
    assert {"nll_bernoulli_binarized", "elbo"} <= set(record) and not {"nll_iwae", "bits_per_dim"} & set(record)
    binary = Dataset("binary", (grey.train > 0.5).float(), (grey.test > 0.5).float(), "image", levels=2)
    model = gl.build_model("vae", binary, latent_dim=2, hidden=(8,))  # auto: Bernoulli, a proper mass here
    record = evaluate(model, binary, metrics=["nll_iwae"], k=5).to_dict()
    assert record["bits_per_dim"] == record["nll_iwae"] / (4 * math.log(2))


def test_a_model_of_other_grey_levels_is_refused():
    model = gl.build_model("vae", grey_images(100, levels=17), latent_dim=2, hidden=(8,))
    with pytest.raises(ConfigError, match="17 grey levels"):
        evaluate(model, grey_images(100, levels=256), metrics=["elbo"])
