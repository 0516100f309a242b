"""Inception-v3 pool3 features (2048-d), torch-fidelity's network, with weights from the user's file only.

FID, KID and precision/recall in this space are the ones papers report (Heusel et al. 2017 use
pool3). The network and its preprocessing — uint8 RGB, resized to 299 x 299 as TensorFlow 1 did —
are torch-fidelity's `FeatureExtractorInceptionV3` (`pip install 'gausslab[inception]'`); gausslab
never downloads weights. torch-fidelity reads a weights file with torch.load and weights_only off,
which unpickles it, so the user's file is read here without running code (safetensors, or
torch.load with weights_only=True) and the library is handed a copy that holds tensors only.
"""

from __future__ import annotations

import tempfile
from functools import partial
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import Tensor, nn

from gausslab.data import Dataset
from gausslab.core.errors import CheckpointError, ConfigError
from gausslab.evaluation.features import UserFeatures

INSTALL = "pip install 'gausslab[inception]'"
LAYER = "2048"  # pool3, the FID layer


def extractor(data: Dataset, weights: str | Path | None) -> UserFeatures:
    """Inception-v3 pool3 features of `data`'s images, the network's weights read from `weights`."""
    if data.kind != "image":
        raise ConfigError(f"Inception features need images; {data.name!r} holds vectors of shape {list(data.shape)}")
    if data.shape[0] not in (1, 3):
        raise ConfigError(f"Inception features need 1 or 3 image channels; {data.name!r} has {data.shape[0]}")
    if weights is None:
        raise ConfigError("Inception features need a local weights file (feature_weights=, or --features-weights "
                          "PATH: e.g. torch-fidelity's weights-inception-2015-12-05-6726825d.pth); gausslab never "
                          "downloads weights")
    cls = library_class()
    net = _build(cls, read_weights(Path(weights)), Path(weights))
    return UserFeatures(partial(_pool3, net), f"Inception-v3 pool3 (torch-fidelity; weights {Path(weights).name})",
                        key="inception", batch=64)


def library_class() -> type[nn.Module]:
    """torch-fidelity's FeatureExtractorInceptionV3, or a ConfigError saying why it cannot be imported."""
    try:
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
    except Exception as err:  # ImportError, or a torchvision build that does not load beside this torch
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise ConfigError(f"Inception features need torch-fidelity ({INSTALL}, with a torchvision built for this "
                          f"torch); importing it failed: {type(err).__name__}: {first}") from None
    return FeatureExtractorInceptionV3


def read_weights(path: Path) -> dict[str, Tensor]:
    """A state dict from a .safetensors file, or a torch file read with weights_only=True (no code is unpickled)."""
    if not path.is_file():
        raise CheckpointError(f"Inception weights file {str(path)!r} does not exist")
    if path.suffix == ".safetensors":
        try:
            state = load_file(path)
        except Exception as err:  # safetensors raises its own error types and OSError
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise CheckpointError(f"{str(path)!r} is not a valid safetensors file ({first})") from None
    else:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # refused objects, bad archives, truncated files: many types
            raise CheckpointError(f"{str(path)!r} cannot be read as tensors without running code (torch.load "
                                  f"with weights_only=True: {type(err).__name__}); save a plain state dict or "
                                  ".safetensors") from None
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise CheckpointError(f"{str(path)!r} does not hold a state dict of tensors")
    return state


def _build(cls: type[nn.Module], state: dict[str, Tensor], path: Path) -> nn.Module:
    """The library's network, given a tensors-only copy of the weights (see the module docstring)."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "inception.pth"
        torch.save(state, copy)
        try:
            return cls("inception-v3-compat", [LAYER], feature_extractor_weights_path=str(copy))
        except RuntimeError as err:
            first = str(err).strip().splitlines()[0]
            raise CheckpointError(f"{str(path)!r} does not hold Inception-v3 weights ({first})") from None


def to_uint8_rgb(x: Tensor) -> Tensor:
    """Images in [0, 1] [N, C, H, W] -> uint8 [N, 3, H, W] (grey repeated): what torch-fidelity's network takes."""
    x = (x.float() * 255).round().clamp(0, 255).to(torch.uint8)
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


@torch.inference_mode()
def _pool3(net: nn.Module, x: Tensor) -> Tensor:
    """[N, C, H, W] in [0, 1] -> pool3 features [N, 2048]."""
    return net(to_uint8_rgb(x.cpu()))[0]


__all__ = ["extractor", "library_class", "read_weights", "to_uint8_rgb"]
