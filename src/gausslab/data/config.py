"""`DataConfig`: which data set a run uses and how it is split (the `data:` section of a run)."""

from __future__ import annotations

from pydantic import Field

from gausslab.core.config import Seed, StrictModel


class DataConfig(StrictModel):
    """Arguments of `load_dataset`: a built-in name or a path, and the seeded split."""

    name: str = Field("digits", min_length=1,
                      description="a built-in name (`gausslab datasets`) or a path to a file or folder")
    test_fraction: float = Field(0.2, gt=0, lt=1, description="share of all examples held out for testing")
    valid_fraction: float = Field(0.1, ge=0, lt=1, description="share of all examples held out from training "
                                  "for validation, where every choice is made (0: none)")
    seed: Seed = Field(0, description="seeds the sampling of generated data and the split")
    n: int | None = Field(None, gt=0, description="size of a generated data set (toys, shapes)")
    test: str | None = Field(None, min_length=1, description="a file or folder read as the test split, instead "
                             "of test_fraction of `name`")
    valid: str | None = Field(None, min_length=1, description="a file or folder read as the validation split, "
                              "instead of valid_fraction of `name`")
    lazy: bool | None = Field(None, description="keep a .npy file or image folder on disk and read one batch at a "
                              "time (null: when it would take over 1 GiB as float32)")
    resize: int | None = Field(None, gt=0, description="image folders: scale each image's shorter side to this "
                               "many pixels, then keep the centre square")
    crop: int | None = Field(None, gt=0, description="image folders: keep the centre square of this side "
                             "(after resize)")
