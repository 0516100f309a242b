"""Per-pixel histograms: brute-force counts, exactly log2(levels) bits/dim when uniform, normalised, shared suite."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import gausslab as gl
from gausslab.cli import app
from gausslab.core.errors import DataError
from gausslab.models import Histogram, build_model
from tests.conftest import tiny_images
from tests.models.suite import check_model


def fitted(x: torch.Tensor, **options) -> Histogram:
    model = build_model("histogram", tuple(x.shape[1:]), **options)
    next(model.training_losses(model.prepare(x), 0))
    return model


def dequantized(n: int, shape: tuple[int, ...], levels: int, seed: int = 0) -> torch.Tensor:
    """(k + u) / levels with k skewed towards 0, as pixels of dark images."""
    g = torch.Generator().manual_seed(seed)
    k = (torch.rand(n, *shape, generator=g) ** 3 * levels).floor()
    return (k + torch.rand(n, *shape, generator=g)) / levels


def bits_per_dim(log_prob: torch.Tensor, dim: int, levels: int) -> torch.Tensor:
    """Bits/dim of the discrete data from the density of its dequantized values: -log p / (D ln 2) + log2(levels)."""
    return -log_prob / (dim * math.log(2)) + math.log2(levels)


def test_uniform_histogram_gives_exactly_log2_levels_bits_per_dim():
    """Every pixel shows every level equally often: the fitted density is 1 on [0, 1]^D."""
    levels = 17
    k = (torch.arange(levels).view(-1, 1) + torch.arange(4)) % levels  # [17, 4]: each column a permutation
    x = ((k + 0.5) / levels).view(levels, 1, 2, 2)
    model = fitted(x, levels=levels)
    bits = bits_per_dim(model.log_prob(dequantized(50, (1, 2, 2), levels)).double(), 4, levels)
    assert torch.equal(bits, torch.full((50,), math.log2(levels), dtype=torch.float64))


def test_log_prob_matches_a_brute_force_count():
    levels, smoothing = 5, 0.5
    x, test = dequantized(30, (3,), levels), dequantized(10, (3,), levels, seed=1)
    model = fitted(x, levels=levels, smoothing=smoothing)
    for row, value in zip(test.tolist(), model.log_prob(test).tolist()):
        expected = 0.0
        for d, v in enumerate(row):
            b = int(v * levels)
            count = sum(1 for other in x[:, d].tolist() if int(other * levels) == b)
            expected += math.log((count + smoothing) / (len(x) + smoothing * levels) * levels)
        assert value == pytest.approx(expected, abs=1e-5)


def test_density_integrates_to_one_and_is_zero_outside_the_unit_cube():
    model = fitted(dequantized(40, (2,), 4), levels=4)
    centres = (torch.arange(400) + 0.5) / 400
    grid = torch.cartesian_prod(centres, centres).double()
    assert float(model.log_prob(grid).exp().mean()) == pytest.approx(1.0, abs=1e-12)  # cell area 1/400^2
    outside = model.log_prob(torch.tensor([[0.5, 1.2], [-0.1, 0.5]]))
    assert torch.equal(outside, torch.full((2,), -math.inf))


def test_samples_follow_the_bin_probabilities_and_fill_each_bin_uniformly():
    levels = 4
    model = fitted(dequantized(60, (2,), levels), levels=levels)
    s = model.sample(100_000, generator=torch.Generator().manual_seed(0)).double()
    bins = (s * levels).floor().long()
    for d in range(2):
        expected = (model.counts[d] + 1) / (60 + levels)
        observed = torch.bincount(bins[:, d], minlength=levels).double() / len(s)
        torch.testing.assert_close(observed, expected, atol=6e-3, rtol=0)
    within = (s * levels - bins).flatten().numpy()
    assert np.histogram(within, bins=10, range=(0, 1))[0].min() > 0.09 * within.size


def test_n_parameters_is_levels_minus_one_per_dimension():
    assert build_model("histogram", (1, 3, 3), levels=17).n_parameters == 9 * 16


def test_data_outside_the_unit_interval_is_refused():
    data = gl.Dataset("vectors", torch.randn(20, 2), torch.randn(5, 2), "vector")
    with pytest.raises(DataError, match=r"histogram model needs data in \[0, 1\]"):
        gl.fit(build_model("histogram", data), data, gl.TrainConfig(steps=1))


def test_levels_default_to_the_datas_and_score_in_the_bits_per_dim_currency():
    """Built for grey-level data, the histogram takes its levels; trained through the trainer (which dequantizes
    the levels) and evaluated, a histogram of equally frequent levels scores exactly log2(levels) bits/dim."""
    levels = 17
    k = (torch.arange(levels).view(-1, 1) + torch.arange(4)) % levels  # every pixel shows every level once
    x = (k / (levels - 1)).float().view(levels, 1, 2, 2)  # as stored: k / (levels - 1)
    data = gl.Dataset("grey", x, x, "image", levels=levels)
    model = build_model("histogram", data)
    assert model.config.levels == levels and build_model("histogram", (1, 2, 2)).levels == 256
    gl.fit(model, data, gl.TrainConfig(epochs=1), progress=False)
    record = gl.evaluate(model, data, metrics=["test_log_likelihood"]).to_dict()
    assert record["bits_per_dim"] == pytest.approx(math.log2(levels), abs=1e-12)


def test_histogram_passes_shared_suite(tmp_path):
    data = tiny_images()
    check_model(lambda: build_model("histogram", data, levels=8), data, tmp_path)


@pytest.mark.slow
def test_cli_fits_digits_in_one_step_and_evaluates(tmp_path):
    out = tmp_path / "hist"
    args = ["train", "histogram", "--data", "digits", "--set", "model.levels=17", "--set", "train.epochs=1",
            "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    model, data = gl.load(out), gl.load_dataset("digits")
    assert model.examples == len(data.train) and model.counts.sum() == len(data.train) * 64
    metrics = gl.evaluate(model, data, metrics=["test_log_likelihood"])
    assert metrics.values["test_log_likelihood"] == pytest.approx(float(model.log_prob(data.test).double().mean()))
