"""Ex-post sampling: a mixture fitted to the encoder means of the training set, decoded by the VAE."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from gausslab.cli import app
from gausslab.core.errors import ConfigError
from gausslab.models import build_model
from gausslab.samplers import SAMPLERS, ExPostSampler, PriorSampler
from tests.conftest import tiny_images

TINY = dict(latent_dim=3, hidden=(16,))


@pytest.fixture
def vae_and_data():
    data = tiny_images()
    return build_model("vae", data, **TINY), data


def test_expost_mixture_keeps_the_mean_and_covariance_of_the_codes(vae_and_data):
    """After an M-step a full-covariance mixture's moments equal the codes' moments (+ reg_covar I)."""
    model, data = vae_and_data
    sampler = ExPostSampler.fit(model, data, k=3, steps=5)
    with torch.no_grad():
        codes = model.encode(data.train).loc.double()  # [N, D]
    gmm = sampler.gmm
    mean = gmm.weights @ gmm.means
    second = (gmm.weights.view(-1, 1, 1) * (gmm.covariances + gmm.means.unsqueeze(2) * gmm.means.unsqueeze(1))).sum(0)
    torch.testing.assert_close(mean, codes.mean(0), atol=1e-6, rtol=0)
    expected = torch.cov(codes.T, correction=0) + gmm.config.reg_covar * torch.eye(3, dtype=torch.float64)
    torch.testing.assert_close(second - torch.outer(mean, mean), expected, atol=1e-6, rtol=0)


def test_model_samples_through_the_expost_sampler(vae_and_data):
    model, data = vae_and_data
    sampler = ExPostSampler.fit(model, data, k=2, covariance="diag", steps=3)
    with torch.no_grad():
        z = sampler.sample(10, generator=torch.Generator().manual_seed(0))
        x = model.sample(10, generator=torch.Generator().manual_seed(0), sampler=sampler)
    assert z.shape == (10, 3) and z.dtype == torch.float32
    assert x.shape == (10, *data.shape)
    torch.testing.assert_close(x, model.decode(z))
    assert sampler.log_prob(z).shape == (10,)


def test_fitting_is_seeded_and_leaves_the_global_rng_alone(vae_and_data):
    model, data = vae_and_data
    state = torch.get_rng_state()
    a = ExPostSampler.fit(model, data, k=3, steps=2, seed=0).gmm.means
    b = ExPostSampler.fit(model, data, k=3, steps=2, seed=0).gmm.means
    c = ExPostSampler.fit(model, data, k=3, steps=2, seed=1).gmm.means
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_prior_sampler_is_the_models_own_sampling(vae_and_data):
    model, data = vae_and_data
    sampler = SAMPLERS["prior"].fit(model, data, k=5)
    assert isinstance(sampler, PriorSampler)
    with torch.no_grad():
        a = model.sample(4, generator=torch.Generator().manual_seed(0), sampler=sampler)
        b = model.sample(4, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, b)


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_every_registered_sampler_draws_latents_of_the_models_size(name, vae_and_data):
    model, data = vae_and_data
    sampler = SAMPLERS[name].fit(model, data)
    z = sampler.sample(6, generator=torch.Generator().manual_seed(0))
    assert z.shape == (6, model.config.latent_dim) and torch.isfinite(z).all()


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_samplers_need_a_vae(name):
    data = tiny_images()
    gmm = build_model("gmm", data, components=2)
    with pytest.raises(ConfigError, match="needs a VAE"):
        SAMPLERS[name].fit(gmm, data)


@pytest.mark.slow
def test_cli_samples_through_the_expost_sampler(tmp_path):
    def invoke(*args):
        return CliRunner().invoke(app, [str(a) for a in args])

    run = tmp_path / "run"
    trained = invoke("train", "vae", "--data", "digits", "--set", "train.steps=3", "--set", "model.prior=vamp",
                     "--set", "model.latent_dim=2", "--out", run)
    assert trained.exit_code == 0, trained.output
    result = invoke("sample", run, "--n", 6, "--sampler", "expost", "--k", 3, "--out", tmp_path / "s.npy")
    assert result.exit_code == 0, result.output
    assert np.load(tmp_path / "s.npy").shape == (6, 1, 8, 8)
    bad = invoke("sample", run, "--sampler", "expots", "--out", tmp_path / "t.npy")
    assert bad.exit_code == 2 and "did you mean 'expost'" in bad.output
