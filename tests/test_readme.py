"""The README's quickstarts must actually work."""

import re
from pathlib import Path

import pytest
import torch

README = Path(__file__).resolve().parents[1] / "README.md"


def blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README.read_text(), flags=re.S)


@pytest.mark.slow
def test_python_quickstart_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (code,) = blocks("python")
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - our own README, the point of the test
    assert tuple(namespace["x"].shape) == (16, 1, 8, 8)
    assert namespace["terms"].elbo.shape == (8,) and namespace["x64"].dtype == torch.float64
    assert (tmp_path / "runs" / "vae-py" / "model.safetensors").exists()
    assert "nll_iwae" in namespace["m"].to_dict()


def test_readme_lists_every_builtin_dataset():
    from gausslab.data import DATASETS

    text = README.read_text()
    for name in DATASETS:
        assert f"`{name}`" in text


def table_keys(heading: str) -> list[str]:
    """The backticked names in the first column of the table under `heading`."""
    section = README.read_text().split(f"{heading}\n", 1)[1].split("\n#", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return [key for row in rows for key in re.findall(r"`([^`]+)`", row.split(" | ")[0])]


def test_the_venv_is_explained_before_the_commands():
    text = README.read_text()
    setup, commands = text.split("## Command line", 1)
    assert "source .venv/bin/activate" in setup and ".venv/bin/gausslab" in setup
    makefile = (README.parent / "Makefile").read_text()
    assert re.search(r"^VENV := \.venv$", makefile, flags=re.M)  # where `make` installs
    assert 'gausslab = "gausslab.cli:main"' in (README.parent / "pyproject.toml").read_text()


def test_readme_commands_name_real_commands_and_options():
    import shlex

    import typer

    from gausslab.cli import app

    group = typer.main.get_command(app)
    lines = [line.split("  #")[0] for block in blocks("bash") for line in block.splitlines()]
    calls = [shlex.split(line)[1:] for line in lines if line.startswith("gausslab ")]
    assert len(calls) >= 10
    for args in calls:
        command = group.commands.get(args[0]) if not args[0].startswith("-") else group
        assert command is not None, f"no command {args[0]!r}"
        known = {opt for param in command.params for opt in param.opts} | {"--help"}
        assert {a for a in args if a.startswith("--")} <= known, args


def test_log_schema_documents_every_key_a_run_logs(tmp_path):
    import json
    from fnmatch import fnmatch

    import gausslab as gl
    from tests.conftest import tiny_vectors

    documented = table_keys("### log.jsonl")
    data = tiny_vectors()
    train = gl.TrainConfig(steps=4, epochs=100, batch_size=32, log_every=2, nan_policy="skip")
    models = {"vae": {"latent_dim": 2, "hidden": (8,)}, "gan": {"loss": "wgan-gp", "hidden": (8,), "d_hidden": (8,)},
              "gmm": {"components": 2}}
    logged = set()
    for kind, options in models.items():
        gl.fit(gl.build_model(kind, data, **options), data, train, out=tmp_path / kind, progress=False)
        logged |= {k for line in (tmp_path / kind / "log.jsonl").read_text().splitlines() for k in json.loads(line)}
    assert {"lr", "lr_generator", "gradient_penalty", "log_likelihood", "test_elbo", "time"} <= logged
    undocumented = {k for k in logged if not any(fnmatch(k, pattern) for pattern in documented)}
    assert undocumented == set()
    assert {"valid_*", "skipped_batches"} <= set(documented)


@pytest.mark.slow
def test_metric_catalogue_matches_what_evaluate_writes(monkeypatch):
    import gausslab as gl
    import gausslab.evaluation.features as features
    from gausslab.evaluation.evaluate import METRICS
    from tests.conftest import tiny_images

    monkeypatch.setitem(features.RECIPE, "steps", 10)  # a barely trained feature network is enough here
    images = tiny_images(n=160)
    images.test_factors = torch.randint(0, 3, (len(images.test), 2), generator=torch.Generator().manual_seed(0))
    ring = gl.load_dataset("ring8", n=400)
    cases = [(gl.build_model("vae", images, latent_dim=3), images), (gl.build_model("gan", ring), ring),
             (gl.build_model("gmm", ring, components=8), ring)]
    produced, used = set(), set()
    for model, data in cases:
        for name in METRICS:
            keys = set(gl.evaluate(model, data, metrics=[name], k=5, n=100).values)
            produced |= keys
            used |= {name} if keys else set()
    assert used == set(METRICS), "every registered metric must be exercised"
    assert sorted(table_keys("## Metrics")) == sorted(produced)
