"""Random bytes into every file loader and random dicts into the config parser: a result or a GausslabError."""

import gzip
import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gausslab.training.run_config import resolve
from gausslab.data import load_dataset
from gausslab.core.errors import GausslabError

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
