"""Fitted latent samplers kept on disk, so a run's ex-post mixture or second-stage VAE is fitted once.

A fitted sampler is saved as the run folder of the model it wraps (JSON and safetensors only), and
rebuilt from it with `checkpoint.load`. For a trained VAE in RUN, `for_run` keeps them in

```
RUN/samplers/<name>[-<option><value>...]/    e.g. samplers/expost-k10/, samplers/two-stage/
```

fitted with the run's training seed, so the same options always give the same sampler.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from torch import nn

from gausslab.training import checkpoint as ckpt
from gausslab.data import Dataset
from gausslab.core.errors import lookup
from gausslab.samplers import SAMPLERS

FOLDER = "samplers"


def fit_or_load(name: str, model: nn.Module, data: Dataset, folder: str | Path, seed: int = 0, **options: Any):
    """The `name` sampler of `model` saved in `folder`, or fitted to `data` with `seed` and saved there first.

    A folder left unfinished by an interrupted fit is replaced.
    """
    cls, folder = lookup(SAMPLERS, "sampler", name), Path(folder)
    if _finished(folder):
        return cls.restore(ckpt.load(folder, device=model.device), folder)
    shutil.rmtree(folder, ignore_errors=True)
    return cls.fit(model, data, seed=seed, out=folder, **options)


def for_run(run: str | Path, name: str, model: nn.Module, data: Dataset, **options: Any):
    """`fit_or_load` in RUN/samplers/, seeded by the run's training seed; options the sampler does not take
    (`SAMPLERS[name].options`) are dropped, those it takes name its folder."""
    cls = lookup(SAMPLERS, "sampler", name)
    chosen = {key: value for key, value in sorted(options.items()) if key in cls.options}
    folder = Path(run) / FOLDER / "".join([name, *(f"-{key}{_text(value)}" for key, value in chosen.items())])
    return fit_or_load(name, model, data, folder, seed=ckpt.read_run_info(run).config.train.seed, **chosen)


def _finished(folder: Path) -> bool:
    return (folder / ckpt.STATE_JSON).is_file() and bool(ckpt.read_state(folder).get("finished"))


def _text(value: Any) -> str:
    """An option value as part of a folder name: (256, 256) -> 256x256."""
    return "x".join(map(str, value)) if isinstance(value, (tuple, list)) else str(value)
