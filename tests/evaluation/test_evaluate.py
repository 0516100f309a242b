"""`evaluate`: the metrics that apply to each model and data kind, DESIGN's flat keys, seeded, subsettable."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

import gausslab as gl
import gausslab.evaluation.features as features
from gausslab.core.errors import ConfigError, DataError
from gausslab.data.dataset import Dataset
from gausslab.evaluation.evaluate import METRICS, evaluate
from gausslab.metrics import fid, kid, prdc
from gausslab.models.base import GenerativeModel
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
    assert set(record) == VAE_IMAGE_KEYS | {"model", "data", "gausslab_version", "features"}
    assert record["features"] == "domain features (classifier trained on tiny-images)"
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
    assert set(record) - {"model", "data", "gausslab_version"} == {*PRDC, "fid_domain", "kid_domain", "features",
                                                                   "n_real", "n_generated", "kid_subset_size"}
    assert record["features"] == "raw coordinates"
    with torch.no_grad():
        g = torch.Generator().manual_seed(3)
        fake = torch.cat([model.sample(256, generator=g), model.sample(44, generator=g)])  # drawn in batches of 256
    want = prdc(data.test, fake, 5)
    assert all(record[key] == want[key] for key in PRDC)  # vectors: raw coordinates
    assert (record["n_real"], record["n_generated"]) == (len(data.test), 300)
    assert record["fid_domain"] == pytest.approx(fid(data.test, fake), rel=1e-10)
    size = min(len(data.test), 300)
    assert record["kid_domain"] == pytest.approx(kid(data.test, fake, subset_size=size, seed=3).mean, rel=1e-10)


def cubes(x: torch.Tensor) -> torch.Tensor:
    """A user's feature map [N, 2] -> [N, 3]."""
    return torch.cat([x, x.pow(3).sum(1, keepdim=True)], dim=1)


def test_own_features_callable_gives_metrics_in_that_space():
    data = tiny_vectors()
    model = gl.build_model("gan", data)
    record = evaluate(model, data, seed=3, features=cubes, metrics=["prdc", "fid", "kid"],
                      n_generated=len(data.test)).to_dict()
    assert record["features"] == "custom (tests.evaluation.test_evaluate.cubes)"
    assert "fid_domain" not in record and "kid_domain" not in record
    with torch.no_grad():
        fake = model.sample(len(data.test), generator=torch.Generator().manual_seed(3))
    real_f, fake_f = cubes(data.test), cubes(fake)
    assert record["fid_custom"] == pytest.approx(fid(real_f, fake_f), rel=1e-10)
    assert record["kid_custom"] == pytest.approx(kid(real_f, fake_f, seed=3).mean, rel=1e-10)
    assert all(record[key] == value for key, value in prdc(real_f, fake_f, 5).items())


def test_features_are_named_only_when_used_and_checked():
    data = tiny_vectors()
    model = gl.build_model("gmm", data, components=2)
    assert "features" not in evaluate(model, data, metrics=["test_log_likelihood"]).to_dict()
    with pytest.raises(ConfigError, match="unknown feature space 'domian' \\(did you mean 'domain'\\?\\)"):
        evaluate(model, data, metrics=["fid"], features="domian")
    with pytest.raises(DataError, match="one row per example"):
        evaluate(model, data, metrics=["fid"], features=lambda x: x.sum())


def test_gmm_test_log_likelihood_is_the_mean_exact_density():
    data = tiny_vectors()
    model = gl.build_model("gmm", data, components=2)
    gl.fit(model, data, gl.TrainConfig(steps=5), progress=False)
    record = evaluate(model, data, metrics=["test_log_likelihood", "elbo"]).to_dict()
    assert record["test_log_likelihood"] == pytest.approx(model.log_prob(data.test.double()).mean().item())
    assert "elbo" not in record  # does not apply to a GMM


def grid_codes_vae(perm: list[int]) -> tuple[gl.models.VAE, Dataset]:
    """Test rows: every combination of 4 levels in 5 columns (1,024 rows, so the columns are exactly
    independent). The VAE's encoder returns columns 0-2 in the order `perm` as its codes (std 0.1)."""
    levels = torch.cartesian_prod(*[torch.arange(4.0)] * 5)  # [1024, 5]
    model = gl.build_model("vae", (5,), latent_dim=3, hidden=(4,))
    encoder = torch.nn.Linear(5, 6)
    with torch.no_grad():
        encoder.weight.zero_()
        encoder.weight[torch.arange(3), torch.tensor(perm)] = 1.0
        encoder.bias.copy_(torch.tensor([0.0] * 3 + [math.log(math.expm1(0.1))] * 3))
    model.encoder = encoder
    return model, Dataset("grid", levels, levels, "vector")


@pytest.mark.parametrize("perm", [[0, 1, 2], [2, 0, 1]])
def test_codes_equal_to_the_factors_score_one(perm):
    model, data = grid_codes_vae(perm)
    data.test_factors = data.test[:, :3]
    record = evaluate(model, data, metrics=["disentanglement"]).to_dict()
    assert record["mig"] == pytest.approx(1.0, abs=1e-12)  # I(code; its factor) = H, 0 with the others
    assert record["dci_informativeness"] == 1.0 and record["dci_disentanglement"] > 0.95
    assert record["dci_completeness"] > 0.95


def test_codes_independent_of_the_factors_score_zero():
    model, data = grid_codes_vae([0, 1, 2])
    data.test_factors = data.test[:, 3:]  # columns the codes never see
    record = evaluate(model, data, metrics=["disentanglement"]).to_dict()
    assert record["mig"] == pytest.approx(0.0, abs=1e-12)
    assert record["dci_informativeness"] < 0.4  # chance is 1/4


class OnModes(gl.models.GenerativeModel):
    """Samples placed exactly on the first `k` modes of a toy, in turn."""

    def __init__(self, centres: torch.Tensor, k: int):
        super().__init__()
        self.register_buffer("centres", centres[:k].clone())

    def sample(self, n, generator=None):
        return self.centres[torch.arange(n) % len(self.centres)]


@pytest.mark.parametrize("k", [8, 5, 1])
def test_samples_on_k_modes_capture_k_modes(k):
    data = gl.load_dataset("ring8", n=400)
    record = evaluate(OnModes(data.modes.centres, k), data, metrics=["toy"]).to_dict()
    assert record["modes_captured"] == k and record["high_quality"] == 100.0
    assert record["reverse_kl"] == pytest.approx(math.log(8 / k), abs=1e-3)  # 2,500 samples: near-uniform over k


def _setups():
    """A VAE on images with factors and a GMM on a toy with modes: every metric applies to one of them."""
    images = tiny_images(n=120)
    images.test_factors = torch.randint(0, 3, (len(images.test), 2), generator=torch.Generator().manual_seed(0)).float()
    ring = gl.load_dataset("ring8", n=200)
    gmm = gl.build_model("gmm", ring, components=4)
    gl.fit(gmm, ring, gl.TrainConfig(steps=3), progress=False)
    return [(gl.build_model("vae", images, latent_dim=3), images), (gmm, ring)]


@pytest.mark.parametrize("name", sorted(METRICS))
def test_every_registered_metric_applies_somewhere_and_gives_finite_numbers(name):
    values = {}
    for model, data in _setups():
        record = evaluate(model, data, metrics=[name], k=4, n=40).to_dict()
        values |= {k: v for k, v in record.items() if k not in ("model", "data", "gausslab_version")}
    numbers = {k: v for k, v in values.items() if k != "features"}  # `features` names the feature space
    assert numbers and all(np.isfinite(float(v)) for v in numbers.values()), values


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
