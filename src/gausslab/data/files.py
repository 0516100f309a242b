"""Readers for users' own data: MNIST-style IDX, NumPy .npy/.npz, CSV and image folders.

Vectors (`[N, D]`) are used as given; images come back as `[N, C, H, W]` float32 in [0, 1], with
`levels=256` when they were stored as integers (8-bit: IDX, PNG/JPEG, integer arrays).
Every problem with a file raises `DataError` with one line naming the file and the value
at fault; no NumPy, PIL, gzip or zipfile exception escapes.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gausslab.core.errors import DataError
from gausslab.core.resources import check_memory
from gausslab.data.raw import RawData

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
X_KEYS = ("x", "images")  # .npz keys tried for the data, before falling back to the first array
LABEL_KEYS = ("y", "labels")
# PIL modes kept as one channel, with the value of a full-scale pixel; all other modes become 8-bit RGB.
# 16-bit greyscale PNGs open as "I;16" (or "I" in older Pillow) and keep their 65,536 levels.
_GRAY_MODES = {"1": 255, "L": 255, "LA": 255, "I;16": 65535, "I;16B": 65535, "I;16L": 65535, "I": 65535}
_FLOAT32_MAX = float(np.finfo(np.float32).max)

# IDX type codes (LeCun et al., "THE MNIST DATABASE", file format section); data big-endian.
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_path(path: str | os.PathLike) -> RawData:
    """Read a data file, or a folder of PNG/JPEG images, into unsplit `RawData`."""
    path = Path(path)
    if path.is_dir():
        return read_image_folder(path)
    if not path.is_file():
        raise DataError(f"no such data file or folder: {_q(path)}")
    reader = READERS.get(_file_kind(path.name))
    if reader is None:
        raise DataError(
            f"cannot read {_q(path)}: unsupported file type; expected .npz, .npy, .csv, "
            "IDX (.idx or -ubyte, optionally .gz) or a folder of PNG/JPEG images"
        )
    if path.stat().st_size == 0:
        raise DataError(f"data file {_q(path)} is empty")
    return reader(path)


def read_idx(path: Path) -> RawData:
    """MNIST-style IDX file (optionally gzipped); labels come from a `*-labels-idx1-*` file beside it."""
    x = _idx_array(path)
    labels_path = _labels_beside(path)
    labels = None if labels_path is None else (labels_path, _idx_array(labels_path))
    return _to_raw(x, path, labels)


def read_numpy(path: Path) -> RawData:
    """`.npy` array, or `.npz` with data under `x` / `images` (else its first array), labels `y`/`labels`."""
    arrays = _load_arrays(path)
    x_key = next((k for k in X_KEYS if k in arrays), None)
    x_key = x_key or next((k for k in arrays if k not in LABEL_KEYS), None)
    if x_key is None:
        raise DataError(f"{_q(path)} holds no data array (keys: {sorted(arrays)}); store it under 'x'")
    y_key = next((k for k in LABEL_KEYS if k in arrays), None)
    labels = None if y_key is None else (path, arrays[y_key])
    return _to_raw(arrays[x_key], path, labels)


def read_csv(path: Path) -> RawData:
    """CSV of numbers, one example per line, into vectors `[N, D]`; one header line of names allowed."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(f"{_q(path)} is not UTF-8 text; expected a CSV of numbers") from None
    rows = [(i, line) for i, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if rows and not any(_is_number(f) for f in rows[0][1].split(",")):
        rows = rows[1:]  # a header: every field of the first line is a name
    if not rows:
        raise DataError(f"{_q(path)} has no data lines; expected a CSV of numbers")
    return _to_raw(_parse_csv(rows, path), path)


def read_image_folder(folder: Path) -> RawData:
    """PNG/JPEG images of one size, sorted by name; or class subfolders of them (labels = subfolder)."""
    files, labels = _image_files(folder), None
    if not files:
        groups = [_image_files(d) for d in sorted(folder.iterdir()) if d.is_dir()]
        groups = [g for g in groups if g]
        files = [f for g in groups for f in g]
        labels = (folder, np.repeat(np.arange(len(groups)), [len(g) for g in groups]))
    if not files:
        suffixes = "/".join(IMAGE_SUFFIXES)
        raise DataError(f"folder {_q(folder)} has no {suffixes} images, nor subfolders of them")
    arrays = [_read_image(f) for f in files]  # each [H, W, C]
    for f, a in zip(files, arrays):
        if a.shape[:2] != arrays[0].shape[:2]:
            raise DataError(
                f"image {_q(f)} is {_wh(a)} but {_q(files[0])} is {_wh(arrays[0])}; "
                "all images in a folder must have the same size"
            )
    channels = max(a.shape[2] for a in arrays)  # grayscale joins RGB folders as 3 equal channels
    x = np.stack([np.broadcast_to(a, a.shape[:2] + (channels,)) for a in arrays])  # [N, H, W, C]
    return _to_raw(x.transpose(0, 3, 1, 2), folder, labels)


READERS: dict[str | None, Callable[[Path], RawData]] = {
    "idx": read_idx,
    ".npy": read_numpy,
    ".npz": read_numpy,
    ".csv": read_csv,
}


def _file_kind(name: str) -> str | None:
    """Key into READERS: 'idx' for IDX names (gzipped or not), else the suffix; None for other .gz."""
    name = name.lower()
    base = name.removesuffix(".gz")
    if base.endswith(("ubyte", ".idx")):
        return "idx"
    return None if base != name else Path(name).suffix


def _to_raw(x: np.ndarray, source: Path, labels: tuple[Path, np.ndarray] | None = None) -> RawData:
    """Checked float32 tensor from a numeric array: vectors as given, images NCHW in [0, 1]."""
    if x.dtype.kind not in "biuf":
        raise DataError(f"{_q(source)} holds dtype {x.dtype}, not numeric; expected integers or floats")
    if x.size == 0:
        raise DataError(f"{_q(source)} holds no data (array shape {x.shape})")
    if x.ndim not in (2, 3, 4):
        raise DataError(
            f"{_q(source)} holds an array of shape {x.shape}; expected [N, D] vectors, "
            "[N, H, W] images or [N, C, H, W] / [N, H, W, C] images with C = 1 or 3"
        )
    data = _vectors(x, source) if x.ndim == 2 else _unit_images(_nchw(x, source), source)
    bad = int(np.count_nonzero(~np.isfinite(data)))
    if bad:
        raise DataError(f"{_q(source)} has {bad} NaN/inf values (of {data.size}); remove or impute them")
    y = None if labels is None else _check_labels(*labels, n=len(data))
    levels = 256 if x.ndim > 2 and x.dtype.kind in "iu" else None  # integer images are 8-bit (checked above)
    return RawData(torch.from_numpy(np.ascontiguousarray(data)), labels=y, levels=levels)


def _vectors(x: np.ndarray, source: Path) -> np.ndarray:
    """Vectors as float32, refusing values that float32 cannot hold (they would silently become inf)."""
    finite = np.abs(x[np.isfinite(x)]) if x.dtype.kind == "f" else np.abs(x)
    largest = float(finite.max()) if finite.size else 0.0
    if largest > _FLOAT32_MAX:
        raise DataError(f"{_q(source)} holds values up to {largest:g}, which overflow float32 (largest "
                        f"{_FLOAT32_MAX:.4g}); rescale the data")
    return x.astype(np.float32)


def _nchw(x: np.ndarray, source: Path) -> np.ndarray:
    """Images `[N, C, H, W]` from `[N, H, W]`, `[N, C, H, W]` or `[N, H, W, C]` (C = 1 or 3)."""
    if x.ndim == 3:
        return x[:, None]
    if x.shape[1] in (1, 3):
        return x
    if x.shape[3] in (1, 3):
        return x.transpose(0, 3, 1, 2)
    raise DataError(f"{_q(source)} holds images of shape {x.shape}; expected 1 or 3 channels, first or last")


def _unit_images(x: np.ndarray, source: Path) -> np.ndarray:
    """Integer images 0..255 divided by 255; float (or bool) images must already lie in [0, 1]."""
    lo, hi = x.min(), x.max()
    if x.dtype.kind in "iu":
        if lo < 0 or hi > 255:
            raise DataError(f"{_q(source)} has integer pixel values in [{lo}, {hi}]; expected 0..255")
        return x.astype(np.float32) / 255.0
    if lo < 0 or hi > 1:  # NaN compares False here and is reported by the finite check
        raise DataError(
            f"{_q(source)} has float pixel values in [{lo:g}, {hi:g}]; expected [0, 1] "
            "(divide by 255, or save as uint8)"
        )
    return x.astype(np.float32)


def _check_labels(source: Path, labels: np.ndarray, n: int) -> torch.Tensor:
    """Labels `[N]` int64, or a DataError naming their file, shape and dtype."""
    if labels.ndim != 1 or len(labels) != n or labels.dtype.kind not in "biu":
        raise DataError(
            f"labels in {_q(source)} have shape {labels.shape} and dtype {labels.dtype}; "
            f"expected {n} integers, one per example"
        )
    return torch.from_numpy(labels.astype(np.int64))


def _idx_array(path: Path) -> np.ndarray:
    """The array in an IDX file: magic 00 00 <type> <rank>, rank big-endian uint32 dims, data."""
    raw = _read_bytes(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_DTYPES or raw[3] == 0:
        codes = ", ".join(f"{c:02x}" for c in IDX_DTYPES)
        raise DataError(
            f"{_q(path)} is not an IDX file: magic number {raw[:4].hex() or 'missing'}; "
            f"expected 00 00 <type> <rank> with type one of {codes} and rank >= 1"
        )
    dtype, rank = IDX_DTYPES[raw[2]], raw[3]
    header = 4 + 4 * rank
    if len(raw) < header:
        raise DataError(f"{_q(path)} is truncated: {len(raw)} bytes, less than its {header}-byte IDX header")
    dims = struct.unpack(f">{rank}I", raw[4:header])
    expected = header + math.prod(dims) * dtype.itemsize
    if len(raw) != expected:
        raise DataError(
            f"{_q(path)} has {len(raw)} bytes but its IDX header (shape {dims}, dtype {dtype.name}) "
            f"needs exactly {expected}; the file is truncated or corrupt"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)


def _read_bytes(path: Path) -> bytes:
    if not path.name.lower().endswith(".gz"):
        return path.read_bytes()
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"cannot decompress {_q(path)}: {_oneline(exc)}; the .gz file is corrupt") from None


def _labels_beside(path: Path) -> Path | None:
    """`train-labels-idx1-ubyte[.gz]` beside `train-images-idx3-ubyte[.gz]`, if it exists."""
    name = path.name.replace("images", "labels").replace("idx3", "idx1")
    if name == path.name:
        return None
    toggled = name.removesuffix(".gz") if name.endswith(".gz") else name + ".gz"
    return next((c for c in (path.with_name(name), path.with_name(toggled)) if c.is_file()), None)


def _load_arrays(path: Path) -> dict[str, np.ndarray]:
    """All arrays of a .npy (as key 'x') or .npz file (its .npy members), never unpickling.

    Each array's header is checked against the bytes that follow it before anything is allocated,
    so a header declaring an absurd shape is one DataError, not a MemoryError.
    """
    try:
        with path.open("rb") as f:  # ours to close, even when NumPy fails half-way
            if f.read(4) != b"PK\x03\x04":  # not a zip archive: a single .npy
                f.seek(0)
                return {"x": _read_npy(f, path.stat().st_size, path)}
            with zipfile.ZipFile(f) as archive:
                return {info.filename.removesuffix(".npy"): _read_npy(archive.open(info), info.file_size, path)
                        for info in archive.infolist() if info.filename.endswith(".npy")}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(
            f"cannot read {_q(path)}: {_oneline(exc)}; expected a NumPy .npy/.npz file of numeric arrays"
        ) from None


def _read_npy(f, size: int, source: Path) -> np.ndarray:
    """The array of one .npy stream of `size` bytes (format 1.0 or 2.0, numeric dtypes only)."""
    version = np.lib.format.read_magic(f)
    if version not in ((1, 0), (2, 0)):
        raise DataError(f"{_q(source)} is a .npy file of format {version}; expected 1.0 or 2.0")
    read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, fortran, dtype = read_header(f)
    if dtype.hasobject:
        raise DataError(f"{_q(source)} holds Python objects (dtype {dtype}), which are never unpickled; "
                        "expected integers or floats")
    need = math.prod(shape) * dtype.itemsize
    held = size - f.tell()
    if need != held:
        raise DataError(f"{_q(source)} declares an array of shape {shape} and dtype {dtype} ({need} bytes) but "
                        f"holds {held} bytes after its header; the file is truncated or corrupt")
    check_memory(need, f"the array of shape {shape} in {_q(source)}", DataError)
    data = f.read(need)
    if len(data) != need:
        raise DataError(f"{_q(source)} ends after {len(data)} of the {need} bytes its header declares")
    return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")


def _parse_csv(rows: list[tuple[int, str]], path: Path) -> np.ndarray:
    """Values `[N, D]` float64 from numbered CSV lines, or a DataError naming the bad line and value."""
    width = len(rows[0][1].split(","))
    values = []
    for line_no, line in rows:
        fields = line.split(",")
        if len(fields) != width:
            raise DataError(f"{_q(path)} line {line_no} has {len(fields)} values; expected {width}")
        bad = next((f for f in fields if not _is_number(f)), None)
        if bad is not None:
            raise DataError(f"{_q(path)} line {line_no}: {bad.strip()!r} is not a number; expected numbers")
        values.append([float(f) for f in fields])
    return np.array(values, dtype=np.float64)


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _read_image(path: Path) -> np.ndarray:
    """Image `[H, W, C]` float32 in [0, 1] with C = 1 (greyscale, 8 or 16 bits) or 3 (anything else, as 8-bit RGB)."""
    try:
        with Image.open(path) as img:
            full_scale = _GRAY_MODES.get(img.mode, 255)
            if full_scale > 255:  # 16-bit greyscale, read as it is
                arr = np.asarray(img)
            else:
                arr = np.asarray(img.convert("L" if img.mode in _GRAY_MODES else "RGB"))
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise DataError(f"cannot read image {_q(path)}: {_oneline(exc)}") from None
    if arr.min() < 0 or arr.max() > full_scale:
        raise DataError(f"image {_q(path)} has pixel values in [{arr.min()}, {arr.max()}]; expected 0..{full_scale}")
    arr = arr.astype(np.float32) / full_scale
    return arr[:, :, None] if arr.ndim == 2 else arr


def _is_number(field: str) -> bool:
    try:
        float(field)
    except ValueError:
        return False
    return True


def _wh(image: np.ndarray) -> str:
    return f"{image.shape[1]}x{image.shape[0]}"


def _oneline(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _q(path: Path) -> str:
    return repr(str(path))
