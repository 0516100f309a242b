"""Metrics on a trained model: every metric that applies to the model and data kind, as one flat record."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch

from gausslab import __version__
from gausslab.data import Dataset
from gausslab.models import VAE, GenerativeModel


@dataclass
class Evaluation:
    """Flat metric record (keys as in DESIGN.md, nats unless named otherwise)."""

    model: str
    data: str
    values: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "data": self.data, "gausslab_version": __version__, **self.values}


@torch.inference_mode()
def evaluate(
    model: GenerativeModel, data: Dataset, metrics=None, k: int = 1000, cache_dir=None, batch: int = 256, seed: int = 0
) -> Evaluation:
    """Test ELBO and IWAE NLL (k importance samples) for VAEs, on `data.test`."""
    model.eval()
    values: dict[str, Any] = {}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if isinstance(model, VAE):
            x = data.test.to(model.device)
            elbo = torch.cat([model.elbo(c).elbo for c in x.split(batch)]).mean().item()
            nll = -torch.cat([model.iwae_bound(c, k) for c in x.split(batch)]).mean().item()
            values |= {"elbo": elbo, "nll_iwae": nll}
            if data.kind == "image":
                values["bits_per_dim"] = nll / (data.dim * math.log(2))
    return Evaluation(type(model).__name__.lower(), data.name, values)
