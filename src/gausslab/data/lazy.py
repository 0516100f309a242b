"""`LazyRows`: a split whose examples stay on disk and are read (decoded, converted) a batch at a time.

A lazy split is a row source (a .npy file read at its rows' offsets, a folder of images) plus an index array
into it, so splitting copies indices, never examples. Reading rows gives the float32 tensor the
in-memory path would hold for them, bit for bit: both paths convert with the same functions.
The trainer asks for one batch at a time (`index_select`) and moves only that batch to the device.
A .npy file is read row by row at its rows' offsets (`RowFile`), never mapped into memory.
"""

from __future__ import annotations

import math
import os
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


class RowFile:
    """A row source over a C-ordered array in a file: rows are read with positional reads and converted
    by `convert`, so the file stays in the page cache and out of the process's memory.

    A memory map was tried first: the pages it touches count as resident memory, and one faulting
    row maps the large folio around it (recent Linux), so a batch of 1,024 scattered rows of a 0.8 GB
    file made 0.6 GB resident. `os.pread` of one row at a time costs ~2 us a row and maps nothing.
    """

    def __init__(self, path: Path, shape: tuple[int, ...], dtype: np.dtype, offset: int, convert, view=None):
        self._file = path.open("rb")  # kept open for the source's lifetime
        self._stored, self._dtype, self._offset = shape, dtype, offset
        self._row_bytes = math.prod(shape[1:]) * dtype.itemsize
        self._view = view or (lambda a: a)  # e.g. [N, H, W] -> [N, 1, H, W]
        self.shape = (shape[0], *self._view(np.empty((0, *shape[1:]), dtype)).shape[1:])
        self._convert = convert

    def read(self, idx: np.ndarray) -> np.ndarray:
        """Rows idx converted to float32 [B, *example]."""
        fd, size, at = self._file.fileno(), self._row_bytes, self._offset
        raw = b"".join(os.pread(fd, size, at + int(i) * size) for i in idx)
        return self._convert(self._rows(raw, len(idx)))

    def chunks(self, nbytes: int = CHUNK_BYTES) -> Iterator[np.ndarray]:
        """The raw rows in consecutive chunks of about `nbytes` (a streamed check of the whole file)."""
        per = max(1, nbytes // max(1, self._row_bytes))
        for start in range(0, self.shape[0], per):
            n = min(per, self.shape[0] - start)
            at = self._offset + start * self._row_bytes
            yield self._rows(os.pread(self._file.fileno(), n * self._row_bytes, at), n)

    def _rows(self, raw: bytes, n: int) -> np.ndarray:
        if len(raw) != n * self._row_bytes:
            raise DataError(f"{self._file.name!r} ended early: it was changed or truncated while being read")
        return self._view(np.frombuffer(raw, dtype=self._dtype).reshape(n, *self._stored[1:]))
