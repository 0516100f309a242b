"""Latent samplers: a mixture (ex-post) or a second VAE (two-stage) fitted to the encoder means of the training
set, decoded by the VAE; fitted once, saved as run folders and loaded back."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import gausslab as gl
from gausslab.cli import app
from gausslab.training.config import TrainConfig
from gausslab.core.errors import CheckpointError, ConfigError
from gausslab.models import build_model
from gausslab.samplers.saved import fit_or_load, for_run
from gausslab.samplers import SAMPLERS, ExPostSampler, PriorSampler, TwoStageSampler
from tests.conftest import tiny_images

TINY = dict(latent_dim=3, hidden=(16,))
FITTED = {"expost": {"k": 2, "steps": 3}, "two-stage": {"steps": 4, "hidden": (8,)}}
DENSITY = {"expost": "gmm", "two-stage": "vae"}  # the attribute holding each sampler's fitted model


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


def test_registry_offers_prior_expost_and_two_stage():
    assert SAMPLERS == {"prior": PriorSampler, "expost": ExPostSampler, "two-stage": TwoStageSampler}
    assert gl.samplers.TwoStageSampler is TwoStageSampler


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_samplers_need_a_vae(name):
    data = tiny_images()
    gmm = build_model("gmm", data, components=2)
    with pytest.raises(ConfigError, match="needs a VAE"):
        SAMPLERS[name].fit(gmm, data)


def _draw(sampler, seed: int, n: int = 9) -> torch.Tensor:
    with torch.no_grad():
        return sampler.sample(n, generator=torch.Generator().manual_seed(seed))


def _refuse(*args, **kwargs):
    raise AssertionError("the saved sampler was fitted again instead of loaded")


@pytest.mark.parametrize("name", sorted(FITTED))
def test_fitted_sampler_survives_save_and_load(name, vae_and_data, tmp_path, monkeypatch):
    model, data = vae_and_data
    fitted = fit_or_load(name, model, data, tmp_path / name, seed=1, **FITTED[name])
    monkeypatch.setattr(SAMPLERS[name], "fit", _refuse)
    loaded = fit_or_load(name, model, data, tmp_path / name, seed=1, **FITTED[name])
    before, after = (getattr(s, DENSITY[name]).state_dict() for s in (fitted, loaded))
    assert list(before) == list(after)
    assert all(torch.equal(value, after[key]) for key, value in before.items())
    assert torch.equal(_draw(fitted, 4), _draw(loaded, 4))
    assert not torch.equal(_draw(loaded, 4), _draw(loaded, 5))
    with torch.no_grad():
        x = model.sample(9, generator=torch.Generator().manual_seed(4), sampler=loaded)
    torch.testing.assert_close(x, model.decode(_draw(loaded, 4)))


@pytest.mark.parametrize("text", ["not json", '{"shift": [0.0], "scale": [1.0]}'])
def test_a_broken_standardisation_file_is_a_checkpoint_error(text, vae_and_data, tmp_path):
    model, data = vae_and_data
    fit_or_load("two-stage", model, data, tmp_path / "s", **FITTED["two-stage"])
    (tmp_path / "s" / TwoStageSampler.STATS).write_text(text)
    with pytest.raises(CheckpointError, match="codes.json"):
        fit_or_load("two-stage", model, data, tmp_path / "s", **FITTED["two-stage"])


def test_an_unfinished_sampler_folder_is_fitted_again(vae_and_data, tmp_path):
    model, data = vae_and_data
    folder = tmp_path / "two-stage"
    folder.mkdir()
    (folder / "config.json").write_text("{}")  # a fit killed before its first checkpoint
    sampler = fit_or_load("two-stage", model, data, folder, **FITTED["two-stage"])
    assert isinstance(sampler, TwoStageSampler) and (folder / "model.safetensors").is_file()


def test_run_samplers_are_named_by_their_own_options_and_seeded_by_the_run(vae_and_data, tmp_path):
    model, data = vae_and_data
    gl.fit(model, data, TrainConfig(steps=2, epochs=10, batch_size=16, seed=7), out=tmp_path / "run")
    sampler = for_run(tmp_path / "run", "two-stage", model, data, k=3, **FITTED["two-stage"])
    assert [p.name for p in (tmp_path / "run" / "samplers").iterdir()] == ["two-stage-hidden8-steps4"]
    again = TwoStageSampler.fit(model, data, seed=7, **FITTED["two-stage"])
    assert torch.equal(_draw(sampler, 0), _draw(again, 0))


@pytest.mark.slow
def test_two_stage_samples_follow_the_codes():
    """The second VAE's decoded draws have the codes' mean and spread per unit (drawing u ~ N(0, I) itself,
    or decoding with the wrong network, would not)."""
    data = tiny_images(n=400)
    model = build_model("vae", data, **TINY)
    sampler = TwoStageSampler.fit(model, data, steps=600, hidden=(32, 32))
    with torch.no_grad():
        codes = model.encode(data.train).loc
    z = _draw(sampler, 0, n=4000)
    spread = codes.std(0)
    assert ((z.mean(0) - codes.mean(0)).abs() < 0.1 * spread).all(), (z.mean(0), codes.mean(0), spread)
    assert ((z.std(0) / spread - 1).abs() < 0.2).all(), (z.std(0), spread)


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
    assert (run / "samplers" / "expost-k3" / "model.safetensors").is_file()
    # The two-stage VAE fitted in advance where the command keeps it (tiny, to stay fast): loaded, not refitted.
    data = gl.load_dataset("digits")
    fit_or_load("two-stage", gl.load(run), data, run / "samplers" / "two-stage", **FITTED["two-stage"])
    for name in ("s.npy", "t.npy"):
        again = invoke("sample", run, "--n", 6, "--sampler", "two-stage", "--seed", 2, "--out", tmp_path / name)
        assert again.exit_code == 0, again.output
    assert np.array_equal(np.load(tmp_path / "s.npy"), np.load(tmp_path / "t.npy"))
    assert sorted(p.name for p in (run / "samplers").iterdir()) == ["expost-k3", "two-stage"]
    bad = invoke("sample", run, "--sampler", "expots", "--out", tmp_path / "t.npy")
    assert bad.exit_code == 2 and "did you mean 'expost'" in bad.output
