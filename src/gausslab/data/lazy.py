"""`LazyRows`: a split whose examples stay on disk and are read (decoded, converted) a batch at a time.

A lazy split is a row source (a memory-mapped .npy file, a folder of images) plus an index array
into it, so splitting copies indices, never examples. Reading rows gives the float32 tensor the
in-memory path would hold for them, bit for bit: both paths convert with the same functions.
The trainer asks for one batch at a time (`index_select`) and moves only that batch to the device.
"""

from __future__ import annotations

import math
import mmap
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch import Tensor

from gausslab.core.errors import DataError
from gausslab.core.resources import check_memory

# Data whose float32 form exceeds this is read lazily unless `data.lazy` says otherwise.
AUTO_LAZY_BYTES = 1 << 30
# Rows streamed per chunk when a whole file is checked.
CHUNK_BYTES = 64 << 20


class RowSource(Protocol):
    """Where a lazy split's rows come from: `shape` of all rows [N, *example], `read(idx)` -> float32."""

    shape: tuple[int, ...]

    def read(self, idx: np.ndarray) -> np.ndarray:
        """Rows idx [B] (int64, into the source) as float32 [B, *example]."""


def auto_lazy(lazy: bool | None, float32_bytes: int) -> bool:
    """`data.lazy` resolved: as given, or (None) lazy when the data take more than AUTO_LAZY_BYTES as float32."""
    return float32_bytes > AUTO_LAZY_BYTES if lazy is None else lazy


class LazyRows:
    """Examples [N, *shape] float32 read from their source on demand, never all at once unless asked.

    It answers the few tensor questions the layers above ask of a split: `shape`, `len`, `dim()`,
    `index_select(0, rows)` and indexing (which read those rows), `split(size)` (chunks read one by
    one), `subset(idx)` (a smaller lazy split) and `to(device)` (the whole split, checked against
    the memory available).
    """

    dtype = torch.float32

    def __init__(self, source: RowSource, index: np.ndarray | None = None):
        self.source = source
        self.index = np.arange(source.shape[0], dtype=np.int64) if index is None else index  # [N] into source

    @property
    def shape(self) -> torch.Size:
        """[N, *example]."""
        return torch.Size((len(self.index), *self.source.shape[1:]))

    def __len__(self) -> int:
        return len(self.index)

    def dim(self) -> int:
        """Number of dimensions of the whole split (4 for images, 2 for vectors)."""
        return len(self.shape)

    def subset(self, idx: Tensor | np.ndarray) -> LazyRows:
        """The rows idx of this split as another lazy split (indices only are copied)."""
        return LazyRows(self.source, self.index[np.asarray(idx, dtype=np.int64)])

    def index_select(self, dim: int, idx: Tensor) -> Tensor:
        """Rows idx [B] read into a float32 tensor [B, *shape] (dim must be 0)."""
        if dim != 0:
            raise ValueError("a lazy split selects rows only (dim=0)")
        return self._read(self.index[idx.numpy()])

    def __getitem__(self, key) -> Tensor:
        rows = self.index[key.numpy() if isinstance(key, Tensor) else key]
        return self._read(rows) if np.ndim(rows) else self._read(rows[None])[0]

    def split(self, size: int) -> Iterator[Tensor]:
        """Consecutive chunks of at most `size` rows, each read when it is reached."""
        for start in range(0, len(self), size):
            yield self._read(self.index[start : start + size])

    def to(self, device: torch.device | str) -> Tensor:
        """The whole split as one tensor on `device` (evaluation of a small split; the trainer never asks)."""
        check_memory(math.prod(self.shape) * 4, f"the {len(self)} examples of this lazy split", DataError)
        return torch.cat(list(self.split(4096))).to(device) if len(self) else self._read(self.index).to(device)

    def _read(self, rows: np.ndarray) -> Tensor:
        return torch.from_numpy(self.source.read(rows))


def in_memory(x: Tensor | LazyRows) -> Tensor:
    """x itself when it is a tensor; a lazy split read whole (for computations that need every row at once)."""
    return x if isinstance(x, Tensor) else x.to("cpu")


def take(x: Tensor | LazyRows, idx: Tensor) -> Tensor | LazyRows:
    """Rows idx of x: a tensor for a tensor, a lazy split (no rows read) for a lazy one."""
    return x.subset(idx) if isinstance(x, LazyRows) else x[idx]


class MappedArray:
    """A row source over a C-ordered array in a file, memory-mapped, converted by `convert` per read.

    Touched pages of a mapping count as the process's resident memory until it unmaps them, and a
    fault on one row maps the pages (large folios, on recent Linux) around it too: a thousand scattered
    rows of a 0.8 GB file mapped 0.6 GB. So the mapping's pages are dropped (MADV_DONTNEED) after every
    read; the page cache keeps them, and the next read maps them again at the cost of a minor fault.
    """

    def __init__(self, path: Path, shape: tuple[int, ...], dtype: np.dtype, offset: int, convert, view=None):
        with path.open("rb") as f:
            self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        array = np.frombuffer(self._map, dtype=dtype, count=math.prod(shape), offset=offset).reshape(shape)
        self.array = view(array) if view is not None else array  # e.g. [N, H, W] -> [N, 1, H, W]
        self.shape = tuple(self.array.shape)
        self._convert = convert

    def read(self, idx: np.ndarray) -> np.ndarray:
        """Rows idx converted to float32 [B, *example]."""
        rows = self.array[idx]  # a copy
        self._release()
        return self._convert(rows)

    def chunks(self, nbytes: int = CHUNK_BYTES) -> Iterator[np.ndarray]:
        """The raw rows in consecutive chunks of about `nbytes` (a streamed check of the whole file)."""
        per = max(1, nbytes // max(1, self.array[:1].nbytes))
        for start in range(0, self.shape[0], per):
            yield self.array[start : start + per]
            self._release()

    def _release(self) -> None:
        if hasattr(mmap, "MADV_DONTNEED"):  # elsewhere the system decides
            self._map.madvise(mmap.MADV_DONTNEED)
