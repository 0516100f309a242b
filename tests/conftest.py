"""Tiny configs and data shared by the tests."""

from __future__ import annotations

import os

import pytest
import torch

from gausslab.training.config import TrainConfig
from gausslab.data.dataset import Dataset

# Two xdist workers on two cores: one intra-op thread each (more stalls small ops badly), and the
# same for the subprocesses the tests start.
torch.set_num_threads(1)
os.environ.setdefault("OMP_NUM_THREADS", "1")


def tiny_images(n: int = 96, side: int = 8, seed: int = 0) -> Dataset:
    """Binary blobs [n, 1, side, side]: enough structure for a loss to fall, small enough to be instant."""
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(n, 1, side, side, generator=g) < torch.linspace(0.1, 0.9, side).view(1, 1, 1, side)).float()
    split = int(0.75 * n)
    return Dataset("tiny-images", x[:split], x[split:], "image", labels=torch.arange(split) % 3,
                   test_labels=torch.arange(n - split) % 3)


def tiny_vectors(n: int = 128, dim: int = 2, seed: int = 0) -> Dataset:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, dim, generator=g) * torch.tensor([1.0, 0.3] + [0.5] * (dim - 2))[:dim] + 0.5
    split = int(0.75 * n)
    return Dataset("tiny-vectors", x[:split], x[split:], "vector")


@pytest.fixture
def images() -> Dataset:
    return tiny_images()


@pytest.fixture
def vectors() -> Dataset:
    return tiny_vectors()


@pytest.fixture
def tiny_train() -> TrainConfig:
    return TrainConfig(epochs=2, batch_size=32, log_every=2, checkpoint_every=3, seed=0)
