"""What every model offers the one trainer: optimizers, and the losses of one training step."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn



def adam(params, **options) -> torch.optim.Adam:
    """Adam with the fused kernel: one pass over all parameters instead of ~10 ops per tensor.

    On a 2-core CPU this makes the optimizer step ~6x faster than the default per-tensor loop
    for the 784-512-512-32 VAE (benchmarks/train_throughput.py); results stay deterministic.
    """
    return torch.optim.Adam(params, fused=True, **options)


def full_precision(t: Tensor) -> Tensor:
    """float32 for the float16/bfloat16 outputs of autocast; float32 and float64 tensors as they are."""
    return t.float() if t.dtype in (torch.float16, torch.bfloat16) else t


@dataclass
class Loss:
    """One update of a training step.

    `optimizer` names the optimizer from `GenerativeModel.optimizers` that steps on `value`;
    None means the model already updated itself in closed form (EM) and nothing is backpropagated.
    `parts` are logged separately (detached scalars).
    """

    optimizer: str | None
    value: Tensor
    parts: dict[str, Tensor] = field(default_factory=dict)


class GenerativeModel(nn.Module):
    """Base of VAE, GAN and GMM: `sample`, `model(x)`, plus the hooks the trainer calls.

    Subclasses set `config` (their pydantic config, never mutated) and `shape` (the data shape), and
    name their config class in `config_class` (it lives beside the model; the registry derives the
    `model:` section's choices from it). `model(x)` (`forward`) returns, per example of x
    [B, *shape], the terms `training_losses` is built from: `ElboTerms` for a VAE, the critic's
    scores for a GAN, log p(x) for a GMM. Samples follow the model's device and dtype:
    `model.double().sample(n)` is float64.
    """

    config_class: type  # the model's pydantic config; its `kind` is the model's registry name

    full_batch: bool = False  # True: each step sees the whole training set (EM)
    # How discrete data reaches the model in training and evaluation (`gausslab.data.discrete`):
    # density models see it dequantized, so their log-likelihoods are densities of the same values.
    data_transform: str | None = "dequantize"

    def optimizers(self, lr: float) -> dict[str, torch.optim.Optimizer]:
        """Adam on all parameters at the trainer's learning rate `lr`; GANs override with one per network."""
        return {"model": adam(self.parameters(), lr=lr)}

    def compile_networks(self) -> None:
        """torch.compile the forward of every child module that has parameters (the networks), in place,
        so state-dict keys and checkpoints stay as they are. Other methods (priors' log_prob, ...) run eagerly."""
        for child in self.children():
            if next(child.parameters(), None) is not None:
                child.compile()

    def check_data(self, n: int, batch: int) -> None:
        """Raise a GausslabError when n training rows in batches of `batch` cannot train this model; the
        trainer asks before it writes anything."""

    def prepare(self, x: Tensor) -> Tensor:
        """The training set [N, ...] in the form `training_losses` takes its rows, converted once per run."""
        return x

    def training_losses(self, x: Tensor, step: int) -> Iterator[Loss]:
        """Yield the losses of one step on rows x of `prepare(train)`, in order; the trainer steps each
        before asking for the next."""
        raise NotImplementedError

    def validation_terms(self, x: Tensor) -> dict[str, Tensor]:
        """Mean held-out quantities on rows x, logged once per epoch with the split's prefix (e.g. `valid_elbo`)."""
        return {}

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n samples [n, *shape] on the model's device, in its dtype; `generator` (on that device) seeds them."""
        raise NotImplementedError

    def converged(self) -> bool:
        """True once further steps would change nothing (EM below its tolerance): the trainer then stops."""
        return False

    @property
    def device(self) -> torch.device:
        """Where the weights live (and samples are drawn)."""
        return next(itertools.chain(self.parameters(), self.buffers())).device

    @property
    def dtype(self) -> torch.dtype:
        """The floating dtype of the weights, which samples follow."""
        return next(t.dtype for t in itertools.chain(self.parameters(), self.buffers()) if t.is_floating_point())


class ClosedFormModel(GenerativeModel):
    """A model fitted in closed form on the whole training set (EM, counting) with float64 buffers for
    parameters: nothing for an optimizer, and samples in `dtype`.

    Samples come out float32, like the data, unless the model is converted (`.double()`): a float32
    marker buffer records the conversion, as float64 buffers cannot.
    """

    full_batch = True

    def __init__(self):
        super().__init__()
        self.register_buffer("_sample_dtype", torch.zeros(()), persistent=False)

    @property
    def dtype(self) -> torch.dtype:
        """The dtype of samples: float32 unless the model was converted (`.double()`)."""
        return self._sample_dtype.dtype

    def optimizers(self, lr: float) -> dict[str, torch.optim.Optimizer]:
        """No optimizer ({}): the model updates its buffers itself and yields `Loss(None, ...)`."""
        return {}  # updated in closed form
