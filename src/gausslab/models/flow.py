"""RealNVP in data space (Dinh et al. 2017): an exact density pushed forward from a Gaussian base.

x [B, *shape] is flattened to [B, D], mapped by a fixed preprocessing (RealNVP's logit for images,
`models.preprocess`) to y, and by a stack of affine couplings (`blocks.coupling`) to u:

    log p(x) = log N(u; 0, I) + log|det du/dy| + log|det dy/dx|,

exact, so the flow trains on the negative log-likelihood itself (no bound) and samples by inverting
every map. The couplings are MLPs on the flattened pixels with checkerboard masks, not RealNVP's
convolutional multi-scale network with batch norm: the MLP form trains on 64- to 784-dimensional data
on a CPU in minutes, needs no running statistics (so training and evaluation densities are the same
function), and is the coupling layer the VAE's flow prior already uses. Each coupling starts as the
identity (zeroed last layer), so training starts from N(0, I) on y.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Literal

import torch
from pydantic import Field
from torch import Tensor

from gausslab.blocks.coupling import alternating_couplings, checkerboard, pull_back, push_forward
from gausslab.blocks.priors import StandardNormal
from gausslab.core.config import Size, StrictModel, choices
from gausslab.models.base import GenerativeModel, Loss
from gausslab.models.preprocess import PREPROCESS_HELP, PREPROCESSORS, preprocessor


class FlowConfig(StrictModel):
    """Arguments of `Flow`: couplings, their networks, and the preprocessing."""

    kind: Literal["flow"] = "flow"
    layers: int = Field(8, gt=0, le=1000, description="RealNVP affine couplings; masks alternate between a checkerboard "
                                             "and its complement")
    hidden: tuple[Size, ...] = Field((256, 256), min_length=1, description="MLP widths of each coupling's "
                                                                        "scale-and-shift network")
    preprocess: choices(["auto", *PREPROCESSORS]) = Field("auto", description=PREPROCESS_HELP)


class Flow(GenerativeModel):
    """p(x) = N(f(g(x)); 0, I) |det df/dy| |det dg/dx|: g the preprocessing, f `config.layers` couplings."""

    config_class = FlowConfig

    def __init__(self, config: FlowConfig, shape: tuple[int, ...]):
        super().__init__()
        self.config, self.shape = config, tuple(shape)
        dim = math.prod(self.shape)
        self.preprocessor = preprocessor(config.preprocess, self.shape)
        self.layers = alternating_couplings(checkerboard(self.shape), config.layers, config.hidden, zero_init=True)
        self.base = StandardNormal(dim)

    def forward(self, x: Tensor) -> Tensor:
        """log p(x) [B]: the per-example log-likelihood whose mean training raises."""
        return self.log_prob(x)

    @property
    def n_parameters(self) -> int:
        """Parameters of p(x): the couplings' weights (the preprocessing and the N(0, I) base have none)."""
        return sum(p.numel() for p in self.parameters())

    def prepare(self, x: Tensor) -> Tensor:
        """The training set as given, once checked against the preprocessing's domain (logit: [0, 1])."""
        self.preprocessor.check(x)
        return x

    def log_prob(self, x: Tensor) -> Tensor:
        """Exact log p(x) [B] in data space for x [B, *shape]."""
        mapped = self.preprocessor.forward(x.flatten(1))  # y [B, D]
        u, log_det = push_forward(self.layers, mapped.y)
        return self.base.log_prob(u) + log_det + mapped.log_det

    def training_losses(self, x: Tensor, step: int) -> Iterator[Loss]:
        """One loss per step: the mean negative log-likelihood -log p(x) of the batch, exact (no bound)."""
        log_likelihood = self.log_prob(x).mean()
        yield Loss("model", -log_likelihood, {"log_likelihood": log_likelihood.detach()})

    def validation_terms(self, x: Tensor) -> dict[str, Tensor]:
        """Mean exact log p(x) of held-out rows x [B, *shape] (nats per example)."""
        return {"log_likelihood": self.log_prob(x).mean()}

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n exact draws [n, *shape]: u ~ N(0, I) through the inverse couplings and preprocessing."""
        y = pull_back(self.layers, self.base.sample(n, generator))
        return self.preprocessor.inverse(y).view(n, *self.shape)
