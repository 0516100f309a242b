"""A study killed with SIGKILL, or stopped by SIGTERM / SIGINT during an evaluation or its report, and run
again keeps its finished runs and ends with a complete report and the results of an uninterrupted one."""

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from gausslab.plots import grids
from gausslab.study import plan
from gausslab.training import loop
from tests.reliability import faults
from tests.reliability.cli import call

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


# One worker: the faults are armed in this process, which then runs every task itself.
TINY = ["study", "--data", "ring8", "--preset", "quick", "--quiet", "--workers", "1", "--set", "study.toy_steps=4",
        "--set", "study.gmm_steps=3", "--set", "study.eval_k=2", "--set", "study.gmm_ks=[1, 2]",
        "--set", "study.toy_n=200", "--set", "study.skip_metrics=[kid, fid, prdc, latent_fidelity, disentanglement]",
        "--out"]


@pytest.fixture
def tiny_study(monkeypatch):
    """The study machinery on its toy and mixture tasks only, with pictures not rendered (they cost 70% of it)."""
    monkeypatch.setattr(plan, "RECIPES", (plan.toy_recipes, plan.mixture_recipes))
    blank = io.BytesIO()
    Image.new("L", (1, 1)).save(blank, format="PNG")  # a valid 1-pixel PNG: the report reads its size
    for module in (grids, loop):
        monkeypatch.setattr(module, "png_bytes", lambda fig: grids.plt.close(fig) or blank.getvalue())


def results(root: Path) -> dict[str, dict]:
    """Every run's metrics, less the wall-clock ones."""
    return {p.parent.name: {k: v for k, v in json.loads(p.read_text()).items() if "seconds" not in k}
            for p in sorted((root / "runs").glob("*/metrics.json"))}


@pytest.mark.slow
def test_a_study_stopped_during_an_evaluation_or_its_report_reruns_to_the_same_results(tmp_path, tiny_study):
    assert call([*TINY, str(tmp_path / "straight")])[0] == 0
    out = tmp_path / "study"
    for point, sig, nth in (("evaluation", signal.SIGTERM, 3), ("report", signal.SIGINT, 1)):
        with pytest.MonkeyPatch.context() as m:
            faults.arm(point, sig.name, nth, m)
            code, err = call([*TINY, str(out)])
        lines = err.strip().splitlines()
        assert code == 128 + sig and lines == ["gausslab: interrupted; rerun the same command to continue"], err
        assert not (out / "report.html").exists()
    done = finished_runs(out)
    assert call([*TINY, str(out)])[0] == 0
    assert finished_runs(out) == done, "a run finished before the interruptions was redone"
    assert results(out) == results(tmp_path / "straight") and len(results(out)) >= 7
    assert (out / "report.html").is_file() and not list(out.rglob(".*.tmp"))
