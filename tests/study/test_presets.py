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


def test_the_sweep_fits_the_data_itself_at_its_full_dimension():
    """Below the data's dimension the sweep fits projections; at it the main data as it is, where the models
    that need pixels join (mixtures in logit space, per-pixel histograms); on vectors they never do."""
    preset = preset_with("quick")

    def sweep(main, shape, levels):
        ctx = Context(preset, DataConfig(name=main), shape, 1257, lambda dim: DataConfig(name=f"{main}-d{dim}"),
                      levels)
        tasks = [t for t in plan(ctx, 1, {}) if t.section == "dimension"]
        return {d: {t.tags["model"]: t for t in tasks if t.tags["dim"] == d} for d in {t.tags["dim"] for t in tasks}}

    pixel_only = {tag for tag, model in DIMENSION_MODELS.items() if model.pixels_only}
    assert pixel_only == {"gmm-logit", "gmm-diag-logit", "gmm-lowrank-logit", "histogram"}
    digits = sweep("digits", (1, 8, 8), 17)
    assert set(digits[2]) == set(DIMENSION_MODELS) - pixel_only and set(digits[64]) == set(DIMENSION_MODELS)
    assert {t.data.name for t in digits[2].values()} == {"digits-d2"}
    pixels = {tag: t.config.model for tag, t in digits[64].items()}
    assert {t.data.name for t in digits[64].values()} == {"digits"}
    for tag in ("gmm", "gmm-diag", "gmm-lowrank"):  # the logit twin: same size, same floor, other space
        twin = pixels[f"{tag}-logit"]
        assert (pixels[tag].preprocess, twin.preprocess) == ("none", "logit")
        assert twin.model_copy(update={"preprocess": "none"}) == pixels[tag]
        assert pixels[tag].reg_covar == preset.gmm_reg_covar
    assert pixels["histogram"].levels == 17 and pixels["vae"].levels == 17  # the discretized logistic's levels
    assert pixels["vae"].arch == pixels["gan"].arch == "mlp"  # widths the budget sets, on images too
    patience = {tag: t.config.train.patience for point in digits.values() for tag, t in point.items()}
    assert {tag for tag, p in patience.items() if p} == {"vae", "flow"}  # networks with a held-out objective
    assert patience["vae"] == patience["flow"] == preset.dim_patience
    ring = sweep("ring8", (2,), None)
    assert set(ring) == {2} and set(ring[2]) == set(DIMENSION_MODELS) - pixel_only
    assert {t.data.name for t in ring[2].values()} == {"ring8"}
