"""Atomic file writes (temp file in the same folder + `os.replace`), appends and checksums.

A reader never sees a half-written file: an interrupted write leaves the old file or none. A
failed write (a full disk, a missing or read-only folder) raises an OSError that names the file the
caller asked for, never the temporary one. Files get the mode a plain `open` would give them (0644
under umask 022), not mkstemp's 0600, so run folders can be shared and reports served.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


@contextmanager
def _naming(path: Path) -> Iterator[None]:
    """Re-raise an OSError of the block with `path` as its file name."""
    try:
        yield
    except OSError as err:
        raise type(err)(err.errno, err.strerror or str(err), str(path)) from None


@contextmanager
def atomic_writer(path: str | Path) -> Iterator[IO[bytes]]:
    """A binary file that appears at `path` complete (fsynced) when the block ends, or not at all."""
    path = Path(path)
    with _naming(path):
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                yield f
                f.flush()
                os.fchmod(f.fileno(), file_mode())
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def file_mode() -> int:
    """0o666 less the process umask: the mode `open(path, "w")` creates files with."""
    umask = os.umask(0o022)  # reading the umask means setting it; put it straight back
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same folder and `os.replace`."""
    with atomic_writer(path) as f:
        f.write(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write `text` (UTF-8) to `path` atomically, as `atomic_write_bytes`."""
    atomic_write_bytes(path, text.encode())


def atomic_write_json(path: str | Path, obj: Any) -> None:
    """Write `obj` to `path` atomically as indented JSON, keys in their given order, with a final newline."""
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def append_text(path: str | Path, text: str) -> None:
    """Append `text` to a file (a log line); a kill mid-write can leave a torn last line, which readers drop."""
    path = Path(path)
    with _naming(path), open(path, "a") as f:
        f.write(text)


def sha256(path: str | Path) -> str:
    """The hex SHA-256 digest of the file at `path`, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
