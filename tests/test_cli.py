import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import gausslab as gl
from gausslab import cli
from gausslab.cli import app

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_datasets_lists_builtins():
    result = invoke("datasets")
    assert result.exit_code == 0
    for name in ("ring8", "grid25", "digits", "shapes"):
        assert name in result.output


def test_train_sample_evaluate(tmp_path):
    out = tmp_path / "run"
    result = invoke("train", "vae", "--data", "digits", "--set", "train.steps=4", "--set", "model.latent_dim=2",
                    "--out", out)
    assert result.exit_code == 0, result.output
    assert (out / "samples.png").exists()
    config = json.loads((out / "config.json").read_text())
    assert config["config"]["model"]["latent_dim"] == 2 and config["config"]["train"]["steps"] == 4
    result = invoke("sample", out, "--n", 5, "--out", tmp_path / "s.npy")
    assert result.exit_code == 0, result.output
    assert np.load(tmp_path / "s.npy").shape == (5, 1, 8, 8)
    result = invoke("evaluate", out, "--k", 10, "--metrics", "elbo,nll_iwae")
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["model"] == "vae" and metrics["nll_iwae"] > 0 and "bits_per_dim" in metrics


def test_yaml_config_and_resume(tmp_path):
    cfg = tmp_path / "run.yaml"
    cfg.write_text("data: {name: ring8, n: 400}\nmodel: {latent_dim: 2}\ntrain: {steps: 3, batch_size: 64}\n")
    out = tmp_path / "run"
    assert invoke("train", "vae", "--config", cfg, "--out", out).exit_code == 0
    result = invoke("train", "vae", "--config", cfg, "--set", "train.steps=6", "--out", out, "--resume")
    assert result.exit_code == 0, result.output
    assert json.loads((out / "state.json").read_text())["step"] == 6


def test_a_large_npy_is_drawn_and_written_in_chunks(tmp_path, monkeypatch):
    run = tmp_path / "run"
    assert invoke("train", "gmm", "--data", "ring8", "--set", "data.n=200", "--set", "model.components=3",
                  "--set", "train.steps=3", "--out", run).exit_code == 0
    monkeypatch.setattr(cli, "NPY_CHUNK_BYTES", 10 * 2 * 4)  # 10 samples of 2 float32 per chunk
    result = invoke("sample", run, "--n", 25, "--seed", 3, "--out", tmp_path / "s.npy")
    assert result.exit_code == 0, result.output
    model, g = gl.load(run), torch.Generator().manual_seed(3)
    expected = torch.cat([model.sample(k, generator=g) for k in (10, 10, 5)])  # the same generator, chunk by chunk
    assert np.array_equal(np.load(tmp_path / "s.npy"), expected.numpy())


@pytest.mark.parametrize(
    "args, needle",
    [
        (["train", "vae", "--data", "digitz", "--out", "{tmp}/r"], "did you mean 'digits'"),
        (["train", "vea", "--data", "digits", "--out", "{tmp}/r"], "did you mean 'vae'"),
        (["train", "vae", "--set", "model.prior=vampp", "--out", "{tmp}/r"], "vampp"),
        (["sample", "{tmp}/nowhere", "--out", "{tmp}/s.png"], "does not exist"),
        (["evaluate", "{tmp}/nowhere"], "does not exist"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, needle):
    result = invoke(*[a.format(tmp=tmp_path) for a in args])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in result.output


@pytest.mark.slow
def test_real_subprocess(tmp_path):
    out = tmp_path / "run"
    ok = subprocess.run([sys.executable, "-m", "gausslab", "train", "vae", "--data", "ring8", "--set", "train.steps=3",
                         "--out", str(out)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "run folder" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "gausslab", "train", "vae", "--data", "nope.npz", "--out",
                          str(tmp_path / "x")], capture_output=True, text=True)
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1 and "nope.npz" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "x").exists()


def test_a_reader_that_quits_early_stops_the_cli_quietly():
    # `gausslab datasets | head -0`: the pipe is closed before anything is written.
    proc = subprocess.Popen([sys.executable, "-m", "gausslab", "datasets"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141 and stderr == ""
