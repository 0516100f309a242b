"""The README's quickstarts must actually work."""

import re
from pathlib import Path

import pytest

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
    assert (tmp_path / "runs" / "vae-py" / "model.safetensors").exists()
    assert "nll_iwae" in namespace["m"].to_dict()


def test_readme_lists_every_builtin_dataset():
    from gausslab.data import DATASETS

    text = README.read_text()
    for name in DATASETS:
        assert f"`{name}`" in text
