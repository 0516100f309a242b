"""Every model kind has exactly one config, and each config names its own kind."""

from __future__ import annotations

from gausslab.models import MODEL_CONFIGS, MODELS
from gausslab.training.run_config import RunConfig


def test_every_model_kind_has_a_config_and_the_run_config_accepts_it():
    assert set(MODELS) == set(MODEL_CONFIGS)
    for kind, config in MODEL_CONFIGS.items():
        assert config.model_fields["kind"].default == kind
        assert isinstance(RunConfig.model_validate({"model": {"kind": kind}}).model, config)
