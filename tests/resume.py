"""The check every resume test ends with: the run continued from its checkpoint, it did not start over.

Training is deterministic, so a "resume" that re-seeds and trains from step 0 ends with the same
weights as an uninterrupted run. Three things tell a resume from such a restart:
- the resumed process starts from scrambled weights: only loading the checkpoint undoes that;
- it runs exactly the steps after the checkpoint, counted by a hook on the model's losses;
- the log keeps the lines written before the checkpoint, byte for byte, and its steps go on from there.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import gausslab as gl
from gausslab.training.config import TrainConfig
from gausslab.data.dataset import Dataset
from gausslab.models import GenerativeModel
from gausslab.training.loop import total_steps
from tests.state import assert_same_state, scrambled


def count_steps(model: GenerativeModel) -> list[int]:
    """Record the index of every training step the trainer runs on `model` (in the returned list)."""
    seen: list[int] = []
    original = model.training_losses

    def losses(x, step):
        seen.append(step)
        yield from original(x, step)

    model.training_losses = losses
    return seen


def log_lines(out: Path) -> list[str]:
    return [line for line in (out / "log.jsonl").read_text().splitlines() if line.strip()]


def assert_resumes_exactly(make: Callable[[], GenerativeModel], data: Dataset, train: TrainConfig, out: Path,
                           straight: GenerativeModel | None = None) -> GenerativeModel:
    """Resume the interrupted run in `out` to the end of `train`; it must do only the remaining steps, keep the
    log, and end bit-identical to an uninterrupted run (`straight`, trained here when not given)."""
    start = json.loads((out / "state.json").read_text())["step"]
    kept = [line for line in log_lines(out) if json.loads(line)["step"] <= start]
    model = scrambled(make())
    steps = count_steps(model)
    gl.fit(model, data, train, out=out, resume=True, progress=False)
    per_epoch = -(-len(data.train) // min(train.batch_size, len(data.train)))
    end = total_steps(train, 1 if model.full_batch else per_epoch)
    assert steps == list(range(start, end)), f"resumed from step {start}, ran steps {steps[:3]}...{steps[-1:]}"
    logged = log_lines(out)
    assert logged[: len(kept)] == kept, "lines logged before the checkpoint were rewritten"
    numbers = [json.loads(line)["step"] for line in logged]
    assert numbers == sorted(set(numbers)) and numbers[-1] == end, f"log steps {numbers}"
    if straight is None:
        straight = make()
        gl.fit(straight, data, train, progress=False)
    assert_same_state(model, straight, "resumed run vs uninterrupted run")
    return model
