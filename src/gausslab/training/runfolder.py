"""How a training run may use its folder: decided before the first file is written, repaired on resume.

`check_new` rules on a folder a new run is about to write:
- a folder with a checkpoint (state.json) is a run: continued with --resume, never overwritten;
- a run that never reached its first checkpoint (config.json alone) is started over;
- a missing or empty folder is used;
- a non-empty folder that is not a run is the user's: refused without `force`, and refused even
  with it when it holds a file the run would write, so a user's file is never replaced.
`discard` removes what a new run wrote when it fails before its first checkpoint, so nothing is
left behind and a plain retry is accepted. `repair_log` keeps the log lines a resume continues.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from gausslab.core.errors import CheckpointError, ConfigError, GausslabError, brief
from gausslab.core.fileio import atomic_write_text
from gausslab.training.checkpoint import CONFIG, LOG, MODEL, PENDING, STATE, STATE_JSON, read_run_info
from gausslab.training.runlock import LOCK
from gausslab.training.tensorboard_log import FOLDER as TENSORBOARD

SAMPLES, METRICS = "samples.png", "metrics.json"
RUN_FILES = (CONFIG, MODEL, STATE, STATE_JSON, LOG, SAMPLES, METRICS, MODEL + PENDING, STATE + PENDING, TENSORBOARD)


def check_new(out: Path, force: bool = False) -> None:
    """Raise unless a new run may be written into `out` (see the module docstring)."""
    where = repr(str(out))
    if (out / STATE_JSON).exists():
        raise CheckpointError(f"{where} already holds a run; pass --resume to continue it or choose another --out")
    if not entries(out) or _never_checkpointed(out):
        return
    refuse_foreign(out, force, "run", RUN_FILES)


def entries(folder: Path) -> list[Path]:
    """What `folder` holds besides its lock file (nothing when it does not exist)."""
    return [p for p in folder.iterdir() if p.name != LOCK] if folder.is_dir() else []


def refuse_foreign(folder: Path, force: bool, what: str, ours: tuple[str, ...]) -> None:
    """`folder` holds files that are not a gausslab `what` ("run", "study"): refuse without `force`, and even with
    it when one of them has a name the `what` writes (`ours`), so a user's file is never replaced."""
    if not force:
        raise ConfigError(f"--out {str(folder)!r} is a folder with other files in it, not a gausslab {what}; pass "
                          f"--force to write the {what} into it (its files are kept)")
    clash = next((p for p in entries(folder) if p.name in ours), None)
    if clash is not None:
        raise ConfigError(f"--force never replaces a file, and the {what} would replace {str(clash)!r}; move it or "
                          "choose another --out")


def _never_checkpointed(out: Path) -> bool:
    """A gausslab run that stopped before its first checkpoint: config.json and no state.json."""
    try:
        read_run_info(out)
    except GausslabError:
        return False
    return True


def discard(out: Path) -> None:
    """Remove the run files of a new run that failed before its first checkpoint (a user's files stay)."""
    for name in RUN_FILES:
        if name == TENSORBOARD:
            shutil.rmtree(out / name, ignore_errors=True)
        else:
            (out / name).unlink(missing_ok=True)


def repair_log(path: Path, step: int) -> list[dict]:
    """Keep the log records of steps up to `step` (the resumed run writes the later ones again); those records.

    A torn last line (a kill or a full disk mid-append) is dropped; any other line that is not a
    record is an error, raised before the log is touched.
    """
    if not path.exists():
        return []
    text = path.read_text()
    lines = text.splitlines()
    keep, records = [], []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        record = _record(line)
        if record is None and number == len(lines) and not text.endswith("\n"):
            break  # the torn tail of an interrupted append
        if record is None:
            raise CheckpointError(f"{str(path)!r} line {number} is not a log record ({brief(line)}); remove or fix "
                                  "that line to resume")
        if record["step"] <= step:
            keep.append(line)
            records.append(record)
    repaired = "".join(line + "\n" for line in keep)
    if repaired != text:
        atomic_write_text(path, repaired)
    return records


def _record(line: str) -> dict | None:
    """A log line as its record (a JSON object with an integer step), or None."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    ok = isinstance(record, dict) and isinstance(record.get("step"), int)
    return record if ok else None
