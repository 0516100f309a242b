"""How training reports progress on stderr: a tqdm bar on a terminal, a plain line per log step elsewhere.

Under `nohup`, a batch scheduler or a pipe a bar would print nothing useful until the end, so
there each log step prints one line a log file keeps:

    train step 500/5000 (10%)  loss 23.91  12,731 samples/s  eta 1m05s
"""

from __future__ import annotations

import sys
import time
from typing import Literal

from tqdm.auto import tqdm

Mode = Literal["bar", "lines", "off"]


def mode(progress: bool | None) -> Mode:
    """None: a bar on a terminal, lines otherwise; True: a bar; False: nothing."""
    if progress is None:
        return "bar" if sys.stderr.isatty() else "lines"
    return "bar" if progress else "off"


def losses(record: dict[str, float]) -> dict[str, float]:
    """The loss values of a log record: `loss`, or `loss_<optimizer>` for each optimizer (GANs)."""
    return {k: v for k, v in record.items() if k == "loss" or k.startswith("loss_")}


class Progress:
    """Steps `start`..`total` of one run; `update` after each step, `log` with each log record."""

    def __init__(self, total: int, start: int, how: Mode):
        self.total, self.start, self.how = total, start, how
        self.t0 = time.perf_counter()
        self.bar = None
        if how == "bar":  # stays on screen at the end, with the last loss
            self.bar = tqdm(total=total, initial=start, file=sys.stderr, desc="train", dynamic_ncols=True)

    def update(self) -> None:
        """One step done."""
        if self.bar is not None:
            self.bar.update(1)

    def log(self, record: dict[str, float]) -> None:
        """A log step: the bar's loss, or one line on stderr."""
        shown = {k: f"{v:.4g}" for k, v in losses(record).items()}
        if self.bar is not None:
            self.bar.set_postfix(shown, refresh=False)
        elif self.how == "lines":
            print(self.line(record, shown), file=sys.stderr, flush=True)

    def line(self, record: dict[str, float], shown: dict[str, str]) -> str:
        """`train step 500/5000 (10%)  loss 23.91  12,731 samples/s  eta 1m05s` for a log record."""
        step = record["step"]
        parts = [f"train step {step}/{self.total} ({100 * step / self.total:.0f}%)"]
        parts += [f"{k} {v}" for k, v in shown.items()]
        parts.append(f"{record['samples_per_s']:,.0f} samples/s")
        parts.append(f"eta {_duration(self._eta(step))}")
        return "  ".join(parts)

    def _eta(self, step: int) -> float:
        done = step - self.start
        return (self.total - step) * (time.perf_counter() - self.t0) / done if done > 0 else 0.0

    def close(self) -> None:
        """Leave the bar on screen, finished."""
        if self.bar is not None:
            self.bar.close()


def _duration(seconds: float) -> str:
    """12s, 3m05s, 2h01m."""
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"
