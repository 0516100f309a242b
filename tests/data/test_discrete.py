"""Dequantization and binarization: the right values, seeded, and drawn by the trainer in a resume-safe way."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from torch import Tensor, nn

import gausslab as gl
from gausslab.core.errors import ConfigError
from gausslab.data.dataset import Dataset
from gausslab.data.discrete import binarize, changes_data, dequantize, model_view
from gausslab.models.base import GenerativeModel, Loss
from gausslab.training.config import TrainConfig


def grey(n: int = 64, levels: int = 17, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Stored images k / (levels - 1) [n, 1, 4, 4] and their grey levels k."""
    k = torch.randint(levels, (n, 1, 4, 4), generator=torch.Generator().manual_seed(seed)).float()
    return k / (levels - 1), k


@pytest.mark.parametrize("levels", [2, 17, 256])
def test_dequantized_values_lie_in_their_own_bin(levels):
    x, k = grey(levels=levels)
    y = dequantize(x, levels, torch.Generator().manual_seed(0))
    assert y.min() >= 0 and y.max() < 1
    assert torch.equal((y * levels).floor(), k)  # bin k of [0, 1) cut into `levels` bins
    offsets = (y * levels - k).flatten()  # the uniform noise u
    assert 0.4 < offsets.mean() < 0.6 and offsets.std() > 0.25


def test_dequantization_noise_is_uniform():
    x = torch.zeros(20_000)
    u = dequantize(x, 256, torch.Generator().manual_seed(1)) * 256
    counts = torch.histc(u, bins=10, min=0, max=1)
    assert (counts - 2000).abs().max() < 200  # ~4.5 sd of a binomial(20000, 0.1)


def test_the_top_level_stays_below_one():
    y = dequantize(torch.ones(1_000_000), 256, torch.Generator().manual_seed(2))
    assert y.max() < 1 and (y * 256).floor().min() == 255


def test_seeded_by_a_generator_or_the_global_rng():
    x, _ = grey()
    a, b = (dequantize(x, 17, torch.Generator().manual_seed(3)) for _ in range(2))
    assert torch.equal(a, b) and not torch.equal(a, dequantize(x, 17, torch.Generator().manual_seed(4)))
    torch.manual_seed(5)
    c = dequantize(x, 17)
    torch.manual_seed(5)
    assert torch.equal(c, dequantize(x, 17))


def test_continuous_and_binary_data_pass_unchanged_where_they_should():
    x, _ = grey(levels=17)
    assert dequantize(x, None) is x and binarize(x, None) is x and binarize(x, 2) is x
    b = binarize(x, 17, torch.Generator().manual_seed(0))
    assert set(b.unique().tolist()) <= {0.0, 1.0}
    big = binarize(torch.full((100_000,), 0.3), 17, torch.Generator().manual_seed(0))
    assert big.mean().item() == pytest.approx(0.3, abs=0.005)
    assert model_view(x, None, 17) is x
    assert changes_data("binarize", 17) and not changes_data("binarize", 2) and not changes_data("dequantize", 256)
    with pytest.raises(ConfigError, match="dequantise"):
        model_view(x, "dequantise", 17)


class Spy(GenerativeModel):
    """Records every training batch it is given; one parameter so the trainer has something to step."""

    def __init__(self, full_batch: bool = False):
        super().__init__()
        self.full_batch, self.shape, self.config = full_batch, (1, 4, 4), gl.GMMConfig()
        self.w = nn.Parameter(torch.zeros(()))
        self.seen: list[Tensor] = []

    def optimizers(self, lr: float) -> dict[str, torch.optim.Optimizer]:
        return {"model": torch.optim.SGD([self.w], lr=0.1)}

    def training_losses(self, x: Tensor, step: int) -> Iterator[Loss]:
        self.seen.append(x.clone())
        yield Loss("model", (self.w - x.mean()).square())

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        return torch.zeros(n, *self.shape)


def grey_data(n: int = 40) -> Dataset:
    x, _ = grey(n)
    return Dataset("grey", x, x[:8], "image", levels=17)


def _fit(model: Spy, data: Dataset, out, steps: int, resume: bool = False) -> Spy:
    train = TrainConfig(steps=steps, epochs=100, batch_size=16, checkpoint_every=2, log_every=2, seed=3)
    gl.fit(model, data, train, out=out, resume=resume, progress=False)
    return model


def test_trainer_dequantizes_every_batch_afresh_and_resume_draws_the_same_noise(tmp_path):
    data = grey_data()
    full = _fit(Spy(), data, tmp_path / "full", 6).seen
    assert len(full) == 6
    stored = data.train.flatten(1)
    for batch in full:  # each row is the dequantized view of some training example: its levels are kept
        levels = (batch * 17).floor().flatten(1)
        assert ((levels[:, None, :] == (stored * 16).round()[None]).all(-1)).any(1).all()
        assert not torch.equal(batch * 16, (batch * 16).round())  # not the stored values
    epochs = [torch.cat(full[i : i + 3]).flatten().sort().values for i in (0, 3)]  # 40 rows = 3 steps
    assert not torch.equal(*epochs)  # every row again in the second epoch, with new noise
    again = _fit(Spy(), data, tmp_path / "again", 6).seen
    assert all(torch.equal(a, b) for a, b in zip(full, again))  # seeded
    _fit(Spy(), data, tmp_path / "part", 4)
    resumed = _fit(Spy(), data, tmp_path / "part", 6, resume=True).seen
    assert len(resumed) == 2 and all(torch.equal(a, b) for a, b in zip(full[4:], resumed))


def test_full_batch_models_get_one_fixed_dequantized_training_set(tmp_path):
    data = grey_data()
    seen = _fit(Spy(full_batch=True), data, tmp_path / "em", 3).seen
    assert torch.equal(seen[0], seen[1]) and torch.equal(seen[1], seen[2])
    assert torch.equal((seen[0] * 17).floor(), (data.train * 16).round())  # row by row, in order
    assert not torch.equal(seen[0], data.train)
