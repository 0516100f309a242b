"""The report builder on a hand-made study folder: numbers, mean ± std, verdicts, statuses, strict JSON, escaping."""

from __future__ import annotations

import base64
import io
import json
import math
import statistics
from html.parser import HTMLParser

import numpy as np
import pytest
from PIL import Image
from scipy import stats as scipy_stats

from gausslab.data.config import DataConfig
from gausslab.models.vae import VAEConfig
from gausslab.training.run_config import RunConfig
from gausslab.core.fileio import atomic_write_json
from gausslab.plots.grids import plt, save_png
from gausslab.report.build import build_report
from gausslab.report.doc import Stat, format_stat
from gausslab.study.record import ERROR, FIGURES, METRICS_JSON, StudyInfo, Task, run_dir, write_info, write_per_example
from gausslab.study.stats import CONTRADICTED, INCONCLUSIVE, SUPPORTED

EVIL = "<script>alert('x')</script>"
SECTIONS = ["s0-verdicts", "s1-toys", "s2-mixtures", "s3-dimension", "s4-priors", "s5-ratedistortion", "s6-gans",
            "s7-summary"]


class Page(HTMLParser):
    """Sections, metric cells (data-runs/data-key + text), tables, images and every href/src of a report.html."""

    def __init__(self, text: str):
        super().__init__()
        self.sections, self.cells, self.images, self.links, self.text, self.tables = [], [], [], [], [], []
        self._cell = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section":
            self.sections.append(a["id"])
        if tag == "table":
            self.tables.append([])
        if tag == "tr" and self.tables:
            self.tables[-1].append([])
        if tag == "td":
            self._cell = [a.get("data-runs", "").split(), a.get("data-key", ""), ""]
        if tag == "img":
            self.images.append(a["src"])
        self.links += [v for k, v in attrs if k in ("href", "src")]

    def handle_data(self, data):
        self.text.append(data)
        if self._cell is not None:
            self._cell[2] += data

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            if self._cell[1]:
                self.cells.append(tuple(self._cell))
            self.tables[-1][-1].append(self._cell[2])
            self._cell = None

    def row(self, first: str) -> list[str]:
        """The cells of the first table row whose first cell is `first`."""
        return next(r for t in self.tables for r in t if r and r[0] == first)


def _png(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(1, 1))
    ax.plot([0, 1], [0, 1])
    save_png(fig, path)


def _task(group, section, label, seed, **tags):
    config = RunConfig(data=DataConfig(name="digits"), model=VAEConfig(prior=tags.get("prior", "standard")))
    return Task(name=f"{group}-s{seed}", group=group, section=section, label=label, seed=seed, kind="train",
                data=config.data, tags=tags, config=config)


VAE = {"rate": 5.0, "active_units": 4, "n_real": 359, "n_generated": 2000}
# group -> (section, label, tags, per-seed metrics or an error); planted effects, VampPrior vs N(0, I):
# test NLL lower in every seed (claim supported), FID both ways (inconclusive), recall lower (contradicted).
RUNS = {
    "prior-standard": ("priors", "VAE, N(0, I)", {"prior": "standard"},
                       [{**VAE, "test_nll": 30.0, "fid_domain": 5.0, "precision": 0.5, "recall": 0.6, "prior_holes": 0.3},
                        {**VAE, "test_nll": 32.0, "fid_domain": 7.0, "precision": 0.7, "recall": 0.7, "prior_holes": 0.5},
                        {**VAE, "test_nll": 31.0, "fid_domain": 6.0, "precision": 0.6, "recall": 0.65,
                         "prior_holes": 0.4}]),
    "prior-vamp": ("priors", f"VAE, VampPrior {EVIL}", {"prior": "vamp"},
                   [{**VAE, "test_nll": 27.0, "fid_domain": 4.0, "precision": 0.6, "recall": 0.5, "prior_holes": 0.1},
                    {**VAE, "test_nll": 28.5, "fid_domain": 8.5, "precision": 0.6, "recall": 0.6, "prior_holes": 0.2},
                    {**VAE, "test_nll": 27.5, "fid_domain": 6.5, "precision": 0.6, "recall": 0.55,
                     "prior_holes": 0.2}]),
    "prior-flow": ("priors", "VAE, flow prior", {"prior": "flow"},
                   [{**VAE, "test_nll": 31.0, "fid_domain": 9.0},
                    {**VAE, "test_nll": 34.0, "fid_domain": 9.5, "rate": 0.0004, "active_units": 0},  # collapsed
                    {**VAE, "test_nll": 33.0, "fid_domain": 9.0, "reverse_kl": math.nan}]),
    "gan-ns": ("gans", "GAN-ns", {"model": "gan-ns"},
               [{"fid_domain": 3.0, "precision": 0.9, "recall": 0.2, "n_real": 359, "n_generated": 2000},
                f"RuntimeError: exploded {EVIL}", "TrainingError: loss became non-finite at step 7"]),
}
N_EXAMPLES = 50


def _per_example(group: str, seed: int, metrics: dict) -> dict[str, np.ndarray]:
    """Per-example NLLs around the run's mean (the same spread for every run), and hole memberships."""
    noise = np.random.default_rng(seed).normal(0, 1.0, N_EXAMPLES)
    out = {"test_nll": (metrics["test_nll"] + noise - noise.mean()).astype(np.float32)} if "test_nll" in metrics else {}
    if "prior_holes" in metrics:
        out["prior_holes"] = np.arange(1000) < round(1000 * metrics["prior_holes"])
    return out


@pytest.fixture
def study(tmp_path):
    root = tmp_path / "study"
    tasks = []
    for group, (section, label, tags, seeds) in RUNS.items():
        for seed, outcome in enumerate(seeds):
            task = _task(group, section, label, seed, **tags)
            tasks.append(task)
            folder = run_dir(root, task.name)
            folder.mkdir(parents=True)
            if isinstance(outcome, str):
                (folder / ERROR).write_text(outcome)
                continue
            write_per_example(folder, _per_example(group, seed, outcome))
            atomic_write_json(folder / METRICS_JSON, {k: v for k, v in outcome.items() if v == v})
            if "reverse_kl" in outcome:  # what an older writer left: a bare NaN
                (folder / METRICS_JSON).write_text(json.dumps(outcome))
            (folder / "state.json").write_text(json.dumps({"step": 1, "finished": True}))
            _png(folder / FIGURES / "samples.png")
    info = StudyInfo(gausslab_version="0.1.0", preset="quick", preset_config={"description": "test"},
                     overrides=[f"train.steps=3 {EVIL}"], data=f"data/{EVIL}.npz", seeds=3,
                     hardware={"cpu": "test cpu", "cores": 2, "load_average_1min": 1.14111328125},
                     started="2026-01-01T00:00:00", wall_s=12.5,
                     tasks=tasks)
    write_info(root, info)
    return root


def _strict(text: str):
    def refuse(name):
        raise ValueError(f"non-strict JSON constant {name}")
    return json.loads(text, parse_constant=refuse)


def shown_within_rounding(text: str, value: float) -> bool:
    """`text` (e.g. '31.0', '1,234', '0.00052') is `value` rounded to the digits it shows."""
    digits = text.replace(",", "").replace("−", "-")  # the report writes a true minus sign
    whole, point, fraction = digits.partition(".")
    place = -len(fraction) if point else len(whole) - len(whole.rstrip("0"))  # '12300' may be 12,345 rounded
    return abs(float(digits) - value) <= 0.5 * 10.0 ** place * (1 + 1e-9)


def check_cell(text: str, values: list[float]) -> None:
    """A cell shows the mean and sample std of `values`, each rounded to the digits it shows (no ± when
    the values agree)."""
    mean, _, sd = text.partition(" ± ")
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    assert shown_within_rounding(mean, statistics.mean(values)), (text, values)
    assert shown_within_rounding(sd, spread) if sd else spread <= 1e-9 * max(1.0, abs(statistics.mean(values))), text


def test_cells_show_mean_and_std_of_the_runs_they_name(study):
    """Every cell, recomputed independently from metrics.json: the mean (and sample std) of its runs."""
    files = build_report(study)
    page = Page(files.html.read_text())
    metrics = _strict(files.metrics.read_text())
    assert page.cells
    for runs, key, text in page.cells:
        check_cell(text, [metrics[r][key] for r in runs])
    nll = [c for c in page.cells if c[0] == ["prior-standard-s0", "prior-standard-s1", "prior-standard-s2"]
           and c[1] == "test_nll"]
    assert nll and nll[0][2] == "31.0 ± 1.0"


def test_metrics_json_is_strict_with_statuses_and_verdicts(study):
    metrics = _strict(build_report(study).metrics.read_text())
    assert metrics["prior-flow-s2"]["reverse_kl"] is None and "mode" in metrics["prior-flow-s2"]["reverse_kl_null_reason"]
    assert metrics["prior-flow-s1"]["status"] == "posterior-collapse" and "0.0004" in metrics["prior-flow-s1"][
        "status_reason"]
    assert [metrics[f"gan-ns-s{s}"]["status"] for s in range(3)] == ["ok", "failed", "diverged"]
    assert metrics["selection_split"] == "validation"
    for v in metrics["verdicts"]:
        assert {"claim", "verdict", "effect", "ci_low", "ci_high", "n_seeds", "n_left_out"} <= set(v)


def _verdict(metrics, claim_id):
    return next(v for v in metrics["verdicts"] if v["id"] == claim_id)


def test_planted_effects_get_their_verdicts(study):
    metrics = _strict(build_report(study).metrics.read_text())
    nll = _verdict(metrics, "prior-costs-likelihood")
    want = scipy_stats.ttest_1samp([-3.0, -3.5, -3.5], 0.0).confidence_interval(0.95)
    assert nll["verdict"] == SUPPORTED and nll["n_seeds"] == 3
    assert (nll["ci_low"], nll["ci_high"]) == (pytest.approx(want.low), pytest.approx(want.high))
    assert nll["bootstrap_ci_high"] < 0 and nll["n_examples"] == N_EXAMPLES
    assert _verdict(metrics, "prior-costs-quality")["verdict"] == INCONCLUSIVE  # FID: −1, +1.5, +0.5
    assert _verdict(metrics, "prior-costs-diversity")["verdict"] == CONTRADICTED  # recall lower in every seed
    assert _verdict(metrics, "prior-leaves-holes")["verdict"] == SUPPORTED  # 30-50 % of draws vs 1 %
    missing = _verdict(metrics, "explicit-impractical")
    assert missing["verdict"] == INCONCLUSIVE and missing["n_seeds"] == 0 and "not measured" in missing["note"]


def test_verdicts_table_comes_first_and_links_to_sections(study):
    files = build_report(study)
    html, markdown = files.html.read_text(), files.markdown.read_text()
    assert html.index('<section id="s0-verdicts">') < html.index('<dl class="header">')  # before the study details
    assert markdown.index("## Which of the paper's claims") < markdown.index("## About this study")
    page = Page(html)
    assert page.sections == SECTIONS
    row = page.row("A fixed N(0, I) prior costs likelihood (a learned prior fits better)")
    assert row[-2] == SUPPORTED and row[-1] == "§4" and row[4] == "3"
    assert "#s4-priors" in page.links
    assert "Verdict rule:" in " ".join(page.text)


def test_left_out_runs_are_not_averaged_and_say_why(study):
    files = build_report(study)
    page = Page(files.html.read_text())
    cells = {(tuple(r), k): t for r, k, t in page.cells}
    check_cell(cells[(("prior-flow-s0", "prior-flow-s2"), "test_nll")], [31.0, 33.0])
    text = " ".join(page.text)
    assert "prior-flow-s1 (VAE, flow prior): posterior-collapse — rate 0.0004" in text
    assert f"gan-ns-s1 (GAN-ns): failed — RuntimeError: exploded {EVIL}" in text
    assert "1/3 ok; 1 failed; 1 diverged" in text and "2/3 ok; 1 posterior-collapse" in text
    assert "gan-ns-s1" in files.markdown.read_text()


def test_the_header_states_the_load_to_two_decimals(study):
    markdown = build_report(study).markdown.read_text()
    assert "load average at start 1.14" in markdown and "1.141" not in markdown


def test_comparisons_show_intervals(study):
    page = Page(build_report(study).html.read_text())
    row = page.row(f"VAE, VampPrior {EVIL} − N(0, I)")  # the first metric compared: test NLL
    assert row[1] == "test NLL (nats) ↓" and row[2] == "−3.33 [−4.05, −2.62]" and row[4] == "3" and row[6] == "yes"


def test_sample_tables_show_sizes_and_warn_about_small_sets(study):
    html = build_report(study).html.read_text()
    assert "n (real)" in html and "n (generated)" in html
    assert 'class="warning"' in html and "Only 359 real (test) examples (fewer than 1,000)" in html


def test_user_strings_are_escaped_and_page_is_self_contained(study):
    html = build_report(study).html.read_text()
    assert "<script" not in html and "&lt;script&gt;" in html
    page = Page(html)
    assert all(link.startswith(("data:image/png;base64,", "#")) for link in page.links)
    for src in page.images:
        Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))).verify()


@pytest.mark.parametrize("values, text", [
    ([], "—"), ([2.0], "2"), ([0.123456], "0.123"), ([12345.678], "12,300"), ([1.0, 3.0], "2.0 ± 1.4"),
    ([30.0, 32.0, 31.0], "31.0 ± 1.0"), ([359, 359], "359"),
])
def test_format(values, text):
    assert format_stat(Stat(values, ())) == text
