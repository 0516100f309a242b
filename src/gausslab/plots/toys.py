"""Pictures of models on 2-D data: samples over the true density, and how a network bends the Gaussian base.

The push-forward picture draws a regular grid of lines in the base space (the first two
coordinates of z, the others held at 0) and the same lines mapped through the generator (a GAN's
`push_forward`, a VAE's `decode`) in data space, both coloured by the base radius |z| so each
piece of the base can be followed into the data. Functions return matplotlib figures
(`plots.save_png` / `plots.png_bytes` write them).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from matplotlib.collections import LineCollection
from matplotlib.colors import Normalize
from matplotlib.patches import Circle
from torch import Tensor

from gausslab.data import Dataset
from gausslab.core.errors import DataError
from gausslab.metrics.toy import HIGH_QUALITY_STDS, mode_coverage
from gausslab.plots.grids import scatter_figure

CMAP = "plasma"
# Model method that maps base points to data space -> what the picture calls it.
NETWORKS = {"push_forward": "generator", "decode": "decoder"}


def samples_over_density(model, data: Dataset, n: int = 2500, seed: int = 0, title: str | None = None):
    """`n` seeded samples (red) over the data's true density contours, with mode coverage in the title when known."""
    _check_vectors(data)
    with torch.inference_mode():
        samples = model.sample(n, generator=torch.Generator(model.device).manual_seed(seed)).float().cpu()
    title = title or f"{type(model).__name__} samples on {data.name}"
    if data.modes is not None:
        cov = mode_coverage(samples, data)
        title += (f"\n{cov.modes_captured}/{cov.n_modes} modes, {cov.high_quality:.1f}% high quality, "
                  f"reverse KL {cov.reverse_kl:.2f}")
    fig = scatter_figure(samples, title, data.test, _density(data))
    _mark_modes(fig.axes[0], data)
    return fig


def base_grid(latent_dim: int, extent: float = 3.0, spacing: float = 0.5, points: int = 241) -> Tensor:
    """Lines z_1 = c and z_2 = c for c in -extent..extent (step `spacing`), `points` per line: [L, P, latent_dim].

    Coordinates beyond the first two are 0; a 1-D base gets the single line along z_1.
    """
    t = torch.linspace(-extent, extent, points)  # [P]
    ticks = torch.arange(-extent, extent + spacing / 2, spacing)  # [C]
    if latent_dim == 1:
        return t.view(1, points, 1)
    along_z1 = torch.stack([t.expand(len(ticks), -1), ticks[:, None].expand(-1, points)], dim=-1)  # [C, P, 2]
    lines = torch.cat([along_z1, along_z1.flip(-1)])  # [2C, P, 2]: z_2 = c, then z_1 = c
    return torch.cat([lines, lines.new_zeros(*lines.shape[:2], latent_dim - 2)], dim=-1)


def push_forward_figure(model, data: Dataset, extent: float = 3.0, spacing: float = 0.5, points: int = 241,
                        title: str | None = None):
    """Side by side: a grid of lines in the Gaussian base (left) and its image under the network in data space
    over the data density (right), coloured alike by base radius |z|."""
    _check_vectors(data)
    push, network = _push(model)
    latent_dim = model.config.latent_dim
    lines = base_grid(latent_dim, extent, spacing, points)  # [L, P, latent_dim]
    with torch.inference_mode():
        mapped = push(lines.flatten(0, 1).to(model.device)).float().cpu().flatten(1)[:, :2]
    mapped = mapped.reshape(*lines.shape[:2], -1)  # [L, P, <=2]
    radius = lines.norm(dim=-1)  # [L, P]
    norm = Normalize(0.0, extent * math.sqrt(min(latent_dim, 2)))

    fig = scatter_figure(torch.empty(0, 2), "", data.test, _density(data))
    fig.set_size_inches(7.4, 3.6)  # <= 740 px: shown at full size in an 800 px page
    data_ax = fig.axes[0]
    data_ax.set_position([0.50, 0.06, 0.40, 0.80])
    data_ax.set_title(f"... through the {network} ({data.name})", fontsize=9)
    _draw_lines(data_ax, mapped, radius, norm, width=0.9)
    _mark_modes(data_ax, data)

    base_ax = fig.add_axes([0.04, 0.06, 0.40, 0.80])
    _draw_base(base_ax, lines[..., :2], radius, norm, extent)
    bar = fig.colorbar(data_ax.collections[-1], cax=fig.add_axes([0.92, 0.12, 0.015, 0.68]))
    bar.set_label("base radius |z|", fontsize=8)
    fig.suptitle(title or f"How {type(model).__name__} bends its Gaussian base into the data", fontsize=10)
    return fig


def _mark_modes(ax, data: Dataset) -> None:
    """Outline each mode's high-quality zone (3 std around its centre): toy modes are too sharp for contours."""
    if data.modes is None:
        return
    radius = HIGH_QUALITY_STDS * data.modes.std
    for x, y in data.modes.centres[:, :2].tolist():
        ax.add_patch(Circle((x, y), radius, fill=False, edgecolor="black", linewidth=0.8, zorder=3))


def _draw_base(ax, lines: Tensor, radius: Tensor, norm: Normalize, extent: float) -> None:
    """The base grid over N(0, I)'s 1-, 2- and 3-sigma circles."""
    if lines.shape[-1] == 1:
        lines = torch.cat([lines, torch.zeros_like(lines)], dim=-1)
    angle = np.linspace(0, 2 * np.pi, 200)
    for r in (1, 2, 3):
        ax.plot(r * np.cos(angle), r * np.sin(angle), color="0.6", lw=0.8, ls="--", zorder=0)
    _draw_lines(ax, lines, radius, norm, width=0.9)
    lim = extent * 1.08
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_xlabel("$z_1$", fontsize=8)
    ax.set_ylabel("$z_2$", fontsize=8)
    ax.set_title("base N(0, I): grid, |z| = 1, 2, 3", fontsize=9)


def _draw_lines(ax, lines: Tensor, radius: Tensor, norm: Normalize, width: float) -> None:
    """Each polyline of `lines` [L, P, 2] as segments coloured by the mean radius of their end points."""
    pts = lines.numpy()
    segments = np.stack([pts[:, :-1], pts[:, 1:]], axis=2).reshape(-1, 2, 2)  # [L*(P-1), 2, 2]
    colour = (0.5 * (radius[:, :-1] + radius[:, 1:])).reshape(-1).numpy()
    ax.add_collection(LineCollection(segments, array=colour, cmap=CMAP, norm=norm, linewidths=width))


def _push(model):
    """The method that maps base points to data space, and the network's name."""
    for method, network in NETWORKS.items():
        if hasattr(model, method):
            return getattr(model, method), network
    raise DataError(f"{type(model).__name__} has no generator to draw: it needs push_forward(z) or decode(z)")


def _density(data: Dataset):
    """The exact log density, when known and drawable (2-D data)."""
    return data.log_prob if data.shape == (2,) else None


def _check_vectors(data: Dataset) -> None:
    if data.kind != "vector":
        raise DataError(f"toy pictures need vector data (2-D toys); {data.name!r} holds images "
                        f"of shape {list(data.shape)}")
