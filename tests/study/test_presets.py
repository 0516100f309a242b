"""Study presets: a setting that feeds a run is checked as the run's field, so the two never disagree."""

from __future__ import annotations

import pytest

from gausslab.core.config import validate
from gausslab.core.errors import ConfigError
from gausslab.models.gan import GANConfig
from gausslab.models.gmm import GMMConfig
from gausslab.models.vae import VAEConfig
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
