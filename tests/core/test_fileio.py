"""Files gausslab writes get the mode a plain `open` would give them: 0644 under umask 022, not mkstemp's 0600."""

import os
import stat
import subprocess
import sys

import pytest

from gausslab.core.fileio import atomic_write_bytes


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o002])
def test_atomic_writes_respect_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        atomic_write_bytes(tmp_path / "a.bin", b"x")
        with open(tmp_path / "plain.bin", "wb") as f:  # the reference: what the OS gives a new file
            f.write(b"x")
    finally:
        os.umask(old)
    assert mode(tmp_path / "a.bin") == mode(tmp_path / "plain.bin") == 0o666 & ~umask


@pytest.mark.slow
def test_every_file_of_a_run_folder_is_shareable(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "gausslab", "train", "gmm", "--data", "ring8", "--set", "data.n=200",
           "--set", "train.steps=2", "--set", "train.log_every=1", "--set", "train.tensorboard=true", "--out", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, umask=0o022)
    assert done.returncode == 0, done.stderr
    files = [p for p in out.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"config.json", "model.safetensors", "state.json", "samples.png", "log.jsonl"}
    assert any(p.parent.name == "tensorboard" for p in files)
    assert {str(p.relative_to(out)): oct(mode(p)) for p in files} == {str(p.relative_to(out)): "0o644" for p in files}
