"""TensorBoard event files for a run (`train.tensorboard=true`): every logged scalar and sample pictures.

Written with `torch.utils.tensorboard.SummaryWriter` into `RUN/tensorboard/`, so `tensorboard
--logdir runs/` shows every run. Needs the `tensorboard` package (`pip install 'gausslab[tensorboard]'`).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from gausslab.core.errors import ConfigError

FOLDER = "tensorboard"
NOT_SCALARS = ("step", "time")  # the x axis and the wall time of every point, not series of their own


def require_tensorboard() -> None:
    """A ConfigError naming the extra when the tensorboard package is missing."""
    try:
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401
    except ImportError:
        raise ConfigError("train.tensorboard=true needs the tensorboard package: "
                          "pip install 'gausslab[tensorboard]'") from None


class TensorBoardLog:
    """One run's event files; on resume, points past the checkpoint's step are hidden (`purge_step`)."""

    def __init__(self, run: Path, start: int):
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(str(run / FOLDER), purge_step=start or None)

    def scalars(self, record: dict[str, float]) -> None:
        """Every number of a log.jsonl record (loss parts, held-out terms, lr, samples/s) at its step."""
        for key, value in record.items():
            if key not in NOT_SCALARS:
                self.writer.add_scalar(key, value, record["step"], walltime=record.get("time"))
        self.writer.flush()

    def image(self, step: int, png: bytes) -> None:
        """The sample picture (grid or scatter plot) saved as samples.png, at `step`."""
        picture = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))  # [H, W, 3] uint8
        self.writer.add_image("samples", picture, step, dataformats="HWC")
        self.writer.flush()

    def close(self) -> None:
        """Flush and close the event file."""
        self.writer.close()
