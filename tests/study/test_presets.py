"""Study presets: a setting that feeds a run is checked as the run's field, so the two never disagree."""

from __future__ import annotations

import pytest

from gausslab.core.config import validate
from gausslab.core.errors import ConfigError
from gausslab.data.config import DataConfig
from gausslab.models.gan import GANConfig
from gausslab.models.gmm import GMMConfig
from gausslab.models.vae import VAEConfig
from gausslab.study.dimension import DIMENSION_MODELS
from gausslab.study.plan import Context, plan
from gausslab.study.presets import preset_with
from gausslab.training.config import TrainConfig

# (study setting, a value of it, the run config and field it feeds, the value the run gets)
FEEDS = [("batch_size", 0, TrainConfig, "batch_size", 0), ("steps", 0, TrainConfig, "steps", 0),
         ("hidden", [], GANConfig, "hidden", []), ("iwae_ks", [100_001], VAEConfig, "iwae_k", 100_001),
         ("gan_lr", 0, GANConfig, "lr_g", 0), ("gmm_reg_covar", 0, GMMConfig, "reg_covar", 0)]


@pytest.mark.parametrize("key, value, config, field, run_value", FEEDS)
def test_study_settings_refuse_what_the_runs_they_feed_refuse(key, value, config, field, run_value):
    with pytest.raises(ConfigError, match=f"^{field}="):
        validate(config, {field: run_value})
    with pytest.raises(ConfigError, match=f"^{key}[.=]"):
        preset_with("quick", {key: value})


def test_the_sweep_plans_the_models_a_preset_names_and_refuses_others():
    def sweep(**overrides):
        ctx = Context(preset_with("quick", overrides), DataConfig(name="digits"), (1, 8, 8), 1257,
                      lambda dim: DataConfig(name="digits"))
        return {t.tags["model"] for t in plan(ctx, 1, {}) if t.section == "dimension"}

    assert sweep() == set(DIMENSION_MODELS)  # None: every model of the registry
    assert sweep(dim_models=["flow", "gmm-lowrank"]) == {"flow", "gmm-lowrank"}
    with pytest.raises(ConfigError, match="unknown study.dim_models entry 'flw' .did you mean 'flow'"):
        sweep(dim_models=["flw"])
