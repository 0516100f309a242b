import pydantic
import pytest

from gausslab.core.config import load_yaml
from gausslab.models.vae import VAEConfig
from gausslab.training.config import TrainConfig
from gausslab.training.run_config import RunConfig, parse_overrides, resolve
from gausslab.core.errors import ConfigError


def test_defaults_and_overrides_are_typed():
    cfg = resolve({"train": {"epochs": 3}}, ["train.lr=1e-2", "model.prior=vamp", "model.hidden=[64, 32]"])
    assert cfg.train.epochs == 3 and cfg.train.lr == pytest.approx(0.01)
    assert isinstance(cfg.model, VAEConfig) and cfg.model.prior == "vamp" and cfg.model.hidden == (64, 32)


def test_model_kind_selects_its_config():
    cfg = resolve({}, ["model.kind=gan", "model.loss=hinge"])
    assert cfg.model.kind == "gan" and cfg.model.loss == "hinge"


@pytest.mark.parametrize(
    "overrides, needles",
    [
        (["model.prior=vampp"], ["model.prior", "vampp", "did you mean 'vamp'", "standard"]),
        (["train.epoch=3"], ["train.epoch", "did you mean 'epochs'"]),
        (["train.lr=-1"], ["train.lr", "-1", "greater than 0"]),
        (["train.epochs=abc"], ["train.epochs", "abc"]),
        (["model.kind=ganx"], ["ganx", "vae, gan, gmm"]),
        (["optim.lr=1"], ["optim", "data, model, train"]),
        (["trainepochs"], ["section.key=value"]),
    ],
)
def test_invalid_values_give_one_line_naming_the_value(overrides, needles):
    with pytest.raises(ConfigError) as err:
        resolve({}, overrides)
    msg = str(err.value)
    assert "\n" not in msg
    for needle in needles:
        assert needle in msg


def test_yaml_round_trip_and_errors(tmp_path):
    good = tmp_path / "run.yaml"
    good.write_text("data: {name: ring8}\nmodel: {kind: gmm, components: 4}\ntrain: {epochs: 2}\n")
    cfg = resolve(load_yaml(good))
    assert cfg.data.name == "ring8" and cfg.model.components == 4
    assert RunConfig.model_validate(cfg.model_dump(mode="json")) == cfg
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: {name: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_yaml(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        load_yaml(tmp_path / "missing.yaml")


def test_configs_are_frozen():
    cfg = TrainConfig()
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        cfg.epochs = 3


def test_override_values_parse_as_yaml_scalars():
    assert parse_overrides(["train.grad_clip=null", "model.beta=4", "data.name=path/to.npz"]) == {
        "train": {"grad_clip": None}, "model": {"beta": 4}, "data": {"name": "path/to.npz"}}


def test_field_like_and_value_like_take_the_fields_check_and_default():
    from gausslab.core.config import StrictModel, field_like, validate, value_like

    class Feeds(StrictModel):
        batch_size: field_like(TrainConfig, "batch_size")
        lr: field_like(TrainConfig, "lr", default=0.5)
        steps: value_like(TrainConfig, "steps") = 7  # TrainConfig.steps without its None

    assert Feeds() == Feeds(batch_size=TrainConfig().batch_size, lr=0.5, steps=7)
    for key, bad in (("batch_size", 0), ("lr", -1.0), ("steps", 0), ("steps", None)):
        with pytest.raises(ConfigError, match=f"^{key}="):
            validate(Feeds, {key: bad})
