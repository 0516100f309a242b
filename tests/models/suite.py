"""The shared model test suite: every model (each VAE prior, each GAN loss, the GMM) must pass it.

Use: `check_model(lambda: build_model(...), dataset, tmp_path)` from a parametrised test.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

import gausslab as gl
from gausslab.training.config import TrainConfig
from gausslab.data.dataset import Dataset
from gausslab.models import GenerativeModel
from tests.resume import assert_resumes_exactly
from tests.state import assert_same_state


def check_model(make: Callable[[], GenerativeModel], data: Dataset, tmp_path: Path, steps: int = 6) -> None:
    """Run every shared check; `make()` must return a freshly (and identically) seeded model."""
    check_sample_shape_and_seed(make(), data)
    check_step_lowers_loss(make(), data)
    check_save_load_bit_equal(make(), data, tmp_path / "roundtrip", steps)
    check_samples_follow_dtype(gl.load(tmp_path / "roundtrip"), data)
    check_resume_bit_identical(make, data, tmp_path / "resume", steps)


def check_sample_shape_and_seed(model: GenerativeModel, data: Dataset) -> None:
    model.eval()
    with torch.no_grad():
        a = model.sample(5, generator=torch.Generator().manual_seed(1))
        b = model.sample(5, generator=torch.Generator().manual_seed(1))
        c = model.sample(5, generator=torch.Generator().manual_seed(2))
    assert a.shape == (5, *data.shape)
    assert torch.equal(a, b), "sampling with the same generator seed must repeat"
    assert not torch.equal(a, c), "different seeds must give different samples"


def check_samples_follow_dtype(model: GenerativeModel, data: Dataset) -> None:
    """Samples are float32 like the data, and float64 once the model is converted: `gl.load(run).double().sample(2)`."""
    with torch.no_grad():
        single = model.sample(2, generator=torch.Generator().manual_seed(0))
        double = model.double().sample(2, generator=torch.Generator().manual_seed(0))
    assert single.dtype == torch.float32 and double.dtype == torch.float64
    assert double.shape == (2, *data.shape) and torch.isfinite(double).all()


def _first_loss(model: GenerativeModel, x: torch.Tensor, step: int = 0) -> tuple[str | None, torch.Tensor]:
    loss = next(iter(model.training_losses(model.prepare(x), step)))
    return loss.optimizer, loss.value


def check_step_lowers_loss(model: GenerativeModel, data: Dataset) -> None:
    """One optimiser step on a fixed batch (fixed noise) lowers that batch's first loss."""
    x = data.train[:32]
    opts = model.optimizers(1e-3)
    torch.manual_seed(0)
    name, before = _first_loss(model, x)
    if name is not None:
        opts[name].zero_grad()
        before.backward()
        opts[name].step()
    torch.manual_seed(0)
    _, after = _first_loss(model, x)
    assert after.item() < before.item(), f"loss did not fall: {before.item()} -> {after.item()}"


def check_save_load_bit_equal(model: GenerativeModel, data: Dataset, out: Path, steps: int) -> None:
    gl.fit(model, data, TrainConfig(steps=steps, epochs=100, batch_size=16, checkpoint_every=steps), out=out)
    loaded = gl.load(out)
    model.eval()
    assert_same_state(model, loaded, "after load")
    with torch.no_grad():
        a = model.sample(4, generator=torch.Generator().manual_seed(3))
        b = loaded.sample(4, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def check_resume_bit_identical(make: Callable[[], GenerativeModel], data: Dataset, out: Path, steps: int) -> None:
    """Stop after half the steps, resume to the end: only the remaining steps run, and the weights equal
    an uninterrupted run bit for bit (tests/resume.py tells this from a restart)."""
    half = TrainConfig(steps=steps // 2, epochs=100, batch_size=16, checkpoint_every=steps)
    gl.fit(make(), data, half, out=out, progress=False)
    assert_resumes_exactly(make, data, half.model_copy(update={"steps": steps}), out)
