"""Folders of PNG/JPEG images: read whole, or lazily (decoded per batch), resized and cropped to one size.

`data.resize=N` scales each image so that its shorter side is N pixels (bilinear, antialiased when
shrinking) and keeps the centre N x N square; `data.crop=C` then keeps the centre C x C square
(of the resized image, or of the image as stored). Without either, all images must have one size.
Both paths decode with `decode`, so a lazy folder reads exactly the values an in-memory one holds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gausslab.core.errors import ConfigError, DataError
from gausslab.data.lazy import LazyRows, auto_lazy
from gausslab.data.raw import RawData

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
# PIL modes kept as one channel, with the value of a full-scale pixel; all other modes become 8-bit RGB.
# 16-bit greyscale PNGs open as "I;16" (or "I" in older Pillow) and keep their 65,536 levels.
_GRAY_MODES = {"1": 255, "L": 255, "LA": 255, "I;16": 65535, "I;16B": 65535, "I;16L": 65535, "I": 65535}
_IMAGE_ERRORS = (OSError, SyntaxError, ValueError, Image.DecompressionBombError)


@dataclass(frozen=True)
class Fit:
    """How every image of a folder is brought to one size: `resize` (shorter side, then centre square), `crop`."""

    resize: int | None = None
    crop: int | None = None


def read_image_folder(folder: Path, *, lazy: bool | None = None, resize: int | None = None,
                      crop: int | None = None) -> RawData:
    """PNG/JPEG images sorted by name, or class subfolders of them (labels = subfolder), as one size.

    lazy: decode a batch at a time (`LazyRows`); None: when the decoded folder would exceed
    `lazy.AUTO_LAZY_BYTES` as float32. Only image headers are read up front.
    """
    if resize is not None and crop is not None and crop > resize:
        raise ConfigError(f"data.crop={crop} exceeds data.resize={resize}; the crop is taken from the resized image")
    files, labels = _listing(folder)
    headers = [_header(f) for f in files]  # (width, height, mode), without decoding
    height, width = _size(files, headers, Fit(resize, crop))
    channels = 1 if all(mode in _GRAY_MODES for _, _, mode in headers) else 3
    scales = {_GRAY_MODES.get(mode, 255) for _, _, mode in headers}
    source = ImageFiles(files, (len(files), channels, height, width), Fit(resize, crop))
    y = None if labels is None else torch.from_numpy(labels)
    x = LazyRows(source) if auto_lazy(lazy, math.prod(source.shape) * 4) else torch.from_numpy(source.read(None))
    return RawData(x, labels=y, levels=scales.pop() + 1 if len(scales) == 1 else None)


class ImageFiles:
    """A row source over image files: `read(idx)` decodes those images into float32 [B, C, H, W]."""

    def __init__(self, files: list[Path], shape: tuple[int, int, int, int], fit: Fit):
        self.files, self.shape, self.fit = files, shape, fit

    def read(self, idx: np.ndarray | None) -> np.ndarray:
        """Images idx (None: all) decoded, greyscale broadcast to RGB where the folder has colour."""
        files = self.files if idx is None else [self.files[i] for i in idx]
        out = np.empty((len(files), *self.shape[1:]), np.float32)  # [B, C, H, W]
        for row, path in zip(out, files):
            row[...] = decode(path, self.fit).transpose(2, 0, 1)  # [C or 1, H, W]
        return out


def decode(path: Path, fit: Fit = Fit()) -> np.ndarray:
    """Image [H, W, C] float32 in [0, 1], C = 1 (greyscale, 8 or 16 bits) or 3 (anything else, as 8-bit RGB),
    resized and cropped as `fit` says."""
    try:
        with Image.open(path) as img:
            full_scale = _GRAY_MODES.get(img.mode, 255)
            img = _fitted(img if full_scale > 255 else img.convert("L" if img.mode in _GRAY_MODES else "RGB"), fit,
                          path)
            arr = np.asarray(img)  # 16-bit greyscale read as it is
    except _IMAGE_ERRORS as exc:
        raise DataError(f"cannot read image {_q(path)}: {_oneline(exc)}") from None
    if arr.min() < 0 or arr.max() > full_scale:
        raise DataError(f"image {_q(path)} has pixel values in [{arr.min()}, {arr.max()}]; expected 0..{full_scale}")
    arr = arr.astype(np.float32) / full_scale
    return arr[:, :, None] if arr.ndim == 2 else arr


def _fitted(img: Image.Image, fit: Fit, path: Path) -> Image.Image:
    """img with its shorter side scaled to fit.resize and centre-cropped to a square, then centre-cropped to fit.crop."""
    if fit.resize is not None:
        w, h = img.size
        if min(w, h) != fit.resize:
            scale = fit.resize / min(w, h)
            size = (max(fit.resize, round(w * scale)), max(fit.resize, round(h * scale)))
            img = img.resize(size, Image.Resampling.BILINEAR)
        img = _centre(img, fit.resize)
    if fit.crop is not None:
        if min(img.size) < fit.crop:
            raise DataError(f"image {_q(path)} is {_wh(img.size)}, smaller than data.crop={fit.crop}; "
                            "lower data.crop or set data.resize")
        img = _centre(img, fit.crop)
    return img


def _centre(img: Image.Image, side: int) -> Image.Image:
    w, h = img.size
    left, top = (w - side) // 2, (h - side) // 2
    return img.crop((left, top, left + side, top + side))


def _size(files: list[Path], headers: list[tuple[int, int, str]], fit: Fit) -> tuple[int, int]:
    """(H, W) every image will have, or a DataError naming two images of different sizes."""
    if fit.crop is not None or fit.resize is not None:
        side = fit.crop if fit.crop is not None else fit.resize
        return side, side
    first = headers[0][:2]
    for f, (w, h, _) in zip(files, headers):
        if (w, h) != first:
            raise DataError(
                f"image {_q(f)} is {_wh((w, h))} but {_q(files[0])} is {_wh(first)}; "
                "all images in a folder must have the same size (or set data.resize=N to bring them to N x N)"
            )
    return first[1], first[0]


def _listing(folder: Path) -> tuple[list[Path], np.ndarray | None]:
    """The folder's images sorted by name, or its subfolders' (labels [N] = subfolder number)."""
    files = _image_files(folder)
    if files:
        return files, None
    groups = [g for g in (_image_files(d) for d in sorted(folder.iterdir()) if d.is_dir()) if g]
    if not groups:
        suffixes = "/".join(IMAGE_SUFFIXES)
        raise DataError(f"folder {_q(folder)} has no {suffixes} images, nor subfolders of them")
    labels = np.repeat(np.arange(len(groups), dtype=np.int64), [len(g) for g in groups])
    return [f for g in groups for f in g], labels


def _header(path: Path) -> tuple[int, int, str]:
    """(width, height, PIL mode) from the file's header."""
    try:
        with Image.open(path) as img:
            return img.size[0], img.size[1], img.mode
    except _IMAGE_ERRORS as exc:
        raise DataError(f"cannot read image {_q(path)}: {_oneline(exc)}") from None


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _wh(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"


def _oneline(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _q(path: Path) -> str:
    return repr(str(path))
