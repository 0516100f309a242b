"""Domain feature extractor: identity for vectors, a seeded small net for images, cached as safetensors."""

from __future__ import annotations

import json

import pytest
import torch

import gausslab.evaluation.features as features
from gausslab.core.errors import CheckpointError
from gausslab.evaluation.features import extractor
from gausslab.metrics import fid
from tests.conftest import tiny_images, tiny_vectors


@pytest.fixture
def quick(monkeypatch):
    """A few training steps: enough to exercise the path, fast on tiny data."""
    monkeypatch.setitem(features.RECIPE, "steps", 20)


def test_vectors_use_raw_coordinates():
    data = tiny_vectors()
    f = extractor(data)
    assert f.name == "raw coordinates"
    assert torch.equal(f(data.test), data.test)


def test_image_features_are_seeded_cached_and_reused(tmp_path, quick, monkeypatch):
    data = tiny_images()
    f = extractor(data, cache_dir=tmp_path)
    out = f(data.test)
    assert out.shape == (len(data.test), features.FEATURE_DIM) and "classifier" in f.name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["features.json", "features.safetensors"]
    info = json.loads((tmp_path / "features.json").read_text())
    assert info["data"] == data.name and "not Inception" in info["what"]
    assert torch.equal(extractor(data)(data.test), out)  # same seed, same weights

    def no_training(*_):
        raise AssertionError("the cached weights should have been reused")

    monkeypatch.setattr(features, "_train", no_training)
    assert torch.equal(extractor(data, cache_dir=tmp_path)(data.test), out)


def test_cache_is_not_reused_for_other_data(tmp_path, quick):
    extractor(tiny_images(seed=0), cache_dir=tmp_path)
    before = (tmp_path / "features.safetensors").read_bytes()
    extractor(tiny_images(seed=1), cache_dir=tmp_path)
    assert (tmp_path / "features.safetensors").read_bytes() != before


def test_unlabelled_images_get_an_autoencoder(quick):
    data = tiny_images()
    data.labels = None
    f = extractor(data)
    assert "autoencoder" in f.name and f(data.test).shape == (len(data.test), features.FEATURE_DIM)


def test_user_weights(tmp_path, quick):
    data = tiny_images()
    trained = extractor(data, cache_dir=tmp_path)
    mine = extractor(data, weights=tmp_path / "features.safetensors")
    assert "user weights" in mine.name and torch.equal(mine(data.test), trained(data.test))
    (tmp_path / "bad.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError, match="bad.safetensors"):
        extractor(data, weights=tmp_path / "bad.safetensors")
    with pytest.raises(CheckpointError, match="does not exist"):
        extractor(data, weights=tmp_path / "missing.safetensors")


@pytest.mark.slow
def test_digits_features_separate_held_out_data_from_noise():
    from gausslab.data import load_dataset

    data = load_dataset("digits")
    f = extractor(data)
    real, held_out = f(data.test), f(data.train[: len(data.test)])
    noise = f(torch.rand_like(data.test))
    assert fid(real, held_out) < 0.1 * fid(real, noise)
