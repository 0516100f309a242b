"""Every script in examples/ runs as documented, with a tiny budget (`--steps 3`)."""

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.py"))


def test_there_are_the_three_examples():
    assert [p.name for p in EXAMPLES] == ["evaluate_tensors.py", "gan_toy.py", "own_npz_vae.py"]


@pytest.mark.slow
@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.stem)
def test_example_runs(script, tmp_path):
    done = subprocess.run([sys.executable, str(script), "--steps", "3", "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() and "Traceback" not in done.stderr
    assert "Usage" not in done.stdout
