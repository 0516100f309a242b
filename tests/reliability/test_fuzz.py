"""Random bytes into every file loader and random dicts into the config parser: a result or a GausslabError."""

import gzip
import string
import types
import typing

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gausslab as gl
from gausslab.core.errors import GausslabError
from gausslab.data import load_dataset, load_from_config
from gausslab.data.config import DataConfig
from gausslab.models import MODEL_CONFIGS, build_model
from gausslab.study.presets import StudyPreset, preset_with
from gausslab.training.config import TrainConfig
from gausslab.training.run_config import resolve

SUFFIXES = ["x.npz", "x.npy", "x.csv", "train-images-idx3-ubyte", "train-images-idx3-ubyte.gz", "x.idx"]
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _load(path):
    try:
        ds = load_dataset(str(path))
    except GausslabError as err:
        assert "\n" not in str(err)
        return None
    assert ds.train.shape[0] > 0 and ds.test.shape[0] > 0
    return ds


@FUZZ
@given(name=st.sampled_from(SUFFIXES), blob=st.binary(max_size=600))
def test_random_bytes_into_file_loaders(tmp_path_factory, name, blob):
    path = tmp_path_factory.mktemp("fuzz") / name
    path.write_bytes(gzip.compress(blob) if name.endswith(".gz") and blob[:1] == b"\x00" else blob)
    _load(path)


@FUZZ
@given(header=st.sampled_from([b"\x00\x00\x08\x03", b"\x00\x00\x08\x01", b"\x00\x00\x0d\x02"]),
       blob=st.binary(max_size=300))
def test_idx_like_bytes(tmp_path_factory, header, blob):
    path = tmp_path_factory.mktemp("fuzz") / "data-idx3-ubyte"
    path.write_bytes(header + blob)
    _load(path)


@FUZZ
@given(rows=st.lists(st.text(alphabet=string.digits + ".,-eE na\n", max_size=30), max_size=20))
def test_csv_text(tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("fuzz") / "x.csv"
    path.write_text("\n".join(rows))
    _load(path)


scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                    st.text(max_size=12), st.lists(st.integers(-5, 600), max_size=4))
keys = st.sampled_from(["name", "kind", "latent_dim", "prior", "epochs", "lr", "batch_size", "loss", "pack",
                        "components", "covariance", "beta", "hidden", "steps", "seed", "bogus", "test_fraction"])
sections = st.dictionaries(keys, scalars, max_size=5)


@settings(max_examples=300, deadline=None)
@given(raw=st.dictionaries(st.sampled_from(["data", "model", "train", "other"]),
                           st.one_of(sections, scalars), max_size=3))
def test_random_dicts_into_config_parser(raw):
    try:
        cfg = resolve(raw)
    except GausslabError as err:
        assert "\n" not in str(err) and str(err)
        return
    assert cfg.train.epochs > 0 and 0 < cfg.train.lr < float("inf")


# --- list-valued and integer settings: any value is refused in one line, or accepted and usable ---------------

def _types(annotation) -> set:
    """The plain types an annotation allows: tuple[Size, ...] | None -> {tuple, NoneType}."""
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return set().union(*(_types(a) for a in args))
    return {origin or annotation}


def _fields(cls, kind: type) -> list[str]:
    return sorted(name for name, f in cls.model_fields.items() if kind in _types(f.annotation) and name != "kind")


SECTIONS = {("data", None): DataConfig, ("train", None): TrainConfig,
            **{("model", kind): cls for kind, cls in MODEL_CONFIGS.items()}}
INT_SETTINGS = [(section, kind, name) for (section, kind), cls in SECTIONS.items() for name in _fields(cls, int)]
LIST_SETTINGS = [(section, kind, name) for (section, kind), cls in SECTIONS.items() for name in _fields(cls, tuple)]
# Small values train in milliseconds; far ones are refused (as sizes, by the memory check) or harmless (as
# counts of steps). Nothing in between: a size that passes the memory check but fills it is legal and slow.
ints = st.one_of(st.integers(-3, 70), st.integers(2**40, 2**80), st.integers(-(2**80), -(2**31) - 1))
# Seeds also at the edges of what torch's generators take.
seeds = st.one_of(ints, st.sampled_from([2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**63 - 1, 2**63, 2**64]))
items = st.one_of(ints, st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.none(), st.text(max_size=3),
                  st.lists(st.integers(-2, 9), max_size=2))


def _use(section: str, kind: str | None, name: str, value) -> None:
    """Resolve the setting; if accepted, load data, build the model and train it two steps: each either works
    or raises a one-line GausslabError."""
    train = {"steps": 2, "batch_size": 16, "log_every": 1, "checkpoint_every": 1, "device": "cpu"}
    raw = {"data": {"name": "ring8", "n": 64}, "model": {"kind": kind or "vae", "hidden": [8]}, "train": train}
    if kind == "gmm":
        raw["model"] = {"kind": "gmm", "components": 2}
    raw[section] = {**raw[section], name: value}
    try:
        config = resolve(raw)
        data = load_from_config(config.data)
        model = build_model(config.model, data, seed=config.train.seed)
        gl.fit(model, data, config.train.model_copy(update={"steps": min(config.train.steps or 2, 2)}),
               progress=False)
    except GausslabError as err:
        assert "\n" not in str(err) and str(err)


@settings(max_examples=120, deadline=None)
@given(setting=st.sampled_from(INT_SETTINGS), data=st.data())
def test_integer_settings_are_refused_in_one_line_or_usable(setting, data):
    _use(*setting, data.draw(seeds if setting[-1] == "seed" else ints))


@settings(max_examples=120, deadline=None)
@given(setting=st.sampled_from(LIST_SETTINGS), value=st.lists(items, max_size=4))
def test_list_settings_are_refused_in_one_line_or_usable(setting, value):
    _use(*setting, value)


@settings(max_examples=100, deadline=None)
@given(name=st.sampled_from(_fields(StudyPreset, tuple)), value=st.lists(items, max_size=4))
def test_study_list_settings_are_refused_in_one_line_or_hold_positive_sizes(name, value):
    try:
        preset = preset_with("quick", {name: value})
    except GausslabError as err:
        assert "\n" not in str(err)
        return
    chosen = getattr(preset, name)
    assert all(isinstance(v, str) or v > 0 for v in chosen), chosen


def test_the_fuzzed_settings_cover_every_list_and_integer_field():
    assert {("model", "vae", "hidden"), ("model", "gan", "betas"), ("model", "gan", "d_hidden")} <= set(LIST_SETTINGS)
    assert {("train", None, "seed"), ("data", None, "seed"), ("data", None, "n"), ("model", "gmm", "components"),
            ("model", "vae", "latent_dim"), ("train", None, "batch_size")} <= set(INT_SETTINGS)
