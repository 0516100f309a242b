"""Loading never executes code: no pickle, no unsafe torch.load / yaml.load, no eval/exec in the source."""

import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "gausslab"
FORBIDDEN = {
    "pickle": re.compile(r"\b(c?pickle|dill|cloudpickle)\b"),
    "eval(": re.compile(r"(?<![\w.])(?<!def )eval\("),
    "exec(": re.compile(r"(?<![\w.])exec\("),
    "allow_pickle=True": re.compile(r"allow_pickle\s*=\s*True"),
}


def sources() -> list[Path]:
    files = sorted(SRC.rglob("*.py"))
    assert len(files) > 10
    return files


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(SRC)))
def test_no_code_executing_loaders(path):
    text = path.read_text()
    for name, pattern in FORBIDDEN.items():
        assert not pattern.search(text), f"{path.name} uses {name}"
    for call in re.finditer(r"torch\.load\(([^)]*)\)", text):
        assert "weights_only=True" in call.group(1), f"{path.name}: torch.load without weights_only=True"
    for call in re.finditer(r"yaml\.load\(([^)]*)\)", text):
        assert "SafeLoader" in call.group(1), f"{path.name}: yaml.load without a safe loader"
    for call in re.finditer(r"np\.load\(([^)]*)\)", text):
        assert "allow_pickle=False" in call.group(1), f"{path.name}: np.load must pass allow_pickle=False"


def test_scanner_catches_offenders(tmp_path):
    """The patterns above must match the things they are meant to forbid."""
    bad = "import pickle\nx = eval('1')\ntorch.load(f)\n"
    assert FORBIDDEN["pickle"].search(bad) and FORBIDDEN["eval("].search(bad)
    assert not FORBIDDEN["eval("].search("model.eval()") and not FORBIDDEN["eval("].search("def eval(self):")
    assert "weights_only=True" not in re.search(r"torch\.load\(([^)]*)\)", bad).group(1)
