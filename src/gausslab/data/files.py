"""Readers for users' own data: MNIST-style IDX, NumPy .npy/.npz, CSV and image folders.

Vectors (`[N, D]`) are used as given; images come back as `[N, C, H, W]` float32 in [0, 1], with
`levels=256` when they were stored as integers (8-bit: IDX, PNG/JPEG, integer arrays). Large .npy
files are kept on disk instead and read a batch at a time (`lazy.LazyRows`); image folders are read in `folders.py`.
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

from gausslab.core.errors import ConfigError, DataError
from gausslab.core.resources import check_memory
from gausslab.data.folders import read_image_folder
from gausslab.data.lazy import LazyRows, RowFile, auto_lazy
from gausslab.data.raw import RawData

X_KEYS = ("x", "images")  # .npz keys tried for the data, before falling back to the first array
LABEL_KEYS = ("y", "labels")
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


def read_path(path: str | os.PathLike, *, lazy: bool | None = None, resize: int | None = None,
              crop: int | None = None) -> RawData:
    """Read a data file, or a folder of PNG/JPEG images, into unsplit `RawData`.

    lazy: keep the examples on disk (`LazyRows`): .npy files and image folders; None: when their
    float32 form exceeds `lazy.AUTO_LAZY_BYTES`. resize, crop: image folders only (`folders.py`).
    """
    path = Path(path)
    if path.is_dir():
        return read_image_folder(path, lazy=lazy, resize=resize, crop=crop)
    if not path.is_file():
        raise DataError(f"no such data file or folder: {_q(path)}")
    kind = _file_kind(path.name)
    reader = READERS.get(kind)
    if reader is None:
        raise DataError(
            f"cannot read {_q(path)}: unsupported file type; expected .npz, .npy, .csv, "
            "IDX (.idx or -ubyte, optionally .gz) or a folder of PNG/JPEG images"
        )
    for option, value in (("resize", resize), ("crop", crop), ("lazy", lazy if kind != ".npy" else None)):
        if value:
            only = "image folders" if option != "lazy" else ".npy files and image folders"
            raise ConfigError(f"data.{option}={value!r} applies to {only}, not to {_q(path)}")
    if path.stat().st_size == 0:
        raise DataError(f"data file {_q(path)} is empty")
    if kind == ".npy":
        return read_npy(path, lazy)
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


def read_npy(path: Path, lazy: bool | None = None) -> RawData:
    """A `.npy` array: in memory (`read_numpy`), or kept on disk when `lazy` (None: when it is large)."""
    try:
        with path.open("rb") as f:
            header = _npy_header(f, path.stat().st_size, path)
    except (ValueError, OSError, EOFError) as exc:
        raise DataError(
            f"cannot read {_q(path)}: {_oneline(exc)}; expected a NumPy .npy/.npz file of numeric arrays"
        ) from None
    shape, fortran, dtype, _ = header
    if not auto_lazy(lazy, math.prod(shape) * 4) or (fortran and lazy is None):
        return read_numpy(path)
    if fortran:
        raise DataError(f"{_q(path)} is stored in Fortran order, so its examples cannot be read one by one; "
                        "save it with np.save(path, np.ascontiguousarray(x)) or set data.lazy=false")
    return _lazy_raw(path, header)


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
    data = _checked_float32(x if x.ndim == 2 else _nchw(x, source), source)
    y = None if labels is None else _check_labels(*labels, n=len(data))
    return RawData(torch.from_numpy(np.ascontiguousarray(data)), labels=y, levels=_levels(x))


def _checked_float32(x: np.ndarray, source: Path) -> np.ndarray:
    """Vectors [N, D] or images [N, C, H, W] as float32 (`as_float32`), refusing values they cannot hold."""
    data = _vectors(x, source) if x.ndim == 2 else _unit_images(x, source)
    bad = int(np.count_nonzero(~np.isfinite(data)))
    if bad:
        raise DataError(f"{_q(source)} has {bad} NaN/inf values (of {data.size}); remove or impute them")
    return data


def as_float32(x: np.ndarray) -> np.ndarray:
    """The float32 form of checked rows: integer images / 255, everything else as it is."""
    if x.ndim > 2 and x.dtype.kind in "iu":
        return x.astype(np.float32) / 255.0
    return x.astype(np.float32)


def _levels(x: np.ndarray) -> int | None:
    return 256 if x.ndim > 2 and x.dtype.kind in "iu" else None  # integer images are 8-bit (checked)


def _lazy_raw(path: Path, header: tuple) -> RawData:
    """A .npy file kept on disk as a lazy split, its values checked once in streamed chunks."""
    shape, _, dtype, offset = header
    if dtype.kind not in "biuf" or not shape or math.prod(shape) == 0 or len(shape) not in (2, 3, 4):
        return read_numpy(path)  # the in-memory reader names what is wrong
    source = RowFile(path, shape, dtype, offset, as_float32,
                         view=None if len(shape) == 2 else lambda a: _nchw(a, path))
    if dtype != np.uint8:  # uint8 images are always 0..255; anything else is checked here, not mid-run
        for rows in source.chunks():
            _checked_float32(rows, path)
    probe = np.zeros((1, *shape[1:]), dtype)
    return RawData(LazyRows(source), levels=_levels(probe))


def _vectors(x: np.ndarray, source: Path) -> np.ndarray:
    """Vectors as float32, refusing values that float32 cannot hold (they would silently become inf)."""
    finite = np.abs(x[np.isfinite(x)]) if x.dtype.kind == "f" else np.abs(x)
    largest = float(finite.max()) if finite.size else 0.0
    if largest > _FLOAT32_MAX:
        raise DataError(f"{_q(source)} holds values up to {largest:g}, which overflow float32 (largest "
                        f"{_FLOAT32_MAX:.4g}); rescale the data")
    return as_float32(x)


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
        return as_float32(x)
    if lo < 0 or hi > 1:  # NaN compares False here and is reported by the finite check
        raise DataError(
            f"{_q(source)} has float pixel values in [{lo:g}, {hi:g}]; expected [0, 1] "
            "(divide by 255, or save as uint8)"
        )
    return as_float32(x)


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


def _npy_header(f, size: int, source: Path) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """(shape, fortran order, dtype, data offset) of one .npy stream of `size` bytes (format 1.0 or 2.0),
    checked against the bytes that follow the header; numeric dtypes only."""
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
    return shape, fortran, dtype, f.tell()


def _read_npy(f, size: int, source: Path) -> np.ndarray:
    """The array of one .npy stream of `size` bytes, read into memory."""
    shape, fortran, dtype, _ = _npy_header(f, size, source)
    need = math.prod(shape) * dtype.itemsize
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


def _is_number(field: str) -> bool:
    try:
        float(field)
    except ValueError:
        return False
    return True


def _oneline(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _q(path: Path) -> str:
    return repr(str(path))
