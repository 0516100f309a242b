"""The bad-input corpus, run through the real CLI entry point (`gausslab.cli.main`, what the console script calls).

Every case must exit with code 2, print exactly one line on stderr that names the offending value,
print no traceback, and leave no partial files behind.
"""

from __future__ import annotations

import gzip
import json
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gausslab.cli import main


def write_files(d: Path) -> None:
    """Broken inputs of every kind, on disk."""
    (d / "empty.npz").write_bytes(b"")
    (d / "empty.csv").write_text("")
    (d / "truncated-idx3-ubyte").write_bytes(struct.pack(">BBBBIII", 0, 0, 8, 3, 10, 28, 28) + b"\x00" * 100)
    (d / "corrupt-idx3-ubyte.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    np.savez(d / "objects.npz", x=np.array([{"a": 1}, None], dtype=object))
    np.save(d / "rank1.npy", np.arange(10.0))
    np.save(d / "rank5.npy", np.zeros((2, 2, 2, 2, 2)))
    np.save(d / "nan.npy", np.array([[1.0, np.nan], [2.0, 3.0]] * 5))
    np.save(d / "inf.npy", np.array([[1.0, np.inf], [2.0, 3.0]] * 5))
    np.save(d / "strings.npy", np.array([["a", "b"]] * 10))
    (d / "mixed").mkdir()
    Image.new("L", (8, 8)).save(d / "mixed" / "a.png")
    Image.new("L", (9, 8)).save(d / "mixed" / "b.png")
    (d / "noimages").mkdir()
    (d / "noimages" / "readme.txt").write_text("hi")
    (d / "badpng").mkdir()
    Image.new("L", (8, 8)).save(d / "badpng" / "a.png")
    (d / "badpng" / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n-not-really")
    (d / "text.csv").write_text("1,2\n3,hello\n")
    (d / "ragged.csv").write_text("1,2\n3\n")
    (d / "data.txt").write_text("1 2 3")
    (d / "bad.yaml").write_text("train: {epochs: [unclosed\n")
    (d / "list.yaml").write_text("- 1\n- 2\n")
    (d / "gan.yaml").write_text("model: {kind: gan}\n")
    (d / "a_file").write_text("x")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    write_files(d)
    run = d / "run"
    assert _call(["train", "vae", "--data", "digits", "--set", "train.steps=2", "--set", "model.latent_dim=2",
                  "--out", str(run), "--quiet"])[0] == 0
    for name, edit in {"tampered": _tamper, "nomodel": _drop_model, "badconfig": _corrupt_config,
                       "otherconfig": _change_latent}.items():
        target = d / name
        target.mkdir()
        for f in run.iterdir():
            (target / f.name).write_bytes(f.read_bytes())
        edit(target)
    return d


def _tamper(run: Path) -> None:
    data = bytearray((run / "model.safetensors").read_bytes())
    data[-3] ^= 0x55
    (run / "model.safetensors").write_bytes(bytes(data))


def _drop_model(run: Path) -> None:
    (run / "model.safetensors").unlink()


def _corrupt_config(run: Path) -> None:
    (run / "config.json").write_text("{")


def _change_latent(run: Path) -> None:
    raw = json.loads((run / "config.json").read_text())
    raw["config"]["model"]["latent_dim"] = 7
    (run / "config.json").write_text(json.dumps(raw))


def _call(argv: list[str]) -> tuple[int, str]:
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            main(argv)
            code = 0
        except SystemExit as exit_:
            code = exit_.code
    return code, err.getvalue()


T = ["train", "vae", "--out", "{d}/out", "--quiet"]
CASES = {
    # data sources
    "missing file": ([*T, "--data", "{d}/missing.npz"], "missing.npz"),
    "missing folder": ([*T, "--data", "{d}/nowhere/"], "nowhere"),
    "empty npz": ([*T, "--data", "{d}/empty.npz"], "empty.npz"),
    "empty csv": ([*T, "--data", "{d}/empty.csv"], "empty.csv"),
    "truncated idx": ([*T, "--data", "{d}/truncated-idx3-ubyte"], "truncated-idx3-ubyte"),
    "corrupt gz": ([*T, "--data", "{d}/corrupt-idx3-ubyte.gz"], "corrupt-idx3-ubyte.gz"),
    "object npz": ([*T, "--data", "{d}/objects.npz"], "objects.npz"),
    "rank-1 array": ([*T, "--data", "{d}/rank1.npy"], "rank1.npy"),
    "rank-5 array": ([*T, "--data", "{d}/rank5.npy"], "rank5.npy"),
    "nan values": ([*T, "--data", "{d}/nan.npy"], "nan.npy"),
    "inf values": ([*T, "--data", "{d}/inf.npy"], "inf.npy"),
    "string dtype": ([*T, "--data", "{d}/strings.npy"], "strings.npy"),
    "mixed image sizes": ([*T, "--data", "{d}/mixed"], "b.png"),
    "folder without images": ([*T, "--data", "{d}/noimages"], "noimages"),
    "corrupt png": ([*T, "--data", "{d}/badpng"], "b.png"),
    "csv with text": ([*T, "--data", "{d}/text.csv"], "hello"),
    "ragged csv": ([*T, "--data", "{d}/ragged.csv"], "ragged.csv"),
    "unknown suffix": ([*T, "--data", "{d}/data.txt"], "data.txt"),
    "unknown dataset": ([*T, "--data", "digitz"], "did you mean 'digits'"),
    # names and values
    "unknown model": (["train", "vea", "--out", "{d}/out"], "did you mean 'vae'"),
    "unknown prior": ([*T, "--set", "model.prior=vampp"], "did you mean 'vamp'"),
    "unknown gan loss": (["train", "gan", "--out", "{d}/out", "--set", "model.loss=wgan"], "did you mean 'wgan-gp'"),
    "unknown covariance": (["train", "gmm", "--out", "{d}/out", "--set", "model.covariance=ful"], "ful"),
    "zero latent": ([*T, "--set", "model.latent_dim=0"], "model.latent_dim"),
    "text latent": ([*T, "--set", "model.latent_dim=abc"], "abc"),
    "negative lr": ([*T, "--set", "train.lr=-1"], "train.lr"),
    "infinite lr": ([*T, "--set", "train.lr=.inf"], "train.lr"),
    "zero batch": ([*T, "--set", "train.batch_size=0"], "train.batch_size"),
    "test fraction": ([*T, "--set", "data.test_fraction=1.5"], "data.test_fraction"),
    "unknown policy": ([*T, "--set", "train.nan_policy=maybe"], "maybe"),
    "fp16 on cpu": ([*T, "--set", "train.amp=fp16", "--set", "train.device=cpu"], "train.amp=bf16"),
    "unknown device": ([*T, "--set", "train.device=tpu"], "'tpu'"),
    "absent gpu": ([*T, "--set", "train.device=cuda:99"], "'cuda:99' is not available"),
    "unknown key": ([*T, "--set", "train.epoch=3"], "did you mean 'epochs'"),
    "unknown section": ([*T, "--set", "optim.lr=1"], "optim"),
    "malformed set": ([*T, "--set", "trainepochs"], "trainepochs"),
    "yaml syntax": ([*T, "--config", "{d}/bad.yaml"], "bad.yaml"),
    "yaml not mapping": ([*T, "--config", "{d}/list.yaml"], "list.yaml"),
    "missing config": ([*T, "--config", "{d}/none.yaml"], "none.yaml"),
    "config kind mismatch": ([*T, "--config", "{d}/gan.yaml"], "gan"),
    "unwritable out": (["train", "vae", "--data", "ring8", "--set", "train.steps=1", "--out", "{d}/a_file/run",
                        "--quiet"], "a_file"),
    "existing run": (["train", "vae", "--data", "digits", "--out", "{d}/run", "--quiet"], "--resume"),
    "resume other config": (["train", "vae", "--data", "digits", "--set", "train.lr=0.5", "--set",
                             "model.latent_dim=2", "--out", "{d}/run", "--resume", "--quiet"], "train.lr"),
    # run folders
    "sample missing run": (["sample", "{d}/nope", "--out", "{d}/s.png"], "nope"),
    "sample missing weights": (["sample", "{d}/nomodel", "--out", "{d}/s.png"], "model.safetensors"),
    "sample tampered": (["sample", "{d}/tampered", "--out", "{d}/s.png"], "checksum"),
    "sample corrupt config": (["sample", "{d}/badconfig", "--out", "{d}/s.png"], "config.json"),
    "sample incompatible": (["sample", "{d}/otherconfig", "--out", "{d}/s.png"], "does not fit"),
    "sample n zero": (["sample", "{d}/run", "--n", "0", "--out", "{d}/s.png"], "--n"),
    "sample n negative": (["sample", "{d}/run", "--n", "-5", "--out", "{d}/s.png"], "-5"),
    "sample bad suffix": (["sample", "{d}/run", "--out", "{d}/s.jpg"], "s.jpg"),
    "sample unwritable": (["sample", "{d}/run", "--out", "{d}/a_file/s.png"], "a_file"),
    "evaluate k zero": (["evaluate", "{d}/run", "--k", "0"], "--k"),
    "evaluate wrong shape": (["evaluate", "{d}/run", "--data", "ring8"], "ring8"),
    "evaluate unknown metric": (["evaluate", "{d}/run", "--metrics", "fidd"], "fidd"),
    "evaluate missing run": (["evaluate", "{d}/nope"], "nope"),
    "unknown option": (["train", "vae", "--out", "{d}/out", "--bogus"], "--bogus"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input(env, case):
    argv, needle = CASES[case]
    before = sorted(p.name for p in env.rglob("*"))
    code, err = _call([a.format(d=env) for a in argv])
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert needle in lines[0], lines[0]
    after = sorted(p.name for p in env.rglob("*"))
    assert after == before, f"left files behind: {set(after) - set(before)}"


def test_corpus_size():
    assert len(CASES) >= 40
