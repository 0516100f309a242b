"""`load_dataset`: built-in data sets by name, users' files by path, split train/test with a seed."""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import Tensor

from gausslab.data import images, toy2d
from gausslab.data.dataset import Dataset
from gausslab.data.files import read_path
from gausslab.data.lazy import take
from gausslab.data.raw import RawData
from gausslab.core.errors import ConfigError, DataError, unknown_choice
from gausslab.core.resources import check_memory

# name -> builder; a builder's keyword arguments other than `seed` are its options.
DATASETS: dict[str, Callable[..., RawData]] = {
    "ring8": toy2d.ring8,
    "grid25": toy2d.grid25,
    "moons": toy2d.moons,
    "spiral": toy2d.spiral,
    "pinwheel": toy2d.pinwheel,
    "checkerboard": toy2d.checkerboard,
    "digits": images.digits,
    "mnist5k": images.mnist5k,
    "shapes": images.shapes,
}


class DatasetInfo(NamedTuple):
    """One row of `gausslab datasets`."""

    name: str
    shape: tuple[int, ...]  # one example, at the default options
    kind: str  # "vector" | "image"
    description: str


def load_dataset(
    name_or_path: str | os.PathLike,
    *,
    test_fraction: float = 0.2,
    seed: int = 0,
    valid_fraction: float = 0.1,
    lazy: bool | None = None,
    resize: int | None = None,
    crop: int | None = None,
    test: str | os.PathLike | None = None,
    valid: str | os.PathLike | None = None,
    **options: object,
) -> Dataset:
    """A built-in data set (by name) or a file/folder (by path), split train / validation / test.

    seed: seeds both the sampling of built-ins and the permutation behind the splits.
    valid_fraction: the share of all examples held out from training for validation (0: none).
    lazy, resize, crop: how a file or folder is read (`files.read_path`); lazy splits are `LazyRows`.
    test, valid: a file or folder read as that split instead of a fraction of the main one.
    options: builder options of a built-in, e.g. `n=` for toys, `size=` for shapes.
    """
    _check_fraction("test_fraction", test_fraction)
    _check_fraction("valid_fraction", valid_fraction, zero=True)
    reading = {"lazy": lazy, "resize": resize, "crop": crop}
    if isinstance(name_or_path, str) and name_or_path in DATASETS:
        given = [f"data.{k}={v!r}" for k, v in {**reading, "test": test, "valid": valid}.items() if v is not None]
        if given:
            raise ConfigError(f"{given[0]} applies to data read from a file or folder, not to {name_or_path!r}")
        return split(_build(name_or_path, seed, options), name_or_path, test_fraction, valid_fraction, seed)
    if not _looks_like_path(name_or_path):
        raise unknown_choice("dataset", name_or_path, DATASETS)
    if options:
        where = repr(str(name_or_path))
        raise ConfigError(f"options {sorted(options)} apply only to built-in data sets, not to {where}")
    name = os.path.basename(os.path.abspath(name_or_path))
    raw = read_path(name_or_path, **reading)
    held = {k: _held_out(k, p, raw, name, reading) for k, p in (("test", test), ("valid", valid)) if p is not None}
    return split(raw, name, test_fraction, valid_fraction, seed, **held)


def _held_out(split_name: str, path: str | os.PathLike, main: RawData, name: str, reading: dict) -> RawData:
    """The file or folder `data.<split_name>` names, read as the main data is and checked to match it."""
    raw = read_path(path, **reading)
    where = f"data.{split_name}={str(path)!r}"
    if tuple(raw.x.shape[1:]) != tuple(main.x.shape[1:]):
        raise DataError(f"{where} holds examples of shape {tuple(raw.x.shape[1:])} but {name!r} holds "
                        f"{tuple(main.x.shape[1:])}; both must have the same shape")
    if raw.levels != main.levels:
        raise DataError(f"{where} holds data of {raw.levels or 'continuous'} levels but {name!r} of "
                        f"{main.levels or 'continuous'}; store both the same way (e.g. both as uint8)")
    return raw


def split(raw: RawData, name: str, test_fraction: float, valid_fraction: float, seed: int,
          test: RawData | None = None, valid: RawData | None = None) -> Dataset:
    """A seeded permutation: its last round(test_fraction·N) examples form the test split, the
    round(valid_fraction·N) before them the validation split, the rest the training split.

    Labelled data that asks for it (`raw.stratify`) is split label by label in those proportions,
    so every split keeps the labels' shares (see `_stratified_parts`). Either way the test split
    does not depend on valid_fraction, so runs with and without validation are scored on the same
    test examples. A `test` or `valid` given as data of its own is that split whole, and its
    fraction is not taken from `raw`. Lazy data (`LazyRows`) is split by index, reading nothing.
    """
    n = len(raw.x)
    g = torch.Generator().manual_seed(seed)
    fractions = (0.0 if test is not None else test_fraction, 0.0 if valid is not None else valid_fraction)
    if raw.stratify and raw.labels is not None:
        train_idx, valid_idx, test_idx = _stratified_parts(raw.labels, *fractions, g)
    else:
        train_idx, valid_idx, test_idx = _random_parts(n, *fractions, g)
    if (len(test_idx) == 0 and test is None) or len(train_idx) == 0:
        empty = "train" if len(train_idx) == 0 else "test"
        raise DataError(
            f"test_fraction={test_fraction} and valid_fraction={valid_fraction} of {n} examples in {name!r} "
            f"leave the {empty} split empty; use more examples or smaller fractions"
        )
    has_valid = len(valid_idx) > 0

    def part(t: Tensor | None, idx: Tensor) -> Tensor | None:
        return None if t is None else t[idx]

    # (examples, labels, factors) of each held-out split: its own data, or rows of raw
    test_parts = (test.x, test.labels, test.factors) if test is not None else (
        take(raw.x, test_idx), part(raw.labels, test_idx), part(raw.factors, test_idx))
    valid_parts = (valid.x, valid.labels, valid.factors) if valid is not None else (
        (take(raw.x, valid_idx), part(raw.labels, valid_idx), part(raw.factors, valid_idx)) if has_valid
        else (None, None, None))
    return Dataset(
        name=name,
        train=take(raw.x, train_idx),
        test=test_parts[0],
        kind=raw.kind,
        labels=part(raw.labels, train_idx),
        test_labels=test_parts[1],
        factors=part(raw.factors, train_idx),
        test_factors=test_parts[2],
        factor_names=list(raw.factor_names),
        log_prob=raw.log_prob,
        modes=raw.modes,
        valid=valid_parts[0],
        valid_labels=valid_parts[1],
        valid_factors=valid_parts[2],
        levels=raw.levels,
    )


def _random_parts(n: int, test_fraction: float, valid_fraction: float, g: torch.Generator) -> tuple[Tensor, ...]:
    """Indices (train, valid, test) of n examples: one seeded permutation, test last, validation before it."""
    n_test, n_valid = round(test_fraction * n), round(valid_fraction * n)
    order = torch.randperm(n, generator=g)
    n_train = max(0, n - n_test - n_valid)
    return order[:n_train], order[n_train : max(n_train, n - n_test)], order[n - n_test :]


def _stratified_parts(labels: Tensor, test_fraction: float, valid_fraction: float,
                      g: torch.Generator) -> tuple[Tensor, ...]:
    """`_random_parts` within each label (in label order, one seeded permutation each), then every split
    shuffled, test first, so that its order follows no label and does not depend on valid_fraction."""
    parts: tuple[list[Tensor], ...] = ([], [], [])
    for label in labels.unique():  # sorted
        members = (labels == label).nonzero().squeeze(1)
        for part, idx in zip(parts, _random_parts(len(members), test_fraction, valid_fraction, g)):
            part.append(members[idx])
    train, valid, test = (torch.cat(part) for part in parts)
    test, valid, train = (t[torch.randperm(len(t), generator=g)] for t in (test, valid, train))
    return train, valid, test


def describe() -> list[DatasetInfo]:
    """Name, example shape, kind and one-line description of every built-in, at default options."""
    rows = []
    for name, builder in DATASETS.items():
        # The example shape never depends on `n`, so two examples are enough to read it.
        small = {"n": 2} if "n" in inspect.signature(builder).parameters else {}
        summary = (builder.__doc__ or "").strip().splitlines()[0]
        try:
            raw = builder(**small)
        except DataError as err:  # a built-in whose optional source is not installed: say how to get it
            rows.append(DatasetInfo(name, (), "-", str(err)))
            continue
        rows.append(DatasetInfo(name, tuple(raw.x.shape[1:]), raw.kind, summary))
    return rows


def _build(name: str, seed: int, options: dict[str, object]) -> RawData:
    """Call a builder with checked options, passing `seed` when it samples."""
    builder = DATASETS[name]
    params = inspect.signature(builder).parameters
    allowed = [p for p in params if p != "seed"]
    unknown = [key for key in options if key not in allowed]
    if unknown and not allowed:
        raise ConfigError(f"dataset {name!r} takes no options, got {unknown[0]!r}")
    if unknown:
        raise unknown_choice(f"option for dataset {name!r}", unknown[0], allowed)
    n = options.get("n")
    if isinstance(n, int) and n > 2:  # builders check n themselves; here only what it would take
        example = builder(**{**options, "n": 2}).x[0]  # one example at these options
        check_memory(n * example.numel() * example.element_size(), f"n={n} examples of {name!r}", DataError)
    return builder(**options, seed=seed) if "seed" in params else builder(**options)


def _check_fraction(option: str, value: object, zero: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or not (0 <= value if zero else 0 < value) or not value < 1:
        low = "0 (included)" if zero else "0"
        raise DataError(f"{option}={value!r} is not allowed; it must lie between {low} and 1")


def _looks_like_path(value: object) -> bool:
    if isinstance(value, os.PathLike):
        return True
    if not isinstance(value, str):
        return False
    return any(c in value for c in ("/", os.sep, ".")) or os.path.exists(value)


def load_from_config(config) -> Dataset:
    """The Dataset a `DataConfig` names (its size option only when set)."""
    options = {"n": config.n} if config.n is not None else {}
    return load_dataset(config.name, test_fraction=config.test_fraction, valid_fraction=config.valid_fraction,
                        seed=config.seed, lazy=config.lazy, resize=config.resize, crop=config.crop,
                        test=config.test, valid=config.valid, **options)
