"""Toy pictures: the base grid, the push-forward figure's lines are the network's image of that grid."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from matplotlib.collections import LineCollection

from gausslab.data import load_dataset
from gausslab.core.errors import DataError
from gausslab.models import GenerativeModel, build_model
from gausslab.plots.grids import png_bytes
from gausslab.plots.toys import base_grid, push_forward_figure, samples_over_density
from tests.conftest import tiny_images


@pytest.fixture(scope="module")
def ring8():
    return load_dataset("ring8")


class _Affine(GenerativeModel):
    """push_forward(z) = z[:, :2] A + b, and samples drawn from the data."""

    A = torch.tensor([[0.5, 0.2], [-0.1, 0.3]])
    b = torch.tensor([0.1, -0.2])

    def __init__(self, data, latent_dim: int = 3):
        super().__init__()
        self.config, self.data = SimpleNamespace(latent_dim=latent_dim), data
        self.anchor = torch.nn.Parameter(torch.zeros(1))

    def push_forward(self, z):
        return z[:, :2] @ self.A + self.b

    def sample(self, n, generator=None):
        return self.data.train[torch.randint(len(self.data.train), (n,), generator=generator)]


def test_base_grid_lines():
    grid = base_grid(3, extent=3.0, spacing=0.5, points=7)
    assert grid.shape == (26, 7, 3)
    ticks = torch.arange(-3.0, 3.01, 0.5)
    torch.testing.assert_close(grid[:13, 0, 1], ticks)  # lines z_2 = c ...
    torch.testing.assert_close(grid[:13, :, 0], torch.linspace(-3, 3, 7).expand(13, -1))  # ... running along z_1
    torch.testing.assert_close(grid[13:, 0, 0], ticks)  # then z_1 = c
    assert (grid[..., 2] == 0).all()
    assert base_grid(1, points=5).shape == (1, 5, 1)


def _segments(ax) -> np.ndarray:
    lines = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert len(lines) == 1
    return np.asarray(lines[0].get_segments())


def test_push_forward_lines_are_the_image_of_the_base_grid(ring8):
    model = _Affine(ring8)
    fig = push_forward_figure(model, ring8, points=11)
    data_ax, base_ax = fig.axes[0], fig.axes[1]
    grid = base_grid(3, points=11)
    mapped = (grid[..., :2] @ model.A + model.b).numpy()  # [L, P, 2]
    want = np.stack([mapped[:, :-1], mapped[:, 1:]], axis=2).reshape(-1, 2, 2)
    np.testing.assert_allclose(_segments(data_ax), want, rtol=1e-5, atol=1e-6)
    base = grid[..., :2].numpy()
    np.testing.assert_allclose(_segments(base_ax), np.stack([base[:, :-1], base[:, 1:]], 2).reshape(-1, 2, 2))
    assert "generator" in data_ax.get_title()
    assert png_bytes(fig).startswith(b"\x89PNG")


def test_real_models(ring8):
    gan = build_model("gan", ring8, hidden=(8,), d_hidden=(8,))
    vae = build_model("vae", ring8, latent_dim=4, hidden=(8,))
    for model, network in ((gan, "generator"), (vae, "decoder")):
        fig = push_forward_figure(model, ring8, points=21)
        assert network in fig.axes[0].get_title()
        assert png_bytes(fig).startswith(b"\x89PNG")


def test_samples_over_density_reports_coverage(ring8):
    fig = samples_over_density(_Affine(ring8), ring8, n=400)
    assert "8/8 modes" in fig.axes[0].get_title()
    assert png_bytes(fig).startswith(b"\x89PNG")


class _NoNet(GenerativeModel):
    """A model with no network from the base to the data."""


def test_errors_name_the_problem(ring8):
    with pytest.raises(DataError, match="vector data"):
        push_forward_figure(_Affine(ring8), tiny_images())
    with pytest.raises(DataError, match="push_forward"):
        push_forward_figure(_NoNet(), ring8)
