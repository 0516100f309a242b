"""The files, run-folder edits and faults the bad-input corpus (test_bad_inputs.py) runs against."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def write_files(d: Path) -> None:
    """Broken inputs of every kind, on disk."""
    (d / "empty.npz").write_bytes(b"")
    (d / "empty.csv").write_text("")
    (d / "truncated-idx3-ubyte").write_bytes(struct.pack(">BBBBIII", 0, 0, 8, 3, 10, 28, 28) + b"\x00" * 100)
    (d / "huge-idx3-ubyte").write_bytes(struct.pack(">BBBBIII", 0, 0, 8, 3, 10**9, 10**9, 10**9) + b"\x00" * 100)
    (d / "corrupt-idx3-ubyte.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    np.savez(d / "objects.npz", x=np.array([{"a": 1}, None], dtype=object))
    np.save(d / "rank1.npy", np.arange(10.0))
    np.save(d / "rank5.npy", np.zeros((2, 2, 2, 2, 2)))
    np.save(d / "nan.npy", np.array([[1.0, np.nan], [2.0, 3.0]] * 5))
    np.save(d / "inf.npy", np.array([[1.0, np.inf], [2.0, 3.0]] * 5))
    np.save(d / "strings.npy", np.array([["a", "b"]] * 10))
    np.save(d / "overflow.npy", np.full((40, 2), 1e300))
    (d / "hugeshape.npy").write_bytes(_npy_header("<f8", (10**12, 2)) + b"\x00" * 64)
    (d / "shortshape.npy").write_bytes(_npy_header("<f8", (100, 2)) + b"\x00" * 160)
    _zip_member(d / "hugeshape.npz", "x.npy", _npy_header("<f4", (10**11, 10**3)) + b"\x00" * 64)
    (d / "mixed").mkdir()
    Image.new("L", (8, 8)).save(d / "mixed" / "a.png")
    Image.new("L", (9, 8)).save(d / "mixed" / "b.png")
    (d / "noimages").mkdir()
    (d / "noimages" / "readme.txt").write_text("hi")
    (d / "badpng").mkdir()
    Image.new("L", (8, 8)).save(d / "badpng" / "a.png")
    (d / "badpng" / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n-not-really")
    (d / "bomb").mkdir()
    (d / "bomb" / "huge.png").write_bytes(_png_header(30_000, 30_000))
    (d / "text.csv").write_text("1,2\n3,hello\n")
    (d / "ragged.csv").write_text("1,2\n3\n")
    (d / "overflow.csv").write_text("".join(f"{i},1e39\n" for i in range(40)))
    rng = np.random.default_rng(0)
    np.savetxt(d / "constant.csv", np.c_[rng.normal(size=200), np.ones(200)], delimiter=",")
    np.savetxt(d / "huge.csv", rng.normal(size=(200, 2)) * 1e30, delimiter=",")
    (d / "data.txt").write_text("1 2 3")
    (d / "bad.yaml").write_text("train: {epochs: [unclosed\n")
    (d / "tabs.yaml").write_text("train:\n\tepochs: 3\n")
    (d / "list.yaml").write_text("- 1\n- 2\n")
    (d / "gan.yaml").write_text("model: {kind: gan}\n")
    (d / "flow.yaml").write_text("model: {kind: flowz}\n")
    (d / "section-list.yaml").write_text("model: [1, 2]\n")
    (d / "section-int.yaml").write_text("train: 5\n")
    (d / "section-str.yaml").write_text("data: digits\n")
    (d / "dup-section.yaml").write_text("model: {latent_dim: 3}\ntrain: {steps: 2}\nmodel: {beta: 2.0}\n")
    (d / "dup-key.yaml").write_text("train:\n  steps: 2\n  steps: 3\n")
    (d / "bomb.yaml").write_text(_alias_bomb("train", "epochs"))
    (d / "bomb-hidden.yaml").write_text(_alias_bomb("model", "hidden"))
    (d / "bomb-name.yaml").write_text(_alias_bomb("data", "name"))
    (d / "deep.yaml").write_text("train: {epochs: " + "[" * 50_000 + "]" * 50_000 + "}\n")
    (d / "large.yaml").write_text("# padding\n" * 300_000)
    (d / "binary.yaml").write_bytes(b"\xff\xfe\x00model: \x80\x81")
    (d / "yamldir.yaml").mkdir()
    (d / "a_file").write_text("x")
    (d / "spare").mkdir()  # an empty folder
    (d / "user").mkdir()
    (d / "user" / "log.jsonl").write_text("my own notes\n")
    (d / "userconfig").mkdir()
    (d / "userconfig" / "config.json").write_text('{"mine": true}\n')
    (d / "notes.json").write_text('{"mine": true}\n')


def _npy_header(descr: str, shape: tuple[int, ...]) -> bytes:
    """A .npy version 1.0 header declaring `shape` (the data that follows is up to the caller)."""
    text = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode()
    text += b" " * (-(len(text) + 11) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text


def _zip_member(path: Path, name: str, data: bytes) -> None:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(name, data)


def _png_header(width: int, height: int) -> bytes:
    """A PNG that declares a huge 8-bit greyscale image (a decompression bomb) and holds no pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def _alias_bomb(section: str, key: str) -> str:
    """'Billion laughs' as a setting: each anchor lists the previous one 9 times (9**9 items when expanded)."""
    return f"{section}:\n  {key}: {flow_bomb()}\n"


def flow_bomb(depth: int = 9) -> str:
    """A YAML alias bomb in flow style (fits in one `--set` value)."""
    value = "&a0 [1, 1, 1, 1, 1, 1, 1, 1, 1]"
    for i in range(1, depth):
        value = f"&a{i} [{value}, " + ", ".join([f"*a{i - 1}"] * 8) + "]"
    return f"[{value}, *a{depth - 1}]"


def _edit_json(name: str, change):
    def edit(run: Path) -> None:
        raw = json.loads((run / name).read_text())
        change(raw)
        (run / name).write_text(json.dumps(raw))

    return edit


def _tamper(run: Path) -> None:
    data = bytearray((run / "model.safetensors").read_bytes())
    data[-3] ^= 0x55
    (run / "model.safetensors").write_bytes(bytes(data))


def _torn_middle(run: Path) -> None:
    lines = (run / "log.jsonl").read_text().splitlines()
    (run / "log.jsonl").write_text("\n".join([lines[0][:7], *lines]) + "\n")


EDITS = {
    "tampered": _tamper,
    "nomodel": lambda run: (run / "model.safetensors").unlink(),
    "badconfig": lambda run: (run / "config.json").write_text("{"),
    "otherconfig": _edit_json("config.json", lambda raw: raw["config"]["model"].update(latent_dim=7)),
    "shape-text": _edit_json("config.json", lambda raw: raw.update(data_shape=["a", 8, 8])),
    "shape-negative": _edit_json("config.json", lambda raw: raw.update(data_shape=[1, -8, 8])),
    "shape-int": _edit_json("config.json", lambda raw: raw.update(data_shape=64)),
    "shape-huge": _edit_json("config.json", lambda raw: raw.update(data_shape=[1, 10**6, 10**6])),
    "kind-number": _edit_json("config.json", lambda raw: raw.update(data_kind=7)),
    "hidden-text": _edit_json("config.json", lambda raw: raw["config"]["model"].update(hidden="wide")),
    "no-config-key": _edit_json("config.json", lambda raw: raw.pop("config")),
    "config-list": lambda run: (run / "config.json").write_text("[1, 2]"),
    "step-text": _edit_json("state.json", lambda raw: raw.update(step="abc")),
    "step-negative": _edit_json("state.json", lambda raw: raw.update(step=-3)),
    "step-fraction": _edit_json("state.json", lambda raw: raw.update(step=1.5)),
    "step-beyond": _edit_json("state.json", lambda raw: raw.update(step=10**6)),
    "optimizers-list": _edit_json("state.json", lambda raw: raw.update(optimizers=[])),
    "lr-text": _edit_json("state.json", lambda raw: raw["optimizers"]["model"]["param_groups"][0].update(lr="fast")),
    "sha-text": _edit_json("state.json", lambda raw: raw.update(sha256="zzz")),
    "skipped-text": _edit_json("state.json", lambda raw: raw.update(skipped="many")),
    "state-torn": lambda run: (run / "state.json").write_text('{"step": 2, "sha'),
    "log-torn-middle": _torn_middle,
}


# Faults a case may need: each takes (monkeypatch, env) and arranges the condition before the call.
def _full_disk(monkeypatch, env):
    def fsync(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", fsync)


def _no_cuda(monkeypatch, env):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def _holding(folder: str):
    """A fault that holds the lock of env/folder, as another gausslab process would."""

    def hold(monkeypatch, env):
        path = env / folder / ".gausslab.lock"
        lock = path.open("a+")
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        lock.write(f"{os.getpid()}\n")
        lock.flush()

        def release():
            path.unlink()
            lock.close()

        return release

    return hold


FAULTS = {"full disk": _full_disk, "no cuda": _no_cuda, "locked": _holding("run"),
          "locked study": _holding("spare")}
PID = "<pid>"  # in an expected substring: this process's id (the holder of the `locked` fault's lock)
