"""Study tasks: a mixture's K is chosen on the validation split, never on the test split."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

import gausslab as gl
from gausslab.data.config import DataConfig
from gausslab.core.errors import DataError
from gausslab.training.fitting import k_sweep, select_k
from gausslab.study import execute
from gausslab.study.presets import PRESETS
from gausslab.study.record import METRICS_JSON, PER_EXAMPLE, Task


def _disagreeing_splits():
    """ring8 whose validation points are spread far from the modes: there one broad Gaussian (K = 1) scores best,
    while on the test points (the ring) the 8-component mixture does."""
    ring = gl.load_dataset("ring8", n=800)
    broad = 3 * torch.randn(len(ring.valid), 2, generator=torch.Generator().manual_seed(0))
    return dataclasses.replace(ring, valid=broad)


def test_k_sweep_task_chooses_k_on_validation(tmp_path):
    data = _disagreeing_splits()
    task = Task(name="gmm-ksweep-ring8-s0", group="gmm-ksweep-ring8", section="mixtures", label="GMM k-sweep",
                seed=0, kind="ksweep", data=DataConfig(name="ring8", n=800), tags={"toy": "ring8"},
                options={"ks": [1, 8], "steps": 30, "reg_covar": 1e-6})
    ctx = execute.RunContext(tmp_path, PRESETS["quick"], progress=False)
    ctx._data[task.data.model_dump_json()] = data
    execute.ksweep_task(task, tmp_path / "run", ctx)
    m = json.loads((tmp_path / "run" / METRICS_JSON).read_text())
    assert m["test_log_likelihood_k8"] > m["test_log_likelihood_k1"] + 1  # the test split would pick K = 8
    assert m["valid_log_likelihood_k1"] > m["valid_log_likelihood_k8"]
    assert m["best_k"] == 1 and m["selection_split"] == "validation"
    assert m["true_test_log_likelihood"] == pytest.approx(data.log_prob(data.test.double()).mean().item())
    assert (tmp_path / "run" / PER_EXAMPLE).exists()


def test_select_k_needs_a_validation_split():
    data = dataclasses.replace(gl.load_dataset("ring8", n=400), valid=None)
    with pytest.raises(DataError, match="valid_fraction"):
        select_k(k_sweep(data, [1, 2], steps=3))
