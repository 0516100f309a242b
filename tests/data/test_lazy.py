"""Data that stays on disk: .npy files read row by row and image folders decoded per batch give the
same splits and the same training batches as in-memory loading; data.test / data.valid files."""

import numpy as np
import pytest
import torch
from PIL import Image

import gausslab as gl
from gausslab.core.errors import ConfigError, DataError
from gausslab.data import DataConfig, load_dataset, load_from_config
from gausslab.data import lazy as lazy_module
from gausslab.data.files import read_path
from gausslab.data.lazy import LazyRows
from gausslab.training.config import TrainConfig

from .checks import expect_error


def _npy(path, shape=(60, 1, 6, 5), dtype=np.uint8, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, shape).astype(dtype) if dtype == np.uint8 else rng.random(shape).astype(dtype)
    np.save(path, x)
    return path


def _splits(ds):
    return [s if isinstance(s, torch.Tensor) or s is None else s.to("cpu") for s in (ds.train, ds.valid, ds.test)]


@pytest.mark.parametrize("shape, dtype", [((60, 1, 6, 5), np.uint8), ((60, 6, 5, 3), np.uint8),
                                          ((60, 6, 5), np.float32), ((60, 7), np.float64)])
def test_lazy_npy_splits_equal_in_memory_splits(tmp_path, shape, dtype):
    path = _npy(tmp_path / "x.npy", shape, dtype)
    eager, lazy = (load_dataset(path, seed=5, lazy=flag) for flag in (False, True))
    assert isinstance(lazy.train, LazyRows) and isinstance(eager.train, torch.Tensor)
    assert lazy.kind == eager.kind and lazy.levels == eager.levels and lazy.shape == eager.shape
    for a, b in zip(_splits(eager), _splits(lazy)):
        assert torch.equal(a, b)  # bit-equal: same permutation, same float32 conversion
    rows = torch.tensor([3, 0, 3, 17])
    assert torch.equal(lazy.train.index_select(0, rows), eager.train.index_select(0, rows))
    assert torch.equal(lazy.train[2:5], eager.train[2:5]) and torch.equal(lazy.train[4], eager.train[4])


def _fit_batches(ds, workers=0, steps=12, out=None, resume=False):
    """The batches `fit` hands the model, and its weights after training."""
    model = gl.build_model("vae", ds, latent_dim=2, hidden=(8,), arch="mlp")
    seen, losses = [], model.training_losses

    def recording(x, step):
        seen.append(x.clone())
        return losses(x, step)

    model.training_losses = recording
    train = TrainConfig(steps=steps, batch_size=16, log_every=4, checkpoint_every=4, loader_workers=workers)
    result = gl.fit(model, ds, train, out, resume=resume, progress=False)
    return seen, [p.detach().clone() for p in model.parameters()], result.last


@pytest.mark.parametrize("workers", [0, 2])  # read in the training process / ahead by 2 DataLoader workers
def test_fit_on_lazy_npy_sees_the_same_batches_as_in_memory(tmp_path, workers):
    path = _npy(tmp_path / "x.npy")
    (eager_batches, eager_w, eager_last), (lazy_batches, lazy_w, lazy_last) = (
        _fit_batches(load_dataset(path, seed=1, lazy=flag), workers=workers if flag else 0) for flag in (False, True))
    assert len(eager_batches) == len(lazy_batches) == 12
    assert all(torch.equal(a, b) for a, b in zip(eager_batches, lazy_batches))  # dequantized the same way too
    assert all(torch.equal(a, b) for a, b in zip(eager_w, lazy_w))
    assert {k: v for k, v in lazy_last.items() if k.startswith("valid_")} == \
        {k: v for k, v in eager_last.items() if k.startswith("valid_")}


def test_read_ahead_resumes_at_the_checkpoint_step(tmp_path):
    """Interrupted after 4 of 12 steps and resumed with 2 reading workers: the batches and weights of the
    uninterrupted in-memory run (the workers start reading at the checkpoint's step, not at 0)."""
    path = _npy(tmp_path / "x.npy")
    whole_batches, whole_w, _ = _fit_batches(load_dataset(path, seed=1, lazy=False))
    first, _, _ = _fit_batches(load_dataset(path, seed=1, lazy=True), 2, steps=4, out=tmp_path / "run")
    rest, resumed_w, _ = _fit_batches(load_dataset(path, seed=1, lazy=True), 2, out=tmp_path / "run", resume=True)
    assert len(first) == 4 and len(rest) == 8
    assert all(torch.equal(a, b) for a, b in zip(whole_batches, first + rest))
    assert all(torch.equal(a, b) for a, b in zip(whole_w, resumed_w))


def test_large_files_are_memory_mapped_automatically(tmp_path, monkeypatch):
    path = _npy(tmp_path / "x.npy")
    assert isinstance(load_dataset(path).train, torch.Tensor)
    monkeypatch.setattr(lazy_module, "AUTO_LAZY_BYTES", 60 * 30 * 4 - 1)
    assert isinstance(load_dataset(path).train, LazyRows)
    assert isinstance(load_dataset(path, lazy=False).train, torch.Tensor)


def test_rows_read_after_the_mapping_is_released_are_unchanged(tmp_path):
    path = _npy(tmp_path / "x.npy")
    eager = load_dataset(path, lazy=False)
    lazy = load_dataset(path, lazy=True)  # its mapped pages are dropped after every read
    for _ in range(3):
        assert torch.equal(torch.cat(list(lazy.train.split(7))), eager.train)


def test_lazy_float_file_is_checked_before_training(tmp_path):
    x = np.random.default_rng(0).random((20, 1, 4, 4)).astype(np.float32)
    x[13, 0, 1, 1] = 2.5
    np.save(tmp_path / "bad.npy", x)
    expect_error(DataError, ["bad.npy", "2.5", "expected [0, 1]"], load_dataset, tmp_path / "bad.npy", lazy=True)


def test_fortran_order_cannot_be_read_lazily(tmp_path):
    np.save(tmp_path / "f.npy", np.asfortranarray(np.zeros((20, 4), np.float32)))
    expect_error(DataError, ["f.npy", "Fortran order", "data.lazy=false"], load_dataset, tmp_path / "f.npy", lazy=True)
    assert isinstance(load_dataset(tmp_path / "f.npy").train, torch.Tensor)


def test_full_batch_model_refuses_lazy_data(tmp_path):
    ds = load_dataset(_npy(tmp_path / "x.npy", (40, 3), np.float32), lazy=True)
    model = gl.build_model("gmm", ds, components=2)
    expect_error(ConfigError, ["whole training set", "data.lazy=false"], gl.fit, model, ds,
                 TrainConfig(steps=2), progress=False)


@pytest.mark.parametrize("option, value", [("lazy", True), ("resize", 4), ("crop", 4)])
def test_reading_options_apply_to_files_and_folders_only(tmp_path, option, value):
    np.savetxt(tmp_path / "v.csv", np.ones((10, 2)), delimiter=",")
    expect_error(ConfigError, [f"data.{option}={value!r}", "v.csv"], load_dataset, tmp_path / "v.csv",
                 **{option: value})
    expect_error(ConfigError, [f"data.{option}={value!r}", "'digits'"], load_dataset, "digits", **{option: value})


# --- image folders ---------------------------------------------------------------------------


def _image(path, size, value, mode="L"):
    Image.new(mode, size, value).save(path)


def test_lazy_folder_equals_eager_folder(tmp_path):
    for label, colour in enumerate(["red", "blue"]):
        (tmp_path / colour).mkdir()
        for i in range(6):
            _image(tmp_path / colour / f"{i}.png", (5, 4), (40 * i, 10 * label, 200), "RGB")
        _image(tmp_path / colour / "grey.png", (5, 4), 90)  # greyscale joins as three equal channels
    eager, lazy = (load_dataset(tmp_path, seed=2, test_fraction=0.25, lazy=flag) for flag in (False, True))
    assert isinstance(lazy.train, LazyRows) and lazy.shape == (3, 4, 5) and lazy.levels == eager.levels == 256
    for a, b in zip(_splits(eager), _splits(lazy)):
        assert torch.equal(a, b)
    assert torch.equal(lazy.labels, eager.labels) and torch.equal(lazy.test_labels, eager.test_labels)
    # Decoded by 2 DataLoader workers ahead of the steps, the training batches are the in-memory ones.
    (eager_batches, eager_w, _), (lazy_batches, lazy_w, _) = (
        _fit_batches(ds, workers=w) for ds, w in ((eager, 0), (lazy, 2)))
    assert len(lazy_batches) == 12 and all(torch.equal(a, b) for a, b in zip(eager_batches, lazy_batches))
    assert all(torch.equal(a, b) for a, b in zip(eager_w, lazy_w))


def test_resize_brings_mixed_sizes_to_one_square(tmp_path):
    _image(tmp_path / "a.png", (8, 8), 10)
    _image(tmp_path / "b.jpg", (20, 12), 200)
    strip = np.zeros((4, 12), np.uint8)
    strip[:, 4:8] = 77  # shorter side 4 already: only the centre 4 x 4 square (all 77) is kept
    Image.fromarray(strip).save(tmp_path / "c.png")
    for lazy in (False, True):
        x = load_dataset(tmp_path, resize=4, lazy=lazy, test_fraction=0.34, valid_fraction=0).train
        x = x if isinstance(x, torch.Tensor) else x.to("cpu")
        assert x.shape[1:] == (1, 4, 4)
    raw = read_path(tmp_path, resize=4)
    assert torch.all(raw.x[0] == 10 / 255) and torch.all(raw.x[2] == 77 / 255)
    assert raw.x[1].std() < 2 / 255  # a flat JPEG stays flat after scaling
    assert raw.x.shape == (3, 1, 4, 4)
    assert read_path(tmp_path, resize=6, crop=2).x.shape == (3, 1, 2, 2)


def test_mixed_sizes_without_resize_name_two_sizes(tmp_path):
    _image(tmp_path / "a.png", (8, 8), 10)
    _image(tmp_path / "b.png", (6, 5), 10)
    expect_error(DataError, ["b.png", "6x5", "8x8", "data.resize"], load_dataset, tmp_path)


def test_crop_errors(tmp_path):
    _image(tmp_path / "a.png", (8, 8), 10)
    _image(tmp_path / "b.png", (6, 5), 10)
    expect_error(DataError, ["b.png", "6x5", "data.crop=6"], load_dataset, tmp_path, crop=6)
    expect_error(ConfigError, ["data.crop=9", "data.resize=8"], load_dataset, tmp_path, resize=8, crop=9)


# --- data.test / data.valid ------------------------------------------------------------------


def test_test_file_is_the_test_split(tmp_path):
    main, test = _npy(tmp_path / "main.npy", seed=0), _npy(tmp_path / "test.npy", (9, 1, 6, 5), seed=1)
    for lazy in (False, True):
        ds = load_dataset(main, test=test, valid_fraction=0.1, lazy=lazy)
        train, valid, held = _splits(ds)
        assert torch.equal(held, torch.from_numpy(np.load(test)).float() / 255)
        assert len(train) + len(valid) == 60 and len(valid) == 6
    ds = load_dataset(main, test=test, valid=test, valid_fraction=0.1)
    assert len(ds.train) == 60 and torch.equal(ds.valid, ds.test)  # both given: the main file is all training


def test_valid_file_keeps_the_test_fraction(tmp_path):
    main, valid = _npy(tmp_path / "main.npy"), _npy(tmp_path / "valid.npy", (5, 1, 6, 5), seed=1)
    ds = load_dataset(main, valid=valid, test_fraction=0.25, valid_fraction=0.1)
    assert len(ds.valid) == 5 and len(ds.test) == 15 and len(ds.train) == 45
    plain = load_dataset(main, test_fraction=0.25, valid_fraction=0)
    assert torch.equal(ds.test, plain.test)  # the test split does not depend on where validation comes from


def test_held_out_file_must_match(tmp_path):
    main = _npy(tmp_path / "main.npy")
    other = _npy(tmp_path / "small.npy", (9, 1, 5, 5))
    expect_error(DataError, ["data.test=", "small.npy", "(1, 5, 5)", "(1, 6, 5)"], load_dataset, main, test=other)
    floats = _npy(tmp_path / "floats.npy", (9, 1, 6, 5), np.float32)
    expect_error(DataError, ["data.valid=", "floats.npy", "levels"], load_dataset, main, valid=floats)


def test_data_config_reaches_the_reader(tmp_path):
    main, test = _npy(tmp_path / "main.npy"), _npy(tmp_path / "test.npy", (9, 1, 6, 5), seed=1)
    ds = load_from_config(DataConfig(name=str(main), test=str(test), lazy=True))
    assert isinstance(ds.train, LazyRows) and len(ds.test) == 9
    with pytest.raises(ValueError):
        DataConfig(resize=0)
