"""The feature space of FID/KID/PRDC: "domain features", never to be mistaken for Inception's.

For images, a small conv network is trained on the data set's *training* split with a fixed
seed (by `train.fit`, the one training loop): a classifier of the labels — plus a regression of
the standardised factors when they are known — or, without labels, a conv autoencoder. Its
64-d penultimate layer is the feature space; metrics computed in it are named
"FID (domain features)" (`fid_domain`, `kid_domain`). Numbers are comparable only between
models evaluated with the same extractor (same data set, same weights). The weights are cached as
`cache_dir/features.safetensors` + `features.json` and reused while the data and recipe match.
`weights=path` loads a user's safetensors file of the same network instead (e.g. one written
here, or trained longer on more data). Vector data (toys, CSV) use the raw coordinates.

Other feature spaces make numbers comparable across data sets and papers: `UserFeatures` wraps any
callable x [N, *shape] -> [N, F] (e.g. `metrics.inception`); metrics in it are keyed by its `key`
(`fid_inception`, `fid_custom`, ...), and every evaluation record names the space it used.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save
from torch import Tensor, nn

from gausslab.blocks import nets
from gausslab.version import __version__
from gausslab.data.config import DataConfig
from gausslab.training.config import TrainConfig
from gausslab.training.run_config import RunConfig
from gausslab.data import Dataset
from gausslab.core.errors import CheckpointError, ConfigError, DataError
from gausslab.core.fileio import atomic_write_bytes, atomic_write_json
from gausslab.models.base import GenerativeModel, Loss
from gausslab.training.loop import fit

WEIGHTS, INFO = "features.safetensors", "features.json"
FEATURE_DIM = 64
CHANNELS = (16, 32)  # stride-2 conv widths (nets.ConvEncoder)
# Training of the feature network; `steps` caps it (~26 epochs of digits, ~8 of shapes).
RECIPE = {"epochs": 30, "steps": 600, "batch_size": 64, "lr": 2e-3, "seed": 0}


class FeatureNet(nn.Module):
    """Conv trunk x [B, C, H, W] -> features [B, 64] (after ReLU), and the head it was trained with."""

    def __init__(self, shape: tuple[int, ...], outputs: int):
        super().__init__()
        self.trunk = nn.Sequential(nets.ConvEncoder(shape, CHANNELS, FEATURE_DIM), nn.ReLU())
        # outputs > 0: linear head (class logits, then factor regressions); 0: conv decoder (autoencoder)
        self.head = nn.Linear(FEATURE_DIM, outputs) if outputs else nets.ConvDecoder(FEATURE_DIM, shape, CHANNELS)

    def forward(self, x: Tensor) -> Tensor:
        return self.trunk(x)


@dataclass
class _Targets:
    """What the head learns from, indexed like the training images."""

    images: Tensor  # [N, C, H, W]
    labels: Tensor | None  # [N] int64
    factors: Tensor | None  # [N, F] standardised
    classes: int

    @classmethod
    def of(cls, data: Dataset) -> _Targets:
        factors = None
        if data.factors is not None:
            f = data.factors.float()
            factors = (f - f.mean(0)) / f.std(0).clamp(min=1e-8)
        classes = int(data.labels.max()) + 1 if data.labels is not None else 0
        return cls(data.train, data.labels, factors, classes)

    @property
    def outputs(self) -> int:
        return self.classes + (self.factors.shape[1] if self.factors is not None else 0)

    @property
    def kind(self) -> str:
        return "classifier" if self.outputs else "autoencoder"


class _Training(GenerativeModel):
    """Adapter that lets `train.fit` train a FeatureNet: the 'data' are row indices [B, 1] into `targets`."""

    def __init__(self, net: FeatureNet, targets: _Targets):
        super().__init__()
        self.net, self.targets = net, targets

    def training_losses(self, rows: Tensor, step: int) -> Iterator[Loss]:
        idx = rows[:, 0].long()
        x, t = self.targets.images[idx], self.targets
        out = self.net.head(self.net(x))
        if not t.outputs:
            yield Loss("model", F.binary_cross_entropy_with_logits(out, x))
            return
        loss = F.cross_entropy(out[:, : t.classes], t.labels[idx]) if t.labels is not None else 0.0
        if t.factors is not None:
            loss = loss + F.mse_loss(out[:, t.classes :], t.factors[idx])
        yield Loss("model", loss)


@dataclass
class FeatureExtractor:
    """x [N, *shape] -> features [N, F] (float32, CPU). `name` says which feature space this is."""

    name: str
    net: FeatureNet | None = None  # None: raw coordinates
    batch: int = 1024
    key: str = "domain"  # metric suffix: fid_domain, kid_domain

    @torch.inference_mode()
    def __call__(self, x: Tensor) -> Tensor:
        x = torch.as_tensor(x).float().cpu()
        if self.net is None:
            return x.flatten(1)
        self.net.eval()
        return torch.cat([self.net(chunk) for chunk in x.split(self.batch)])


@dataclass
class UserFeatures:
    """A feature space given as a callable x [N, *shape] -> [N, F], called on batches of `batch` rows.

    `name` says what it is in evaluation records; `key` names its metrics (fid_<key>, kid_<key>).
    """

    fn: Callable[[Tensor], Tensor]
    name: str
    key: str = "custom"
    batch: int = 256

    @torch.inference_mode()
    def __call__(self, x: Tensor) -> Tensor:
        parts = []
        for chunk in torch.as_tensor(x).split(self.batch):
            out = torch.as_tensor(self.fn(chunk)).detach().float().cpu()
            if out.dim() != 2 or out.shape[0] != chunk.shape[0]:
                raise DataError(f"features {self.name!r} mapped a batch of shape {list(chunk.shape)} to "
                                f"{list(out.shape)}; it must return one row per example, [N, F]")
            parts.append(out)
        return torch.cat(parts)


def as_features(fn: object) -> FeatureExtractor | UserFeatures:
    """A feature space from an extractor, or any callable x [N, *shape] -> [N, F] (named after it, key `custom`)."""
    if isinstance(fn, (FeatureExtractor, UserFeatures)):
        return fn
    if not callable(fn):
        raise ConfigError(f"features={fn!r} is not allowed; pass a feature space name or a callable "
                          "x [N, *shape] -> features [N, F]")
    name = getattr(fn, "__qualname__", type(fn).__qualname__)
    return UserFeatures(fn, f"custom ({getattr(fn, '__module__', None) or type(fn).__module__}.{name})")


def extractor(
    dataset: Dataset, cache_dir: str | Path | None = None, weights: str | Path | None = None
) -> FeatureExtractor:
    """The domain feature extractor of `dataset` (raw coordinates for vector data).

    cache_dir: where `features.safetensors` / `features.json` are read if they match, else written.
    weights: a safetensors file of this same network (keys as in `features.safetensors`) to use instead.
    """
    if dataset.kind != "image":
        return FeatureExtractor("raw coordinates")
    with torch.inference_mode(False), torch.enable_grad():  # callers may be evaluating under inference mode
        return _image_extractor(dataset, Path(cache_dir) if cache_dir is not None else None, weights)


def _image_extractor(dataset: Dataset, cached: Path | None, weights: str | Path | None) -> FeatureExtractor:
    targets = _Targets.of(dataset)
    info = _info(dataset, targets)
    net = _seeded_net(dataset.shape, targets.outputs)
    if weights is not None:
        _load(net, Path(weights))
        return FeatureExtractor(f"domain features (user weights {Path(weights).name})", net)
    name = f"domain features ({targets.kind} trained on {dataset.name})"
    if cached is not None and _matches(cached, info):
        _load(net, cached / WEIGHTS)
        return FeatureExtractor(name, net)
    _train(net, targets, dataset.name)
    if cached is not None:
        cached.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(cached / WEIGHTS, st_save({k: v.contiguous() for k, v in net.state_dict().items()}))
        atomic_write_json(cached / INFO, {**info, "gausslab_version": __version__})
    return FeatureExtractor(name, net)


def _seeded_net(shape: tuple[int, ...], outputs: int) -> FeatureNet:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(RECIPE["seed"])
        return FeatureNet(shape, outputs)


@contextmanager
def _one_thread() -> Iterator[None]:
    """Torch on one CPU thread: bit-reproducible weights whatever the machine's thread count, and for a
    network this small no slower (threads only add synchronisation, badly so on a busy machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _train(net: FeatureNet, targets: _Targets, name: str) -> None:
    n = len(targets.images)
    rows = torch.arange(n, dtype=torch.float32)[:, None]
    index_data = Dataset(f"{name}-rows", rows, rows[:1], "vector")
    train = TrainConfig(**RECIPE, device="cpu", log_every=RECIPE["steps"])
    # `config` is only recorded when fit writes a run folder, which it does not do here.
    with _one_thread():
        fit(_Training(net, targets), index_data, train, progress=False, config=RunConfig(data=DataConfig(name=name)))
    net.eval()


def _info(dataset: Dataset, targets: _Targets) -> dict[str, Any]:
    """What the cached weights must have been trained on and with."""
    digest = hashlib.sha256(dataset.train.float().contiguous().numpy().tobytes()).hexdigest()
    return {
        "what": "gausslab domain feature extractor (not Inception)",
        "kind": targets.kind,
        "data": dataset.name,
        "data_shape": list(dataset.shape),
        "train_sha256": digest,
        "outputs": targets.outputs,
        "feature_dim": FEATURE_DIM,
        "channels": list(CHANNELS),
        "recipe": RECIPE,
    }


def _matches(folder: Path, info: dict[str, Any]) -> bool:
    try:
        saved = json.loads((folder / INFO).read_text())
    except (OSError, ValueError):
        return False
    saved.pop("gausslab_version", None)
    return saved == info and (folder / WEIGHTS).exists()


def _load(net: FeatureNet, path: Path) -> None:
    try:
        state = st_load(path.read_bytes())
        net.load_state_dict(state, strict=True)
    except FileNotFoundError:
        raise CheckpointError(f"feature weights file {str(path)!r} does not exist") from None
    except (SafetensorError, RuntimeError, OSError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"{str(path)!r} is not a safetensors file of this data's domain feature network "
                              f"({first})") from None
    net.eval()


__all__ = ["FEATURE_DIM", "FeatureExtractor", "FeatureNet", "UserFeatures", "as_features", "extractor"]
