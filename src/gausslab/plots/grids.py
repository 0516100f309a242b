"""Pictures: sample grids for images, scatter plots for 2-D data, saved as PNG (Agg backend, no display).

Charts are drawn at 100 dpi with no text under `MIN_FONT_PT` (8 pt = 11 px), so they stay readable
(>= 10 px) when a page shows them at 90 % of their size or more. Image grids (`grid_png`) are
written pixel for pixel, each image upscaled to at least `MIN_CELL_PX` pixels, and record that size
in the PNG (`grid_cell_px`).
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image, PngImagePlugin  # noqa: E402
from torch import Tensor  # noqa: E402

from gausslab.core.fileio import atomic_write_bytes  # noqa: E402

MIN_FONT_PT = 8
MIN_CELL_PX = 48
CELL_PX_KEY = "gausslab:cell_px"  # PNG text chunk of an image grid: pixels per image
plt.rcParams.update({"font.size": 9, "axes.titlesize": 9, "axes.labelsize": 9, "xtick.labelsize": MIN_FONT_PT,
                     "ytick.labelsize": MIN_FONT_PT, "legend.fontsize": MIN_FONT_PT,
                     "figure.titlesize": 10})


def png_bytes(fig) -> bytes:
    """A figure as PNG bytes; the figure is closed."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def save_png(fig, path: str | Path) -> None:
    """Write `fig` to `path` atomically as a 100-dpi PNG; the figure is closed."""
    atomic_write_bytes(path, png_bytes(fig))


def tile(images: Tensor, nrow: int | None = None, pad: int = 1) -> np.ndarray:
    """[N, C, H, W] in [0, 1] -> one [H', W'] (C = 1) or [H', W', 3] array with `pad` pixels between tiles."""
    x = images.detach().float().clamp(0, 1).cpu().numpy()
    n, c, h, w = x.shape
    nrow = nrow or math.ceil(math.sqrt(n))
    ncol = math.ceil(n / nrow)
    grid = np.ones((c, ncol * (h + pad) + pad, nrow * (w + pad) + pad), dtype=np.float32)
    for i in range(n):
        r, q = divmod(i, nrow)
        grid[:, pad + r * (h + pad) : pad + r * (h + pad) + h, pad + q * (w + pad) : pad + q * (w + pad) + w] = x[i]
    return grid[0] if c == 1 else grid[:3].transpose(1, 2, 0)


def grid_png(images: Tensor, nrow: int = 8, min_cell: int = MIN_CELL_PX) -> bytes:
    """[N, C, H, W] in [0, 1] -> PNG bytes of a grid, each image upscaled (nearest) to >= `min_cell` pixels."""
    scale = max(1, math.ceil(min_cell / images.shape[-1]))
    grid = tile(images, nrow=nrow, pad=1)
    pixels = np.repeat(np.repeat(grid, scale, axis=0), scale, axis=1)
    image = Image.fromarray((pixels * 255).round().astype(np.uint8))
    info = PngImagePlugin.PngInfo()
    info.add_text(CELL_PX_KEY, str(images.shape[-1] * scale))
    buf = io.BytesIO()
    image.save(buf, format="png", pnginfo=info)
    return buf.getvalue()


def grid_cell_px(path: str | Path) -> int:
    """Pixels per image recorded in an image grid PNG (0 when it is not one)."""
    with Image.open(path) as image:
        return int(image.text.get(CELL_PX_KEY, 0)) if hasattr(image, "text") else 0


def image_grid_figure(images: Tensor, title: str = "", nrow: int | None = None):
    """A figure of `images` [N, C, H, W] in [0, 1] tiled into one grid (`tile`: `nrow` images per row), without axes."""
    grid = tile(images, nrow)
    fig, ax = plt.subplots(figsize=(4, 4 * grid.shape[0] / grid.shape[1]))
    ax.imshow(grid, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)
    return fig


def scatter_figure(points: Tensor, title: str = "", reference: Tensor | None = None, log_prob=None):
    """2-D samples (first two coordinates), over the true density's contours when `log_prob` is known."""
    pts = points.detach().float().flatten(1)[:, :2].cpu().numpy()
    fig, ax = plt.subplots(figsize=(4, 4))
    ref = reference.detach().float().flatten(1)[:, :2].cpu().numpy() if reference is not None else pts
    lo, hi = np.percentile(ref, 0.5, axis=0), np.percentile(ref, 99.5, axis=0)
    margin = 0.15 * (hi - lo) + 1e-3
    lo, hi = lo - margin, hi + margin
    if log_prob is not None:
        gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 200), np.linspace(lo[1], hi[1], 200))
        grid = torch.tensor(np.stack([gx.ravel(), gy.ravel()], 1), dtype=torch.float64)
        dens = torch.exp(log_prob(grid)).reshape(gx.shape).numpy()
        ax.contourf(gx, gy, dens, levels=12, cmap="Blues")
    elif reference is not None:
        ax.scatter(ref[:, 0], ref[:, 1], s=2, c="tab:blue", alpha=0.25, label="data", linewidths=0)
    ax.scatter(pts[:, 0], pts[:, 1], s=2, c="tab:red", alpha=0.6, label="samples", linewidths=0)
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=9)
    return fig


def samples_figure(samples: Tensor, data=None, title: str = "samples"):
    """The natural picture of samples: an image grid, or a scatter over the data's density."""
    if samples.dim() == 4:
        return image_grid_figure(samples[:64], title)
    return scatter_figure(
        samples, title, data.test if data is not None else None, data.log_prob if data is not None else None
    )
