"""A study killed with SIGKILL and run again keeps its finished runs and ends with a complete report."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

STUDY = [sys.executable, "-m", "gausslab", "study", "--data", "digits", "--preset", "quick", "--quiet"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def finished_runs(root: Path) -> dict[Path, float]:
    """Run folders with metrics.json (done), with the modification time of that file."""
    return {p.parent: p.stat().st_mtime for p in (root / "runs").glob("*/metrics.json")}


@pytest.mark.slow
def test_killed_study_resumes_without_redoing_finished_runs(tmp_path):
    out = tmp_path / "study"
    proc = subprocess.Popen([*STUDY, "--out", str(out)], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 240
    while len(finished_runs(out)) < 3 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = finished_runs(out)
    assert done_before, "no run finished before the kill"
    assert not (out / "report.html").exists(), "the study was killed before its report"
    again = subprocess.run([*STUDY, "--out", str(out)], env=ENV, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    after = finished_runs(out)
    assert all(after[run] == mtime for run, mtime in done_before.items()), "a finished run was redone"
    info = json.loads((out / "study.json").read_text())
    assert set(after) == {out / "runs" / t["name"] for t in info["tasks"]}, "every run of the plan finished"
    html = (out / "report.html").read_text()
    assert "failed" not in html.lower() or "0 failed" in html.lower()
    assert all(p.name in html for p in after)
