"""`gausslab study` end to end on the quick preset: report structure, numbers, rerun, rebuild, failure, escaping."""

from __future__ import annotations

import base64
import io
import json
import math
import shutil

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from gausslab.study import execute
from gausslab.cli import app
from gausslab.data.config import DataConfig
from gausslab.core.errors import ConfigError
from gausslab.models import build_model
from gausslab.report.claims import CLAIMS
from gausslab.report.doc import FONT_PX
from gausslab.study.driver import split_overrides
from gausslab.study.dimension import budget_width, generative_parameters, gmm_components
from gausslab.study.plan import Context, plan
from gausslab.study.presets import PRESETS, preset_with
from gausslab.study.status import STATUSES
from tests import browser
from tests.report.test_report import SECTIONS, Page, _strict, check_cell

pytestmark = pytest.mark.xdist_group("study")  # one worker builds the shared study once; tests change only copies
EVIL = "<script>alert(1)</script>"
runner = CliRunner()


def study(out, *extra):
    return runner.invoke(app, ["study", "--data", "digits", "--preset", "quick", "--quiet", "--out", str(out), *extra])


def _broken_expost(task, folder, ctx):
    raise RuntimeError(f"ex-post broke on {EVIL}")


def _plan(seeds=2, sets=()):
    study_sets, run_sets = split_overrides(list(sets))
    ctx = Context(PRESETS["quick"].model_copy(update=study_sets), DataConfig(name="digits"), (1, 8, 8), 1437,
                  lambda dim: DataConfig(name=f"digits-d{dim}.npz"))
    return plan(ctx, seeds, run_sets)


def test_plan_expands_seeds_and_applies_overrides_where_the_setting_exists():
    tasks = _plan(seeds=2, sets=["train.steps=3", "model.beta=2.0", "model.iwae_k=9", "study.toy_n=321"])
    names = [t.name for t in tasks]
    assert len(names) == len(set(names)) and {n[-3:] for n in names} == {"-s0", "-s1"}
    trained = [t for t in tasks if t.kind == "train"]
    assert all(t.config.train.steps == 3 and t.config.train.seed == t.seed for t in trained)
    vaes = [t.config.model for t in trained if t.config.model.kind == "vae"]
    assert all(m.beta == 2.0 for m in vaes if m.objective == "elbo")
    # The IWAE runs keep what they are about: their k, and the plain bound that IWAE needs.
    iwae = [t for t in trained if t.config.model.kind == "vae" and t.config.model.objective == "iwae"]
    assert [t.config.model.iwae_k for t in iwae] == [k for k in PRESETS["quick"].iwae_ks for _ in range(2)]
    assert all(t.config.model.beta == 1.0 for t in iwae)
    assert {t.kind for t in tasks if t.section == "priors"} == {"train", "expost", "two-stage"}
    assert {t.data.n for t in tasks if t.tags.get("toy") == "ring8"} == {321}
    assert {t.section for t in tasks} == {"toys", "mixtures", "dimension", "priors", "latent2d", "ratedistortion",
                                          "shapes", "gans"}


def test_toys_and_main_k_sweep_follow_the_preset():
    """study.toys picks the toys (the first gets the mixture k-sweep); the main data's k-sweep has its own
    sizes and EM budget, separate from the toy's."""
    tasks = _plan(seeds=1, sets=["study.toys=[grid25]", "study.main_gmm_ks=[1,3]", "study.main_gmm_steps=7",
                                 "study.gmm_ks=[2,5]", "study.gmm_steps=9"])
    assert {t.tags["toy"] for t in tasks if t.section == "toys"} == {"grid25"}
    sweeps = {t.data.name: t.options for t in tasks if t.kind == "ksweep"}
    assert sweeps == {"grid25": {"ks": [2, 5], "steps": 9, "reg_covar": 1e-6},
                      "digits": {"ks": [1, 3], "steps": 7, "reg_covar": PRESETS["quick"].gmm_reg_covar}}
    with pytest.raises(ConfigError, match="moons"):  # a toy without known modes has no mode coverage
        preset_with("quick", {"toys": ["moons"]})


@pytest.mark.parametrize("sets, needle", [(["model.betta=2"], "did you mean 'beta'"),
                                          (["study.stepz=2"], "did you mean 'steps'"),
                                          (["data.name=ring8"], "--data")])
def test_bad_overrides_are_one_line_config_errors(sets, needle):
    with pytest.raises(ConfigError, match=needle):
        _plan(sets=sets)


@pytest.mark.parametrize("option, value", [("--workers", "0"), ("--seeds", "0")])
def test_bad_counts_are_one_line_errors(tmp_path, option, value):
    result = study(tmp_path / "out", option, value)
    assert result.exit_code == 2 and f"{option} must be a positive number, got {value}" in result.output
    assert not (tmp_path / "out").exists()


def _vae(width):
    return {"kind": "vae", "latent_dim": 4, "hidden": (width, width)}


def _generative_size(dim, kind, **options):
    return generative_parameters(build_model(kind, (dim,), **options))


@pytest.mark.parametrize("dim", [2, 16])
def test_budgets_are_matched_by_counting_parameters(dim):
    """The widest VAE decoder and flow, and the most GMM components that fit the budget: one more would not."""
    preset = PRESETS["quick"].model_copy(update={"dim_max_components": 10**6})  # no cap: the budget alone decides
    budget = preset.dim_budget
    w = budget_width(budget, _vae, (dim,))
    assert _generative_size(dim, **_vae(w)) <= budget < _generative_size(dim, **_vae(w + 1))
    for covariance, rank in (("full", 1), ("diag", 1), ("lowrank", max(1, min(preset.dim_rank, dim - 1)))):
        k = gmm_components(preset, dim, 1437, covariance, rank)
        options = {"covariance": covariance, "rank": rank}
        assert _generative_size(dim, "gmm", components=k, **options) <= budget
        assert _generative_size(dim, "gmm", components=k + 1, **options) > budget
    flow = lambda w: {"kind": "flow", "layers": preset.dim_flow_layers, "hidden": (w, w)}  # noqa: E731
    w = budget_width(budget, flow, (dim,))
    assert _generative_size(dim, **flow(w)) <= budget < _generative_size(dim, **flow(w + 1))


@pytest.fixture(scope="module")
def first(tmp_path_factory):
    """One quick study whose ex-post run fails, in a folder whose name holds markup."""
    out = tmp_path_factory.mktemp("study") / EVIL.replace("/", "_")
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(execute.EXECUTORS, "expost", _broken_expost)
        result = study(out, "--workers", "1")  # the patch lives in this process only
    assert result.exit_code == 0, result.output
    return out, result.output


@pytest.mark.slow
def test_report_sections_plots_and_numbers(first):
    out, output = first
    assert f"report: {out / 'report.html'}" in output
    html = (out / "report.html").read_text()
    page = Page(html)
    assert page.sections == SECTIONS
    assert len(page.images) >= 20
    for src in page.images:
        assert src.startswith("data:image/png;base64,")
        Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))).verify()
    assert all(link.startswith(("data:image/png;base64,", "#")) for link in page.links)
    metrics = _strict((out / "metrics.json").read_text())
    assert metrics["selection_split"] == "validation" and len(metrics["verdicts"]) == len(CLAIMS)
    assert all(m["status"] in STATUSES for m in metrics.values() if isinstance(m, dict))
    keys = {key for _, key, _ in page.cells}
    assert {"test_nll", "n_parameters", "test_log_likelihood_k4", "fid_domain", "precision"} <= keys
    # Each cell against the run folders' own metrics.json, grouped by run name without its seed suffix;
    # only runs the study's metrics.json calls ok are averaged.
    runs_metrics = {p.parent.name: json.loads(p.read_text()) for p in (out / "runs").glob("*/metrics.json")}
    for runs, key, text in page.cells:
        group = runs[0].rsplit("-s", 1)[0]
        want = sorted(name for name, m in runs_metrics.items() if name.rsplit("-s", 1)[0] == group
                      and metrics[name]["status"] == "ok"
                      and isinstance(m.get(key), (int, float)) and math.isfinite(m[key]))
        assert sorted(runs) == want, (key, runs, want)
        check_cell(text, [float(runs_metrics[name][key]) for name in want])
    shown = {(runs[0].rsplit("-s", 1)[0], key) for runs, key, _ in page.cells}
    iwae = f"prior-iwae{PRESETS['quick'].iwae_ks[0]}"
    assert {(iwae, "test_nll"), (iwae, "active_units"), ("prior-two-stage", "fid_domain"),
            ("prior-two-stage", "prior_holes")} <= shown
    # At D = 64 the sweep fits the digits themselves: bits/dim, logit-space mixtures and the histogram line.
    assert {("dim-0064-histogram", "bits_per_dim"), ("dim-0064-gmm-logit", "bits_per_dim")} <= shown
    assert "these stop early once their validation objective has not improved" in html
    assert "VAE (dimension sweep, D = 64)" in html  # ranked in the summary, told apart
    assert "networks with a validation objective stop once it has not improved for 10 epochs" in html
    markdown = (out / "report.md").read_text().splitlines()
    assert sum(line.startswith("## ") for line in markdown) == len(SECTIONS) + 1  # + "About this study"
    assert next(line for line in markdown if line.startswith("## ")) == "## Which of the paper's claims hold on this data?"


@pytest.mark.slow
def test_failed_run_is_reported_and_markup_escaped(first):
    out, _ = first
    metrics = json.loads((out / "metrics.json").read_text())
    assert [metrics[f"prior-expost-s{s}"]["status"] for s in (0, 1)] == ["failed", "failed"]
    runs = {name: m for name, m in metrics.items() if isinstance(m, dict)}
    assert sum(m["status"] == "failed" for m in runs.values()) == 2 and len(runs) == len(_plan())
    html = (out / "report.html").read_text()
    assert "<script" not in html and "&lt;script&gt;" in html
    failure = f"prior-expost-s0 (VAE (N(0, I) prior) + ex-post sampler): failed — RuntimeError: ex-post broke on {EVIL}"
    assert failure in " ".join(Page(html).text)


@pytest.mark.slow
def test_rerun_skips_finished_runs_and_retries_the_failed_one(first, tmp_path):
    out = tmp_path / "copy"
    shutil.copytree(first[0], out)
    finished = [p for p in (out / "runs").glob("*/metrics.json")]
    before = {p: p.stat().st_mtime_ns for p in finished + list((out / "runs").glob("*/model.safetensors"))}
    result = study(out)
    assert result.exit_code == 0, result.output
    assert f"runs: 2 finished, {len(finished)} skipped" in result.output
    assert {p: p.stat().st_mtime_ns for p in before} == before
    assert json.loads((out / "metrics.json").read_text())["prior-expost-s0"]["status"] != "failed"
    assert ": failed —" not in " ".join(Page((out / "report.html").read_text()).text)


@pytest.mark.slow
@pytest.mark.parametrize("width", [800, 1280])
def test_report_reads_well_in_a_real_browser(first, width):
    """Measured by chromium: nothing runs off the page, tables scroll in their own box, chart text >= 10 px,
    image grids >= 48 px per image; and a screenshot whose right margin stays empty."""
    assert browser.available(), "this test needs Debian's chromium: apt-get install chromium"
    html = (first[0] / "report.html").read_text()
    m = browser.measure(html, width)
    assert m["viewport"] <= width and m["page"] <= m["viewport"]
    assert m["tables"] and all(t["right"] <= m["viewport"] for t in m["tables"])
    if width == 800:
        assert any(t["inner"] > t["outer"] for t in m["tables"])  # a wide table scrolls inside its box
    assert m["charts"] and all(c["shown"] / c["natural"] * FONT_PX >= 10 for c in m["charts"])
    assert m["grids"] and all(g["shown"] / g["natural"] * g["cell"] >= 48 for g in m["grids"])
    shot = Image.open(io.BytesIO(browser.screenshot(html, width))).convert("L")
    assert shot.size[0] == width
    margin = np.asarray(shot)[:, -8:]  # the page's right padding: no content may reach it
    assert (margin >= 245).all()


@pytest.mark.slow
def test_report_command_rebuilds_from_disk(first, tmp_path):
    out = tmp_path / "copy"
    shutil.copytree(first[0], out)
    (out / "report.html").unlink()
    (out / "report.md").unlink()
    result = runner.invoke(app, ["report", str(out)])
    assert result.exit_code == 0, result.output
    assert Page((out / "report.html").read_text()).sections == SECTIONS and (out / "report.md").exists()


@pytest.mark.slow
def test_changed_study_in_same_folder_is_refused(first):
    out, _ = first
    result = study(out, "--set", "study.steps=7")
    assert result.exit_code == 2 and "another preset" in result.output
