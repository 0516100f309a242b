import gzip
import struct

import numpy as np
import pytest
import torch
from PIL import Image

from gausslab.data.files import read_path
from gausslab.core.errors import DataError

from .checks import expect_error

IDX_CODES = {np.dtype("uint8"): 0x08, np.dtype("float32"): 0x0D, np.dtype("int16"): 0x0B}


def write_idx(path, array: np.ndarray, compress: bool = False) -> None:
    """An IDX file written by hand: magic 00 00 <type> <rank>, big-endian dims, big-endian data."""
    magic = bytes([0, 0, IDX_CODES[array.dtype], array.ndim])
    header = magic + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    path.write_bytes(gzip.compress(payload) if compress else payload)


@pytest.fixture
def mnist_like():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (6, 5, 4), dtype=np.uint8), rng.integers(0, 10, 6, dtype=np.uint8)


# --- IDX -------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_images_with_labels_beside(tmp_path, mnist_like, suffix):
    images, labels = mnist_like
    write_idx(tmp_path / f"train-images-idx3-ubyte{suffix}", images, compress=bool(suffix))
    write_idx(tmp_path / f"train-labels-idx1-ubyte{suffix}", labels, compress=bool(suffix))
    raw = read_path(tmp_path / f"train-images-idx3-ubyte{suffix}")
    assert raw.x.shape == (6, 1, 5, 4) and raw.x.dtype == torch.float32
    np.testing.assert_allclose(raw.x[:, 0].numpy(), images / 255.0, rtol=1e-6)
    assert raw.labels.tolist() == labels.tolist()


def test_idx_without_labels_and_other_types(tmp_path):
    write_idx(tmp_path / "codes.idx", np.arange(12, dtype=np.float32).reshape(3, 4) * 10)
    raw = read_path(tmp_path / "codes.idx")
    assert raw.labels is None and raw.kind == "vector"
    assert raw.x.max() == 110  # vectors are never rescaled
    write_idx(tmp_path / "t10k-images.idx3-ubyte", np.full((2, 3, 3), 255, dtype=np.int16))
    assert read_path(tmp_path / "t10k-images.idx3-ubyte").x.max() == 1


def test_idx_truncated(tmp_path, mnist_like):
    path = tmp_path / "train-images-idx3-ubyte"
    write_idx(path, mnist_like[0])
    path.write_bytes(path.read_bytes()[:-7])
    expect_error(DataError, [str(path), "truncated", "129 bytes", "exactly 136"], read_path, path)


def test_idx_bad_magic(tmp_path):
    path = tmp_path / "x.idx"
    path.write_bytes(b"\x00\x00\x07\x01\x00\x00\x00\x01\x05")
    expect_error(DataError, [str(path), "00000701", "magic"], read_path, path)


def test_idx_labels_that_do_not_fit(tmp_path, mnist_like):
    write_idx(tmp_path / "train-images-idx3-ubyte", mnist_like[0])
    write_idx(tmp_path / "train-labels-idx1-ubyte", mnist_like[1][:4])
    fragments = ["train-labels-idx1-ubyte", "(4,)", "6 integers"]
    expect_error(DataError, fragments, read_path, tmp_path / "train-images-idx3-ubyte")


@pytest.mark.parametrize("payload", [b"this is not gzip at all", gzip.compress(b"\x00" * 400, mtime=0)[:20]],
                         ids=["not-gzip", "truncated-gzip"])
def test_corrupt_gz(tmp_path, payload):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(payload)
    expect_error(DataError, [str(path), "decompress"], read_path, path)


# --- NumPy -----------------------------------------------------------------------------------


def test_npz_with_x_and_y(tmp_path):
    x = np.random.default_rng(0).normal(size=(10, 3)) * 50
    np.savez(tmp_path / "d.npz", x=x, y=np.arange(10))
    raw = read_path(tmp_path / "d.npz")
    np.testing.assert_allclose(raw.x.numpy(), x.astype(np.float32))  # used as given
    assert raw.labels.tolist() == list(range(10)) and raw.kind == "vector"


def test_npz_images_and_labels_keys(tmp_path):
    labels, images = np.zeros(4, dtype=np.int64), np.full((4, 6, 6, 3), 51, np.uint8)  # NHWC
    np.savez(tmp_path / "d.npz", labels=labels, images=images)
    raw = read_path(tmp_path / "d.npz")
    assert raw.x.shape == (4, 3, 6, 6) and torch.allclose(raw.x, torch.full_like(raw.x, 0.2))
    assert raw.labels.tolist() == [0, 0, 0, 0]


def test_npz_falls_back_to_first_array(tmp_path):
    np.savez(tmp_path / "d.npz", features=np.ones((5, 2)), other=np.zeros((3, 3)))
    assert read_path(tmp_path / "d.npz").x.shape == (5, 2)


def test_npy_layouts(tmp_path):
    np.save(tmp_path / "gray.npy", np.full((3, 4, 5), 255, np.uint8))
    np.save(tmp_path / "nchw.npy", np.full((3, 1, 4, 5), 0.5, np.float32))
    assert read_path(tmp_path / "gray.npy").x.shape == (3, 1, 4, 5)
    assert read_path(tmp_path / "gray.npy").x.max() == 1
    assert read_path(tmp_path / "nchw.npy").x.shape == (3, 1, 4, 5)


def test_integer_images_have_256_levels_float_images_and_vectors_none(tmp_path):
    np.save(tmp_path / "gray.npy", np.full((3, 4, 5), 7, np.uint8))
    np.save(tmp_path / "nchw.npy", np.full((3, 1, 4, 5), 0.5, np.float32))
    np.save(tmp_path / "vectors.npy", np.full((3, 4), 7, np.int64))
    (tmp_path / "pngs").mkdir()
    _png(tmp_path / "pngs" / "a.png", 3)
    levels = {name: read_path(tmp_path / name).levels for name in ("gray.npy", "nchw.npy", "vectors.npy", "pngs")}
    assert levels == {"gray.npy": 256, "nchw.npy": None, "vectors.npy": None, "pngs": 256}


def test_npz_with_object_array(tmp_path):
    path = tmp_path / "obj.npz"
    np.savez(path, x=np.array([{"a": 1}, None], dtype=object))
    expect_error(DataError, [str(path), "Python objects", "never unpickled"], read_path, path)


def test_compressed_and_fortran_order_arrays_read_as_numpy_does(tmp_path):
    x = np.arange(24, dtype=np.float64).reshape(6, 4)
    np.savez_compressed(tmp_path / "c.npz", x=x, y=np.arange(6))
    np.save(tmp_path / "f.npy", np.asfortranarray(x))
    np.save(tmp_path / "b.npy", x.astype(">f4"))
    for name in ("c.npz", "f.npy", "b.npy"):
        assert torch.equal(read_path(tmp_path / name).x, torch.from_numpy(x.astype(np.float32))), name
    assert read_path(tmp_path / "c.npz").labels.tolist() == list(range(6))


def test_an_array_header_is_checked_against_the_file_before_anything_is_allocated(tmp_path):
    path = tmp_path / "huge.npy"
    with open(path, "wb") as f:  # 160 TB declared, 64 bytes held
        np.lib.format.write_array_header_1_0(f, {"descr": "<f8", "fortran_order": False, "shape": (10**13, 2)})
        f.write(b"\0" * 64)
    expect_error(DataError, [str(path), "(10000000000000, 2)", "holds 64 bytes", "truncated or corrupt"],
                 read_path, path)


def test_values_that_overflow_float32_are_named_as_such(tmp_path):
    path = tmp_path / "big.npy"
    np.save(path, np.array([[1.0, 2.0], [3.0, 1e300]] * 5))
    expect_error(DataError, [str(path), "1e+300", "overflow float32"], read_path, path)


@pytest.mark.parametrize(
    "array, fragments",
    [
        (np.array([[1.0, np.nan], [np.inf, 2.0]]), ["2 NaN/inf"]),
        (np.arange(5.0), ["shape (5,)", "[N, D]"]),
        (np.zeros((2, 1, 3, 3, 1)), ["shape (2, 1, 3, 3, 1)"]),
        (np.zeros((2, 5, 5, 5)), ["1 or 3 channels"]),
        (np.zeros((0, 3)), ["no data", "(0, 3)"]),
        (np.array([["a", "b"]]), ["<U1", "not numeric"]),
        (np.full((2, 4, 4), 1.5, np.float32), ["[1.5, 1.5]", "expected [0, 1]"]),
        (np.full((2, 4, 4), 300, np.int32), ["[300, 300]", "0..255"]),
    ],
)
def test_bad_arrays(tmp_path, array, fragments):
    path = tmp_path / "bad.npy"
    np.save(path, array)
    expect_error(DataError, [str(path), *fragments], read_path, path)


@pytest.mark.parametrize("name", ["d.npz", "d.npy"])
def test_corrupt_numpy_files(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"PK\x03\x04 not really a zip")
    expect_error(DataError, [str(path), "cannot read"], read_path, path)


def test_npz_with_only_labels(tmp_path):
    np.savez(tmp_path / "d.npz", y=np.arange(3))
    expect_error(DataError, ["no data array", "['y']"], read_path, tmp_path / "d.npz")


# --- image folders ---------------------------------------------------------------------------


def _png(path, value, size=(4, 3), mode="L"):
    Image.new(mode, size, value).save(path)


def test_png_folder(tmp_path):
    for i, name in enumerate(["b.png", "a.png", "c.PNG"]):
        _png(tmp_path / name, 51 * i)
    raw = read_path(tmp_path)
    assert raw.x.shape == (3, 1, 3, 4) and raw.labels is None
    assert raw.x[:, 0, 0, 0].tolist() == pytest.approx([0.2, 0.0, 0.4])  # sorted: a, b, c


def test_16_bit_greyscale_pngs_keep_their_levels_and_one_channel(tmp_path):
    levels = (np.arange(12, dtype=np.uint16).reshape(3, 4) * 5000 + 7)  # needs 16 bits: up to 55,007
    Image.fromarray(levels).save(tmp_path / "a.png")
    Image.fromarray(65535 - levels).save(tmp_path / "b.png")
    raw = read_path(tmp_path)
    assert raw.x.shape == (2, 1, 3, 4)
    expected = np.stack([levels, 65535 - levels]).astype(np.float64) / 65535
    assert np.allclose(raw.x[:, 0].numpy(), expected, rtol=0, atol=1e-7)
    assert len(torch.unique(raw.x)) == 24  # 8 bits would leave at most 256 levels, clipped to 0 and 1 here


def test_rgb_and_jpeg_folder_with_class_subfolders(tmp_path):
    for colour in ["red", "blue"]:
        (tmp_path / colour).mkdir()
        Image.new("RGB", (8, 8), colour).save(tmp_path / colour / "0.jpg")
        Image.new("RGB", (8, 8), colour).save(tmp_path / colour / "1.png")
    raw = read_path(tmp_path)
    assert raw.x.shape == (4, 3, 8, 8) and 0 <= raw.x.min() and raw.x.max() <= 1
    assert raw.labels.tolist() == [0, 0, 1, 1]  # 'blue' sorts before 'red'
    assert raw.x[0, 2].mean() > 0.9 and raw.x[2, 0].mean() > 0.9


def test_mixed_size_pngs(tmp_path):
    _png(tmp_path / "a.png", 0, (4, 3))
    _png(tmp_path / "b.png", 0, (5, 3))
    expect_error(DataError, ["b.png", "5x3", "a.png", "4x3", "same size"], read_path, tmp_path)


def test_corrupt_png(tmp_path):
    _png(tmp_path / "a.png", 0)
    (tmp_path / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    expect_error(DataError, ["b.png", "cannot read image"], read_path, tmp_path)


def test_folder_without_images(tmp_path):
    (tmp_path / "notes.txt").write_text("hi")
    expect_error(DataError, [str(tmp_path), "no .png/.jpg/.jpeg images"], read_path, tmp_path)


# --- CSV -------------------------------------------------------------------------------------


@pytest.mark.parametrize("header", ["", "height, weight\n"])
def test_csv(tmp_path, header):
    path = tmp_path / "d.csv"
    path.write_text(header + "1.5,200\n\n-3,4e2\n")
    raw = read_path(path)
    assert raw.x.tolist() == [[1.5, 200.0], [-3.0, 400.0]] and raw.kind == "vector"


@pytest.mark.parametrize(
    "text, fragments",
    [
        ("1,2\n3,abc\n", ["line 2", "'abc'", "not a number"]),
        ("a,1\n2,3\n", ["line 1", "'a'"]),
        ("1,2\n3\n", ["line 2", "1 values", "expected 2"]),
        ("x,y\n", ["no data lines"]),
        ("1,2\nnan,3\n", ["1 NaN/inf"]),
    ],
)
def test_bad_csv(tmp_path, text, fragments):
    path = tmp_path / "d.csv"
    path.write_text(text)
    expect_error(DataError, [str(path), *fragments], read_path, path)


def test_csv_not_text(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes(b"\xff\xfe\x00\x81")
    expect_error(DataError, [str(path), "UTF-8"], read_path, path)


# --- paths -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["d.csv", "d.npz", "train-images-idx3-ubyte"])
def test_empty_files(tmp_path, name):
    (tmp_path / name).write_bytes(b"")
    expect_error(DataError, [name, "empty"], read_path, tmp_path / name)


def test_unsupported_and_missing_paths(tmp_path):
    (tmp_path / "d.txt").write_text("1,2")
    expect_error(DataError, ["d.txt", "unsupported", ".npz"], read_path, tmp_path / "d.txt")
    (tmp_path / "d.csv.gz").write_bytes(gzip.compress(b"1,2"))
    expect_error(DataError, ["d.csv.gz", "unsupported"], read_path, tmp_path / "d.csv.gz")
    expect_error(DataError, ["nope.npz", "no such"], read_path, tmp_path / "nope.npz")
