"""torch-fidelity's Inception network and FID functions for the tests, imported without the package's __init__.

Its __init__ imports torchvision for its other extractors, and PyPI's torchvision (a CUDA build) does not
load beside the CPU build of torch; the two modules used here need neither (metric_fid's caching helpers,
which it imports but the FID functions do not use, are stubbed).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

METRIC_FID_IMPORTS = ("get_cacheable_input_name", "cache_lookup_one_recompute_on_miss", "create_feature_extractor",
                      "extract_featuresdict_from_input_id_cached", "resolve_feature_extractor",
                      "resolve_feature_layer_for_metric")


@contextmanager
def modules() -> Iterator[types.SimpleNamespace]:
    """`inception` (feature_extractor_inceptionv3) and `metric_fid`; sys.modules is restored afterwards."""
    found = importlib.util.find_spec("torch_fidelity")
    if found is None:
        raise RuntimeError("torch-fidelity is missing; `make install` adds it (pip install --no-deps "
                           "'torch-fidelity>=0.4,<0.5')")
    saved = {name: module for name, module in sys.modules.items() if name.startswith("torch_fidelity")}
    package = types.ModuleType("torch_fidelity")
    package.__path__ = [str(Path(found.origin).parent)]
    utils = types.ModuleType("torch_fidelity.utils")
    for name in METRIC_FID_IMPORTS:
        setattr(utils, name, None)
    sys.modules |= {"torch_fidelity": package, "torch_fidelity.utils": utils}
    try:
        yield types.SimpleNamespace(inception=importlib.import_module("torch_fidelity.feature_extractor_inceptionv3"),
                                    metric_fid=importlib.import_module("torch_fidelity.metric_fid"))
    finally:
        for name in [n for n in sys.modules if n.startswith("torch_fidelity")]:
            del sys.modules[name]
        sys.modules |= saved


def random_weights(cls: type[torch.nn.Module], scratch: Path, seed: int = 0) -> dict[str, torch.Tensor]:
    """A state dict of the library's Inception-v3 with random He-initialised weights (features of order 1).

    The library's constructor insists on reading a weights file: it gets an empty one, written in `scratch`.
    """

    class Skeleton(cls):
        def load_state_dict(self, state_dict, strict=True, assign=False):  # keep the random initialisation
            return None

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        empty = scratch / "empty.pth"
        torch.save({}, empty)
        net = Skeleton("skeleton", ["2048"], feature_extractor_weights_path=str(empty))
        for module in net.modules():
            if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
                torch.nn.init.kaiming_normal_(module.weight)
    return {k: v.contiguous() for k, v in net.state_dict().items()}
