"""One process per run or study folder: an exclusive `flock` on `FOLDER/.gausslab.lock`.

Two processes writing one folder (a second `train --resume` while the first still runs) would
interleave checkpoints and log lines. The lock file holds the holder's pid, so the second process
refuses with one line naming the folder and the holder. The kernel drops the lock when its holder
dies (even by SIGKILL), so a stale file never blocks a retry. The file is removed on release, and a
folder the lock created is removed too when nothing else was written into it.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gausslab.core.errors import CheckpointError

LOCK = ".gausslab.lock"


@contextmanager
def locked(folder: str | Path, what: str = "run folder") -> Iterator[Path]:
    """Hold the lock of `folder` (created with its parents if missing) for the block; yields the folder."""
    folder = Path(folder)
    created = _missing(folder)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        fd = _acquire(folder / LOCK, what, folder)
    except BaseException:
        _remove_empty(created)
        raise
    try:
        yield folder
    finally:
        (folder / LOCK).unlink(missing_ok=True)
        os.close(fd)
        _remove_empty(created)


def _acquire(path: Path, what: str, folder: Path) -> int:
    """An open descriptor of `path` holding its exclusive lock, with this pid written in it."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip()
            os.close(fd)
            by = f"process {holder}" if holder.isdigit() else "another process"
            raise CheckpointError(f"{what} {str(folder)!r} is locked by {by}, which is using it; wait for it to "
                                  "finish or choose another folder") from None
        try:
            if os.fstat(fd).st_ino == os.stat(path).st_ino:  # not a file its last holder removed meanwhile
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def _missing(folder: Path) -> list[Path]:
    """The folders `mkdir(parents=True)` would create for `folder`, deepest first."""
    missing = []
    for p in (folder, *folder.parents):
        if p.exists():
            break
        missing.append(p)
    return missing


def _remove_empty(folders: list[Path]) -> None:
    """Remove the folders we created, deepest first, as long as they are empty."""
    for p in folders:
        try:
            p.rmdir()
        except OSError:
            return
