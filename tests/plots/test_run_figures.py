"""Run pictures: image grids at >= 48 px per image, real test images where the captions say they are."""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image

import gausslab as gl
from gausslab.plots.grids import grid_cell_px
from gausslab.plots.run_figures import interpolation, real, recon
from tests.conftest import tiny_images


def _cells(png: bytes, columns: int, side: int = 8) -> tuple[np.ndarray, int]:
    """The grid's images [rows, columns, side, side] (0-255) read back from the PNG, and the cell size in pixels.

    Layout of `plots.grid_png`: tiles of side + 1 source pixels (a 1-pixel gap before each), each pixel `scale`
    PNG pixels wide.
    """
    image = Image.open(io.BytesIO(png))
    cell = int(image.text["gausslab:cell_px"])
    pixels, scale = np.asarray(image.convert("L"), dtype=np.int64), cell // side
    step = (side + 1) * scale
    rows = (pixels.shape[0] - scale) // step
    blocks = [[pixels[r * step + scale: r * step + scale + cell: scale, c * step + scale: c * step + scale + cell: scale]
               for c in range(columns)] for r in range(rows)]
    return np.array(blocks), cell


def _as_bytes(x: torch.Tensor) -> np.ndarray:
    return (x.clamp(0, 1) * 255).round().to(torch.int64).numpy()[:, 0]


def test_grids_show_real_test_images_at_48_px():
    data = tiny_images(n=160)
    model = gl.build_model("vae", data, latent_dim=2)
    with torch.no_grad():
        rec, lines, grid = recon(model, data), interpolation(model, data), real(model, data)
    blocks, cell = _cells(rec, 8)
    assert cell >= 48 and blocks.shape[:2] == (8, 8)
    assert np.array_equal(blocks[0::2].reshape(-1, 8, 8), _as_bytes(data.test[:32]))  # odd rows: test images
    blocks, _ = _cells(lines, 10)
    assert np.array_equal(blocks[:, 0], _as_bytes(data.test[:6])) and np.array_equal(blocks[:, -1],
                                                                                     _as_bytes(data.test[6:12]))
    blocks, _ = _cells(grid, 8)
    assert np.array_equal(blocks.reshape(-1, 8, 8), _as_bytes(data.test[:64]))


def test_cell_size_is_read_back(tmp_path):
    path = tmp_path / "grid.png"
    path.write_bytes(real(None, tiny_images()))
    assert grid_cell_px(path) == 48
