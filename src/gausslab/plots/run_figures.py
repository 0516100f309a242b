"""Pictures of one trained model: `picture(model, data, label)` -> a matplotlib figure or PNG bytes.

`samples` (every model) and `real` (image data: test images to set beside the samples),
`recon` and `interpolation` (VAEs on images: test images beside their reconstructions, and
decoded straight lines between the codes of two test images), `pushforward` (toys: the Gaussian
base and its image under the decoder/generator), `latent` (2-D latents: aggregate posterior over
the prior's density) and `traversal` (latent traversals on `shapes`). `label` names the model in
titles. Image grids are written pixel for pixel (`grid_png`); charts have a title, axis labels and
a legend where they have more than one kind of mark. Which pictures a study run gets is the
study's choice (`study.figures`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from gausslab.core.fileio import atomic_write_bytes
from gausslab.data import Dataset
from gausslab.plots import toys as toyplots
from gausslab.plots.grids import grid_png, plt, save_png, tile

SEED = 0  # all pictures draw from one fixed generator, so reruns redraw the same picture


def _generator(model) -> torch.Generator:
    return torch.Generator(model.device).manual_seed(SEED)


def samples(model, data: Dataset, label: str) -> object:
    """64 samples as an image grid, or 2,500 samples over the true density / the test data (vectors)."""
    if data.kind == "image":
        return grid_png(model.sample(64, generator=_generator(model)).cpu())
    title = f"{label}: samples ({data.name})"
    if data.shape[0] > 2:
        title += f"\nfirst 2 of {data.shape[0]} coordinates"
    return with_legend(toyplots.samples_over_density(model, data, seed=SEED, title=title), data)


def real(model, data: Dataset, label: str = "") -> bytes:
    """The first 64 test images, the grid every sample grid is shown beside."""
    return grid_png(data.test[:64])


def recon(model, data: Dataset, label: str = "", pairs: int = 4, columns: int = 8) -> bytes:
    """Rows of test images, each followed by a row of their reconstructions (decoded posterior means)."""
    pairs = max(1, min(pairs, len(data.test) // columns))
    x = data.test[: pairs * columns]
    rec = model.decode(model.encode(x.to(model.device)).loc).cpu()  # [P*C, *shape]
    rows = torch.stack([x.view(pairs, columns, *data.shape), rec.view(pairs, columns, *data.shape)], dim=1)
    return grid_png(rows.flatten(0, 2), nrow=columns)  # [P, 2, C, *shape] -> real row, reconstructed row, ...


def interpolation(model, data: Dataset, label: str = "", rows: int = 6, steps: int = 8) -> bytes:
    """Each row: test image a, the decoded codes on the straight line from E[z|a] to E[z|b], test image b."""
    rows = max(1, min(rows, len(data.test) // 2))
    x = data.test[: 2 * rows].to(model.device)
    z = model.encode(x).loc  # [2R, D]
    t = torch.linspace(0, 1, steps, device=model.device)[None, :, None]  # [1, S, 1]
    line = z[:rows, None] * (1 - t) + z[rows:, None] * t  # [R, S, D]
    decoded = model.decode(line.flatten(0, 1)).cpu().view(rows, steps, *data.shape)
    grid = torch.cat([x[:rows, None].cpu(), decoded, x[rows:, None].cpu()], dim=1)  # [R, S+2, *shape]
    return grid_png(grid.flatten(0, 1), nrow=steps + 2)


def with_legend(fig, data: Dataset):
    """Axis names and a legend for a `plots.scatter_figure` (red: samples; blue: test data or the true density)."""
    ax = fig.axes[0]
    handles, labels = ax.get_legend_handles_labels()
    if data.log_prob is not None and data.shape == (2,):
        handles.append(plt.Rectangle((0, 0), 1, 1, color=plt.get_cmap("Blues")(0.6)))
        labels.append("true density")
    ax.legend(handles, labels, loc="upper right", markerscale=4, framealpha=0.8)
    ax.set(xlabel="x₁", ylabel="x₂")
    return fig


def pushforward(model, data: Dataset, label: str) -> object:
    """Left: a grid of base points z ~ N(0, I); right: where the decoder/generator sends them."""
    title = f"{label}: how the network bends N(0, I) into {data.name}"
    return toyplots.push_forward_figure(model, data, title=title)


def latent(model, data: Dataset, label: str, depth: float = 8.0) -> object:
    """Encoded test means (the aggregate posterior's support) over the prior's log-density contours.

    Log-density levels (the top `depth` nats) show a peaked learned prior as clearly as N(0, I).
    """
    codes = model.encode(data.test.to(model.device)).loc.detach().cpu().numpy()  # [M, 2]
    lo, hi = np.minimum(codes.min(0), -3.0), np.maximum(codes.max(0), 3.0)
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 160), np.linspace(lo[1], hi[1], 160))
    grid = torch.tensor(np.stack([gx.ravel(), gy.ravel()], 1), dtype=torch.float32, device=model.device)
    log_p = model.prior.log_prob(grid).detach().cpu().numpy().reshape(gx.shape)
    fig, ax = plt.subplots(figsize=(4.6, 4))
    ax.contourf(gx, gy, log_p, levels=np.linspace(log_p.max() - depth, log_p.max(), 9), cmap="Greys", alpha=0.45,
                extend="neither")
    labels = data.test_labels.numpy() if data.test_labels is not None else None
    points = ax.scatter(codes[:, 0], codes[:, 1], s=4, c=labels, cmap="tab10" if labels is not None else None,
                        linewidths=0, alpha=0.8)
    if labels is not None:
        fig.colorbar(points, ax=ax, label="label", fraction=0.046, pad=0.04)
    ax.legend(handles=[points, plt.Rectangle((0, 0), 1, 1, color="0.55")],
              labels=["E[z|x], test set", f"log p(z), top {depth:g} nats"], loc="upper right", framealpha=0.8)
    ax.set(xlabel="z₁", ylabel="z₂", xlim=(lo[0], hi[0]), ylim=(lo[1], hi[1]))
    ax.set_title(f"{label}: aggregate posterior vs prior", fontsize=9)
    return fig


def traversal(model, data: Dataset, label: str, rows: int = 8, steps: int = 9) -> object:
    """Decode one test code with one unit swept over ±3 std of the encoded test means (rows: most active units)."""
    q = model.encode(data.test.to(model.device))
    mean, std = q.loc.mean(0), q.loc.std(0)  # [D] aggregate posterior moments per unit
    order = _units_by_activity(q)[:rows]
    t = torch.linspace(-3, 3, steps, device=model.device)
    z = q.loc[:1].repeat(len(order) * steps, 1)  # [rows*steps, D]
    for r, unit in enumerate(order):
        z[r * steps : (r + 1) * steps, unit] = mean[unit] + t * std[unit]
    images = model.decode(z).detach().cpu()
    fig, ax = plt.subplots(figsize=(0.5 * steps + 1.2, 0.5 * len(order) + 0.8))
    ax.imshow(tile(images, nrow=steps), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    side = images.shape[-1] + 1
    ax.set_yticks([side * (r + 0.5) for r in range(len(order))], [f"z{u}" for u in order.tolist()])
    ax.set_xticks([side * (c + 0.5) for c in (0, steps // 2, steps - 1)], ["−3σ", "mean", "+3σ"])
    ax.set_title(f"{label}: latent traversals (rows: most active units)", fontsize=9)
    return fig


def _units_by_activity(q) -> Tensor:
    """Latent units by Cov_x(E_q[z_u]) (Burda et al. 2016's activity statistic), most active first."""
    return q.loc.var(0).argsort(descending=True)


def save_picture(picture, path: Path) -> None:
    """A matplotlib figure or ready PNG bytes, written atomically."""
    if isinstance(picture, bytes):
        atomic_write_bytes(path, picture)
    else:
        save_png(picture, path)
