"""`TrainConfig`: the trainer's settings (the `train:` section of a run)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from gausslab.core.config import Seed, StrictModel


class TrainConfig(StrictModel):
    """Arguments of `fit`: budget, batching, optimisation, checkpoints and devices."""

    epochs: int = Field(50, gt=0, description="passes over the training split")
    steps: int | None = Field(None, gt=0, description="when set, caps the run at this many steps")
    batch_size: int = Field(128, gt=0, description="global batch (split across DDP ranks)")
    lr: float = Field(1e-3, gt=0, description="learning rate of single-optimizer models")
    seed: Seed = Field(0, description="seeds initialisation noise, the batch order and sampling noise")
    checkpoint_every: int = Field(500, gt=0, description="steps between checkpoints")
    log_every: int = Field(50, gt=0, description="steps between log.jsonl records")
    patience: int | None = Field(None, gt=0, description="stop once the validation ELBO or log-likelihood, checked "
                                 "every epoch, has not beaten its best for this many checks in a row (needs a "
                                 "validation split; GANs have no such objective and train every step); none: "
                                 "train every step")
    grad_clip: float | None = Field(None, gt=0, description="max global gradient norm (none: no clipping)")
    nan_policy: Literal["stop", "skip"] = Field("stop", description="on a non-finite loss: stop, or skip the batch")
    device: str = Field("auto", description="auto (CUDA when available, else CPU), cpu, cuda, cuda:N or mps")
    amp: Literal["off", "bf16", "fp16"] = Field(
        "off", description="autocast of forward passes: bf16 on CPU/CUDA, fp16 on CUDA (with loss scaling)")
    compile: bool = Field(False, description="torch.compile the networks' forward passes "
                          "(on CPU this needs a C++ compiler)")
    tensorboard: bool = Field(False, description="also write TensorBoard event files into RUN/tensorboard "
                                                 "(needs the extra: pip install 'gausslab[tensorboard]')")
    loader_workers: int = Field(0, ge=0, description="worker processes that read (and decode) a lazy training "
                                                 "split's batches ahead of the steps (data.lazy); 0: read in the "
                                                 "training process. The batches are the same either way")
    sample_every: int = Field(10, ge=0, description="write samples.png (and a TensorBoard image) every this many "
                                                    "log steps, and at the end; 0: at the end only")

    @field_validator("device")
    @classmethod
    def _known_device(cls, value: str) -> str:
        if re.fullmatch(r"auto|cpu|cuda|cuda:\d+|mps", value) is None:
            raise ValueError("choose one of: auto, cpu, cuda, cuda:N (N = 0, 1, ...), mps")
        return value
