"""Which pictures each study run gets, written as PNG files into its run folder (`plots.run_figures` draws them).

Every run gets `samples`, image data `real`; the VAEs of the priors and shapes sections on images
their reconstructions and interpolations; the toys' networks a push-forward; the 2-D-latent VAEs
their aggregate posterior; the `shapes` VAEs latent traversals.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from gausslab.data import Dataset
from gausslab.plots import run_figures as pictures
from gausslab.study.record import FIGURES, Task


def _vae_on_images(task: Task, data: Dataset) -> bool:
    """VAEs of the priors and shapes sections: their reconstructions and interpolations are shown."""
    return (data.kind == "image" and task.kind == "train" and task.config.model.kind == "vae"
            and task.section in ("priors", "shapes"))


# figure name -> (applies to this task and data?, picture(model, data, label): a matplotlib figure or PNG bytes)
RUN_FIGURES: dict[str, tuple[Callable[[Task, Dataset], bool], Callable]] = {
    "samples": (lambda task, data: True, pictures.samples),
    "real": (lambda task, data: data.kind == "image", pictures.real),
    "recon": (_vae_on_images, pictures.recon),
    "interpolation": (_vae_on_images, pictures.interpolation),
    "pushforward": (lambda task, data: "toy" in task.tags and task.kind == "train" and task.config.model.kind != "gmm",
                    pictures.pushforward),
    "latent": (lambda task, data: task.section == "latent2d", pictures.latent),
    "traversal": (lambda task, data: task.section == "shapes", pictures.traversal),
}


@torch.inference_mode()
def draw(task: Task, model, data: Dataset, folder: Path) -> None:
    """Every picture that applies to `task`, as folder/figures/<name>.png."""
    model.eval()
    (folder / FIGURES).mkdir(parents=True, exist_ok=True)
    for name, (applies, picture) in RUN_FIGURES.items():
        if applies(task, data):
            pictures.save_picture(picture(model, data, task.label), folder / FIGURES / f"{name}.png")
