"""Inception features: torch-fidelity's network from a local weights file, through `gausslab evaluate`;
FID equal to the library's own on the same features; clear one-line errors otherwise."""

from __future__ import annotations

import json
import re
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from typer.testing import CliRunner

import gausslab as gl
import gausslab.evaluation.inception as inception
from gausslab.training.checkpoint import read_run_info
from gausslab.cli import app
from gausslab.data import load_from_config
from gausslab.core.errors import CheckpointError, ConfigError
from gausslab.metrics import fid, kid
from tests.conftest import tiny_vectors
from tests.evaluation import fidelity

SIDE = 75  # the smallest input Inception-v3 takes: the library's 299 would cost 16x the time, for the same plumbing


@pytest.fixture(scope="module")
def library():
    with fidelity.modules() as modules:
        yield modules


@pytest.fixture(scope="module")
def weights(library, tmp_path_factory):
    """Random weights of the right architecture in a safetensors file (about 95 MB)."""
    folder = tmp_path_factory.mktemp("inception")
    path = folder / "inception.safetensors"
    save_file(fidelity.random_weights(library.inception.FeatureExtractorInceptionV3, folder), path)
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A VAE trained for two steps on 40 8x8 grey images from an .npy file (8 test images)."""
    folder = tmp_path_factory.mktemp("run")
    images = (np.random.default_rng(0).random((40, 8, 8)) * 255).astype(np.uint8)
    np.save(folder / "images.npy", images)
    args = ["train", "vae", "--data", folder / "images.npy", "--set", "train.steps=2", "--out", folder / "vae", "-q"]
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return folder / "vae"


@pytest.fixture
def small_inception(library, monkeypatch):
    cls = library.inception.FeatureExtractorInceptionV3
    monkeypatch.setattr(cls, "INPUT_IMAGE_SIZE", SIDE)
    monkeypatch.setattr(inception, "library_class", lambda: cls)
    return cls


def library_features(cls, path, x: torch.Tensor) -> torch.Tensor:
    """The library's network, loading its weights its own way, on x [N, 1, H, W] in [0, 1] made uint8 RGB by hand."""
    pth = path.with_suffix(".pth")
    torch.save(load_file(path), pth)
    net = cls("reference", ["2048"], feature_extractor_weights_path=str(pth))
    rgb = (x * 255).round().to(torch.uint8).repeat(1, 3, 1, 1)
    with torch.no_grad():
        return net(rgb)[0].double()


@pytest.mark.slow
def test_cli_evaluates_in_inception_features_equal_to_the_library(run, weights, small_inception, library):
    args = ["evaluate", str(run), "--features", "inception", "--features-weights", str(weights),
            "--metrics", "fid,kid,prdc", "--n-generated", "8"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    record = json.loads((run / "metrics.json").read_text())
    assert record["features"] == "Inception-v3 pool3 (torch-fidelity; weights inception.safetensors)"
    assert {"fid_inception", "kid_inception", "precision", "recall"} <= set(record) and "fid_domain" not in record

    data, model = load_from_config(read_run_info(run).config.data), gl.load(run)
    with torch.no_grad():
        fake = model.sample(len(data.test), generator=torch.Generator().manual_seed(0))
    real_f, fake_f = (library_features(small_inception, weights, x) for x in (data.test, fake))
    assert real_f.shape == (8, 2048) and real_f.std() > 1e-3  # features of order 1, not a dead network
    assert record["n_generated"] == 8
    assert record["kid_inception"] == pytest.approx(kid(real_f, fake_f).mean, rel=1e-9)
    mf = library.metric_fid
    theirs = mf.fid_statistics_to_metric(mf.fid_features_to_statistics(real_f), mf.fid_features_to_statistics(fake_f),
                                         False)[mf.KEY_METRIC_FID]
    # 8 points in 2048-d: singular covariances, where the library's eigvals of S1 S2 lose ~1e-7 (ours: eigh)
    assert record["fid_inception"] == pytest.approx(theirs, rel=1e-5)


def test_our_fid_equals_the_librarys_on_well_conditioned_features(library):
    g = torch.Generator().manual_seed(0)
    a = torch.randn(600, 64, generator=g, dtype=torch.float64)
    b = torch.randn(500, 64, generator=g, dtype=torch.float64) @ (torch.eye(64, dtype=torch.float64) * 1.3) + 0.2
    mf = library.metric_fid
    theirs = mf.fid_statistics_to_metric(mf.fid_features_to_statistics(a), mf.fid_features_to_statistics(b), False)
    assert fid(a, b) == pytest.approx(theirs[mf.KEY_METRIC_FID], rel=1e-9)


def test_weights_are_checked_before_use(tmp_path, small_inception):
    data = gl.load_dataset("digits")
    torch.save({"conv.weight": torch.zeros(2)}, tmp_path / "other.pth")
    with pytest.raises(CheckpointError, match="does not hold Inception-v3 weights"):
        inception.extractor(data, tmp_path / "other.pth")
    torch.save({"config": ConfigError("code, not tensors")}, tmp_path / "code.pth")
    with pytest.raises(CheckpointError, match="cannot be read as tensors without running code"):
        inception.extractor(data, tmp_path / "code.pth")
    (tmp_path / "bad.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(CheckpointError, match="not a valid safetensors file"):
        inception.extractor(data, tmp_path / "bad.safetensors")
    with pytest.raises(CheckpointError, match="does not exist"):
        inception.extractor(data, tmp_path / "missing.pth")
    with pytest.raises(ConfigError, match="never downloads weights"):
        inception.extractor(data, None)
    with pytest.raises(ConfigError, match="need images"):
        inception.extractor(tiny_vectors(), tmp_path / "other.pth")


@pytest.mark.parametrize(("extra", "match"), [
    (["--features-weights", "w.pth"], "Inception features need torch-fidelity .*importing it failed"),
    ([], "never downloads weights"),
    (["--features", "inceptoin"], "unknown feature space 'inceptoin' \\(did you mean 'inception'\\?\\)"),
])
def test_cli_errors_are_one_line(run, monkeypatch, extra, match):
    for name in ("torch_fidelity", "torch_fidelity.feature_extractor_inceptionv3"):
        monkeypatch.setitem(sys.modules, name, None)  # as where torch-fidelity is not installed
    args = ["evaluate", str(run), "--metrics", "fid", "--features", "inception", *extra]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1, result.output
    assert re.search(match, result.output), result.output
