"""What a request would take from this machine, refused before it is tried: memory and disk.

An absurd size (`model.latent_dim=10**12`, `data.n=10**12`, `sample --n 10**13`, an array header
declaring a petabyte) must end in one line saying what it would need, not in an allocator
traceback or a machine brought to its knees (the kernel's OOM killer). The bounds are the memory
available now and the free space of the target folder, so only requests that cannot succeed are
refused.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from gausslab.core.errors import ConfigError, GausslabError


def memory_bytes() -> int:
    """Memory available to a new allocation (Linux: MemAvailable, which counts reclaimable caches), else the
    physical memory of this machine (bytes)."""
    try:
        with open("/proc/meminfo") as f:
            fields = dict(line.split(":", 1) for line in f)
        return int(fields["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def human(n: float) -> str:
    """Bytes in the largest unit that keeps the number at least 1: '3.2 GB'."""
    units = ("B", "kB", "MB", "GB", "TB", "PB")
    i = 0
    while n >= 1000 and i < len(units) - 1:
        n, i = n / 1000, i + 1
    return f"{n:.1f} {units[i]}"


def check_memory(nbytes: int, what: str, error: type[GausslabError] = ConfigError) -> None:
    """Raise `error` ('{what} needs X of memory; this machine has Y available') when nbytes exceeds it."""
    available = memory_bytes()
    if nbytes > available:
        raise error(f"{what} needs {human(nbytes)} of memory; this machine has {human(available)} available")


def check_disk(folder: str | Path, nbytes: int, what: str) -> None:
    """Raise ConfigError when `folder` has less free space than nbytes."""
    free = shutil.disk_usage(folder).free
    if nbytes > free:
        raise ConfigError(f"{what} needs {human(nbytes)} on disk; {str(folder)!r} has {human(free)} free")
