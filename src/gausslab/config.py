"""Run configuration: one pydantic model per component; fields are constructor arguments.

A run is `RunConfig(data=..., model=..., train=...)`, loaded from YAML and overridden with
`section.key=value` strings (the CLI's `--set`). Every validation problem becomes a one-line
`ConfigError` naming the field, the value and what is allowed.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gausslab.errors import ConfigError, brief

# Element types of list-valued settings and the range of seeds: every value a config accepts can be used.
Size = Annotated[int, Field(gt=0)]  # a layer width, channel count, component count or dimension
Beta = Annotated[float, Field(ge=0, lt=1)]  # an Adam moment decay
# torch takes seeds in [-2**63, 2**64); the trainer mixes seed * 1_000_003 + epoch, so seeds are 32-bit.
SEED_MIN, SEED_MAX = -(2**31), 2**32
Seed = Annotated[int, Field(ge=SEED_MIN, lt=SEED_MAX, description="A 32-bit seed, signed or unsigned.")]
MAX_CONFIG_BYTES = 1 << 20  # a YAML run config is a few hundred bytes; anything past 1 MiB is not one
SECTIONS = ("data", "model", "train")


class StrictModel(BaseModel):
    """Frozen, typo-proof base: unknown keys are errors and configs are never mutated."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class DataConfig(StrictModel):
    name: str = Field("digits", min_length=1, description="A built-in name (`gausslab datasets`) or a path to a "
                                                         "file or folder.")
    test_fraction: float = Field(0.2, gt=0, lt=1)
    valid_fraction: float = Field(0.1, ge=0, lt=1)  # held out from training for every choice (0: none)
    seed: Seed = 0
    n: int | None = Field(None, gt=0)  # size of a generated data set (toys, shapes)


class VAEConfig(StrictModel):
    kind: Literal["vae"] = "vae"
    latent_dim: int = Field(16, gt=0)
    prior: Literal["standard", "mog", "vamp", "flow"] = "standard"
    prior_components: int = Field(10, gt=0)  # mixture components / VampPrior pseudo-inputs
    flow_layers: int = Field(4, gt=0, le=1000, description="Coupling layers of the `flow` prior.")
    likelihood: Literal["auto", "bernoulli", "gaussian"] = "auto"  # auto: bernoulli for images
    gaussian_scale: Literal["learned", "fixed"] = "learned"
    gaussian_std: float = Field(1.0, gt=0)  # the scale when gaussian_scale == "fixed"
    beta: float = Field(1.0, ge=0)  # Higgins et al. 2017
    warmup_steps: int = Field(0, ge=0)  # linear KL annealing, Bowman et al. 2016
    free_bits: float = Field(0.0, ge=0)  # nats per latent unit, Kingma et al. 2016
    arch: Literal["auto", "mlp", "conv"] = "auto"  # auto: conv for images of side >= 16
    hidden: tuple[Size, ...] | None = None  # MLP widths; None picks from the data size
    channels: tuple[Size, ...] = (32, 64, 128)  # conv widths, one per stride-2 stage


class GANConfig(StrictModel):
    kind: Literal["gan"] = "gan"
    latent_dim: int = Field(2, gt=0)  # size of the Gaussian base z ~ N(0, I)
    loss: Literal["minimax", "ns", "wgan-gp", "hinge"] = "ns"
    pack: int = Field(2, gt=0)  # PacGAN packing degree, Lin et al. 2018 (1 = vanilla)
    n_critic: int = Field(1, gt=0, le=1000, description="Discriminator updates per generator update.")
    gp_weight: float = Field(10.0, ge=0)  # WGAN-GP lambda, Gulrajani et al. 2017
    spectral_norm: bool = False  # Miyato et al. 2018, on the discriminator
    lr_g: float = Field(1e-3, gt=0)  # defaults tuned on ring8 (benchmarks/toy_modes.py)
    lr_d: float = Field(1e-3, gt=0)
    betas: tuple[Beta, Beta] = (0.5, 0.999)  # Radford et al. 2016 (DCGAN)
    ema: float = Field(0.99, ge=0, lt=1)  # generator weight EMA decay used for sampling (0 = off)
    arch: Literal["auto", "mlp", "conv"] = "auto"
    hidden: tuple[Size, ...] = Field((256, 256, 256), min_length=1)  # generator MLP widths
    d_hidden: tuple[Size, ...] = Field((256, 256), min_length=1)  # discriminator MLP widths
    channels: tuple[Size, ...] = (32, 64, 128)


class GMMConfig(StrictModel):
    kind: Literal["gmm"] = "gmm"
    components: int = Field(10, gt=0)
    covariance: Literal["full", "diag"] = "full"
    reg_covar: float = Field(1e-6, gt=0)  # added to covariance diagonals (as scikit-learn)
    tol: float = Field(1e-4, ge=0)  # stop when the mean log-likelihood gains less than this


ModelConfig = Annotated[Union[VAEConfig, GANConfig, GMMConfig], Field(discriminator="kind")]
MODEL_CONFIGS: dict[str, type[StrictModel]] = {"vae": VAEConfig, "gan": GANConfig, "gmm": GMMConfig}


class TrainConfig(StrictModel):
    epochs: int = Field(50, gt=0)
    steps: int | None = Field(None, gt=0)  # when set, caps the run
    batch_size: int = Field(128, gt=0)  # global batch (split across DDP ranks)
    lr: float = Field(1e-3, gt=0)
    seed: Seed = 0
    checkpoint_every: int = Field(500, gt=0)  # steps
    log_every: int = Field(50, gt=0)  # steps
    grad_clip: float | None = Field(None, gt=0)  # max global gradient norm
    nan_policy: Literal["stop", "skip"] = "stop"  # on a non-finite loss: stop, or skip the batch
    device: Literal["auto", "cpu", "cuda"] = "auto"
    amp: Literal["off", "bf16", "fp16"] = "off"  # autocast of forward passes: bf16 on CPU/CUDA, fp16 on CUDA
    compile: bool = False  # torch.compile the networks' forward passes (on CPU this needs a C++ compiler)


class RunConfig(StrictModel):
    data: DataConfig = DataConfig()
    model: ModelConfig = VAEConfig()
    train: TrainConfig = TrainConfig()


def validate(cls: type[StrictModel], raw: dict[str, Any]) -> StrictModel:
    """cls(**raw), turning pydantic's report into a one-line ConfigError."""
    try:
        return cls.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(_one_line(err, raw)) from None


def _one_line(err: ValidationError, raw: dict[str, Any]) -> str:
    first = err.errors()[0]
    loc = ".".join(str(p) for p in first["loc"] if not str(p).startswith(("function-", "tagged-union")))
    loc = loc.replace(".vae.", ".").replace(".gan.", ".").replace(".gmm.", ".")
    value = first.get("input")
    kind = first["type"]
    if kind == "missing":
        return f"{loc} is missing"
    if kind == "extra_forbidden":
        parent = loc.rsplit(".", 1)[0] if "." in loc else ""
        allowed = _allowed_keys(parent, raw)
        close = difflib.get_close_matches(loc.rsplit(".", 1)[-1], allowed, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"unknown setting {brief(loc)}{hint}; allowed: {', '.join(allowed)}"
    if kind == "literal_error":
        expected = first["ctx"]["expected"]
        options = [o.strip().strip("'") for o in expected.replace(" or ", ", ").split(",")]
        close = difflib.get_close_matches(str(value), options, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"{loc}={brief(value)} is not allowed{hint}; choose one of: {', '.join(options)}"
    if kind == "union_tag_invalid":
        return f"{loc}.kind={brief(first['ctx']['tag'])} is not allowed; choose one of: {', '.join(MODEL_CONFIGS)}"
    return f"{loc}={brief(value)}: {first['msg']}"


def _allowed_keys(parent: str, raw: dict[str, Any]) -> list[str]:
    if parent == "":
        return list(RunConfig.model_fields)
    if parent == "model":
        kind = (raw.get("model") or {}).get("kind", "vae")
        return list(MODEL_CONFIGS.get(kind, VAEConfig).model_fields)
    section = {"data": DataConfig, "train": TrainConfig}.get(parent)
    return list(section.model_fields) if section else []


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """['train.epochs=5', 'model.prior=vamp'] -> {'train': {'epochs': 5}, 'model': {'prior': 'vamp'}}.

    Values are read as YAML scalars, so `5` is an int, `1e-3` a float and `[64, 64]` a list.
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        parts = key.strip().split(".")
        if not sep or len(parts) != 2 or not all(parts):
            raise ConfigError(f"--set {brief(item)} is not of the form section.key=value (e.g. train.epochs=5)")
        if parts[0] not in RunConfig.model_fields:
            raise ConfigError(f"--set {brief(item)}: unknown section {brief(parts[0])}; choose one of: "
                              f"{', '.join(SECTIONS)}")
        out.setdefault(parts[0], {})[parts[1]] = _scalar(value)
    return out


def _scalar(text: str) -> Any:
    try:
        value = yaml.load(text, Loader=UniqueKeySafeLoader)
    except (yaml.YAMLError, RecursionError):
        return text
    return text if value is None and text.strip() not in ("null", "~", "") else value


class DuplicateKey(yaml.YAMLError):
    """A mapping that gives one key twice (PyYAML would silently keep the last value)."""

    def __init__(self, key: object, line: int):
        super().__init__(f"key {brief(key)} twice")
        self.key, self.line = key, line


class UniqueKeySafeLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a mapping that repeats a key (merge keys `<<` still override)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                repeated = key in seen
                seen.add(key)
            except TypeError:  # an unhashable key: the base class reports it
                continue
            if repeated:
                raise DuplicateKey(key, key_node.start_mark.line + 1)
        return super().construct_mapping(node, deep=deep)


def load_yaml(path: str | Path) -> dict[str, Any]:
    """A YAML mapping from disk (safe loader, at most MAX_CONFIG_BYTES), or a ConfigError naming the file."""
    path = Path(path)
    name = repr(str(path))
    try:
        with path.open("rb") as f:
            data = f.read(MAX_CONFIG_BYTES + 1)  # bounded: `--config /dev/zero` never ends
        if len(data) > MAX_CONFIG_BYTES:
            raise ConfigError(f"config file {name} is larger than {MAX_CONFIG_BYTES >> 10} KiB; a run config is a "
                              "short YAML mapping with data/model/train sections")
        text = data.decode()
        raw = yaml.load(text, Loader=UniqueKeySafeLoader)
    except FileNotFoundError:
        raise ConfigError(f"config file {name} does not exist") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read config file {name}: {err.__class__.__name__}") from None
    except DuplicateKey as err:
        raise ConfigError(f"config file {name} gives the key {brief(err.key)} twice (the second at line "
                          f"{err.line}); keep one") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"config file {name} is not valid YAML{where}") from None
    except RecursionError:
        raise ConfigError(f"config file {name} is nested too deeply to be a run config") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {name} must hold a mapping with data/model/train sections")
    check_sections(raw)
    return raw


def check_sections(raw: dict[str, Any]) -> None:
    """A ConfigError unless every data/model/train section present is a mapping (or empty)."""
    for section in SECTIONS:
        value = raw.get(section)
        if value is not None and not isinstance(value, dict):
            raise ConfigError(f"section {section!r} must be a mapping of settings (e.g. {section}: {{...}}), "
                              f"got {brief(value)}")


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Recursive dict merge; `override` wins."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def resolve(
    raw: dict[str, Any] | None = None, overrides: list[str] | tuple[str, ...] = (), **sections: dict[str, Any]
) -> RunConfig:
    """The full RunConfig from a YAML mapping, keyword sections and `--set` strings (last wins)."""
    merged = merge(raw or {}, {k: v for k, v in sections.items() if v})
    merged = merge(merged, parse_overrides(list(overrides)))
    check_sections(merged)
    model = merged.get("model")
    if model is not None and "kind" not in model:
        merged["model"] = {"kind": "vae", **model}
    return validate(RunConfig, merged)
