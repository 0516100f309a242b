"""`train.device`: auto, cpu, cuda, cuda:N and mps, checked against what this machine's torch has."""

import pytest
import torch

from gausslab.training import parallel
from gausslab.training.run_config import resolve
from gausslab.core.errors import ConfigError


@pytest.mark.parametrize("name", ["auto", "cpu", "cuda", "cuda:0", "cuda:12", "mps"])
def test_device_names_are_accepted(name):
    assert resolve({}, [f"train.device={name}"]).train.device == name


@pytest.mark.parametrize("name", ["tpu", "CUDA", "cuda:1.5", "cuda:-1", "cuda:x", "gpu0"])
def test_other_names_are_one_line_errors(name):
    with pytest.raises(ConfigError) as err:
        resolve({}, [f"train.device={name}"])
    assert name in str(err.value) and "cuda:N" in str(err.value) and "\n" not in str(err.value)


@pytest.fixture
def two_gpus(monkeypatch):
    """A machine whose torch sees two CUDA devices (nothing is allocated on them)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)


@pytest.mark.usefixtures("two_gpus")
def test_cuda_devices_by_index_and_by_rank():
    assert parallel.pick_device("cuda:1") == torch.device("cuda", 1)
    assert parallel.pick_device("cuda", local_rank=1) == torch.device("cuda", 1)
    assert parallel.pick_device("auto") == torch.device("cuda", 0)
    assert parallel.pick_device("cpu") == torch.device("cpu")
    with pytest.raises(ConfigError, match=r"train.device='cuda:2' is not available: torch sees 2 CUDA device\(s\)"):
        parallel.pick_device("cuda:2")


@pytest.mark.usefixtures("no_gpu")
@pytest.mark.parametrize("name", ["cuda", "cuda:0", "mps"])
def test_a_device_this_torch_lacks_is_a_one_line_error(name):
    assert parallel.pick_device("auto") == torch.device("cpu")
    with pytest.raises(ConfigError, match=f"train.device='{name}' is not available") as err:
        parallel.pick_device(name)
    assert "\n" not in str(err.value)


def test_under_torchrun_each_process_takes_its_own_gpu(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ConfigError, match="use train.device=cuda"):
        parallel.context("cuda:1")
