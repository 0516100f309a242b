import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import gausslab as gl
from gausslab import cli
from gausslab.cli import app
from gausslab.models import VAE
from tests.resume import log_lines
from tests.state import assert_same_state

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_datasets_lists_builtins():
    result = invoke("datasets")
    assert result.exit_code == 0
    for name in ("ring8", "grid25", "digits", "mnist5k", "shapes"):
        assert name in result.output


def test_train_sample_evaluate(tmp_path):
    out = tmp_path / "run"
    result = invoke("train", "vae", "--data", "digits", "--set", "train.steps=4", "--set", "model.latent_dim=2",
                    "--out", out)
    assert result.exit_code == 0, result.output
    assert (out / "samples.png").exists()
    config = json.loads((out / "config.json").read_text())
    assert config["config"]["model"]["latent_dim"] == 2 and config["config"]["train"]["steps"] == 4
    assert config["config"]["model"]["levels"] == 17  # resolved from the data, so the run reloads alone
    result = invoke("sample", out, "--n", 5, "--out", tmp_path / "s.npy")
    assert result.exit_code == 0, result.output
    assert np.load(tmp_path / "s.npy").shape == (5, 1, 8, 8)
    result = invoke("evaluate", out, "--k", 10, "--metrics", "elbo,nll_iwae")
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    # A density of dequantized pixels in [0, 1)^64 may exceed 1 (negative nats); bits/dim of the digits may not.
    assert metrics["model"] == "vae" and 0 < metrics["bits_per_dim"] < 8 and "nll_iwae" in metrics


def test_yaml_config_and_resume(tmp_path, monkeypatch):
    cfg = tmp_path / "run.yaml"
    cfg.write_text("data: {name: ring8, n: 400}\nmodel: {latent_dim: 2}\ntrain: {steps: 3, batch_size: 64}\n")
    out = tmp_path / "run"
    assert invoke("train", "vae", "--config", cfg, "--out", out).exit_code == 0
    kept = log_lines(out)
    seen = []
    original = VAE.training_losses

    def counted(self, x, step):
        seen.append(step)
        return original(self, x, step)

    monkeypatch.setattr(VAE, "training_losses", counted)
    result = invoke("train", "vae", "--config", cfg, "--set", "train.steps=6", "--out", out, "--resume")
    assert result.exit_code == 0, result.output
    assert json.loads((out / "state.json").read_text())["step"] == 6
    assert seen == [3, 4, 5], "the resumed command must run only the steps after the checkpoint"
    assert log_lines(out)[: len(kept)] == kept
    monkeypatch.undo()
    straight = tmp_path / "straight"
    assert invoke("train", "vae", "--config", cfg, "--set", "train.steps=6", "--out", straight).exit_code == 0
    assert_same_state(gl.load(out), gl.load(straight))


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
    assert ok.stderr.startswith("train step 3/3 (100%)  loss ")  # stderr is a pipe: a line per log step
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


def gausslab(*args, env=None):
    """The real command in a subprocess (what a shell runs)."""
    return subprocess.run([sys.executable, "-m", "gausslab", *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, **(env or {})})


def test_version():
    from gausslab import __version__

    result = invoke("--version")
    assert result.exit_code == 0 and result.output == f"gausslab {__version__}\n"


def test_shell_completion_script_and_answers():
    script = gausslab("--show-completion", "bash")
    assert script.returncode == 0 and "_GAUSSLAB_COMPLETE=complete_bash" in script.stdout
    assert "complete -o default -F _gausslab_completion gausslab" in script.stdout
    # What bash asks for when the user presses TAB after `gausslab tr` and `gausslab config g`.
    commands = gausslab(env={"_GAUSSLAB_COMPLETE": "complete_bash", "COMP_WORDS": "gausslab tr", "COMP_CWORD": "1"})
    assert commands.stdout.split() == ["train"]
    kinds = gausslab(env={"_GAUSSLAB_COMPLETE": "complete_bash", "COMP_WORDS": "gausslab config g", "COMP_CWORD": "2"})
    from gausslab.models import MODELS

    assert kinds.stdout.split() == [k for k in MODELS if k.startswith("g")]


def test_train_help_names_models_data_sets_and_the_config_command():
    from gausslab.data import DATASETS
    from gausslab.models import MODELS

    result = invoke("train", "--help")
    text = " ".join(result.output.split())  # rich wraps lines
    assert result.exit_code == 0
    assert f"Model kinds: {', '.join(MODELS)}." in text
    assert f"Data sets: {', '.join(DATASETS)}, or a path" in text
    assert "gausslab config MODEL" in text


def test_the_help_does_not_load_torch_or_the_library():
    probe = "import sys, gausslab.cli; print(sorted(m for m in ('torch', 'matplotlib', 'sklearn') if m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout == "[]\n"
    result = gausslab("--help")
    assert result.returncode == 0 and "config" in result.stdout


def test_the_package_loads_its_names_on_first_use():
    probe = ("import sys, gausslab as gl; assert 'torch' not in sys.modules; "
             "from gausslab.evaluation.evaluate import METRICS; "  # the submodule must not hide the function of the same name
             "assert callable(gl.evaluate) and gl.evaluate.__module__ == 'gausslab.evaluation.evaluate'; "
             "assert gl.fit.__module__ == 'gausslab.training.loop' and set(gl.__all__) <= set(dir(gl))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("kind", ["vae", "gan", "gmm"])
def test_config_prints_the_default_run_config_as_yaml(kind):
    import yaml

    from gausslab.models import MODEL_CONFIGS
    from gausslab.training.run_config import resolve

    assert kind in MODEL_CONFIGS
    result = invoke("config", kind)
    assert result.exit_code == 0
    assert resolve(yaml.safe_load(result.output)) == resolve({}, model={"kind": kind})
    assert "device: auto  # auto (CUDA when available, else CPU)" in result.output  # descriptions as comments


@pytest.mark.slow
def test_config_round_trips_through_train_config(tmp_path):
    (tmp_path / "f.yaml").write_text(invoke("config", "vae").output)
    steps = ["--set", "train.steps=1", "--set", "train.log_every=1", "--quiet"]
    assert invoke("train", "vae", "--config", tmp_path / "f.yaml", *steps, "--out", tmp_path / "a").exit_code == 0
    assert invoke("train", "vae", *steps, "--out", tmp_path / "b").exit_code == 0
    a, b = (json.loads((tmp_path / run / "config.json").read_text())["config"] for run in "ab")
    assert a == b


def test_config_applies_data_and_set():
    import yaml

    result = invoke("config", "gan", "--data", "ring8", "--set", "model.pack=4")
    raw = yaml.safe_load(result.output)
    assert raw["data"]["name"] == "ring8" and raw["model"]["pack"] == 4 and raw["model"]["kind"] == "gan"
