"""The report builder on a hand-made study folder: numbers, mean ± std, generated sentences, failures, escaping."""

from __future__ import annotations

import base64
import io
import json
import statistics
from html.parser import HTMLParser

import pytest
from PIL import Image

from gausslab.data.config import DataConfig
from gausslab.models.vae import VAEConfig
from gausslab.training.run_config import RunConfig
from gausslab.core.fileio import atomic_write_json
from gausslab.plots.grids import plt, save_png
from gausslab.report.build import build_report
from gausslab.report.doc import Stat, format_stat, number
from gausslab.study.record import ERROR, FIGURES, METRICS_JSON, StudyInfo, Task, run_dir, write_info

EVIL = "<script>alert('x')</script>"


class Page(HTMLParser):
    """Sections, metric cells (data-runs/data-key + text), images and every href/src of a report.html."""

    def __init__(self, text: str):
        super().__init__()
        self.sections, self.cells, self.images, self.links, self.text = [], [], [], [], []
        self._cell = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section":
            self.sections.append(a["id"])
        if tag == "td" and "data-key" in a:
            self._cell = [a["data-runs"].split(), a["data-key"], ""]
        if tag == "img":
            self.images.append(a["src"])
        self.links += [v for k, v in attrs if k in ("href", "src")]

    def handle_data(self, data):
        self.text.append(data)
        if self._cell is not None:
            self._cell[2] += data

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self.cells.append(tuple(self._cell))
            self._cell = None


def _png(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(1, 1))
    ax.plot([0, 1], [0, 1])
    save_png(fig, path)


def _task(group, section, label, seed, **tags):
    config = RunConfig(data=DataConfig(name="digits"), model=VAEConfig(prior=tags.get("prior", "standard")))
    return Task(name=f"{group}-s{seed}", group=group, section=section, label=label, seed=seed, kind="train",
                data=config.data, tags=tags, config=config)


# group -> (section, label, tags, per-seed metrics or an error)
RUNS = {
    "prior-standard": ("priors", "VAE, N(0, I)", {"prior": "standard"},
                       [{"test_nll": 30.0, "fid_domain": 5.0, "precision": 0.5, "recall": 0.4, "prior_holes": 0.3},
                        {"test_nll": 32.0, "fid_domain": 7.0, "precision": 0.7, "recall": 0.6, "prior_holes": 0.5}]),
    "prior-vamp": ("priors", f"VAE, VampPrior {EVIL}", {"prior": "vamp"},
                   [{"test_nll": 27.0, "fid_domain": 4.0, "precision": 0.6, "recall": 0.5, "prior_holes": 0.1},
                    {"test_nll": 28.0, "fid_domain": 6.5, "precision": 0.6, "recall": 0.5, "prior_holes": 0.2}]),
    "prior-flow": ("priors", "VAE, flow prior", {"prior": "flow"},
                   [{"test_nll": 31.0, "fid_domain": 9.0}, {"test_nll": 34.0, "fid_domain": 9.5}]),
    "gan-ns": ("gans", "GAN-ns", {"model": "gan-ns"},
               [{"fid_domain": 3.0, "precision": 0.9, "recall": 0.2}, f"RuntimeError: exploded {EVIL}"]),
}


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
            atomic_write_json(folder / METRICS_JSON, outcome)
            (folder / "state.json").write_text(json.dumps({"step": 1, "finished": True}))
            _png(folder / FIGURES / "samples.png")
    info = StudyInfo(gausslab_version="0.1.0", preset="quick", preset_config={"description": "test"},
                     overrides=[f"train.steps=3 {EVIL}"], data=f"data/{EVIL}.npz", seeds=2,
                     hardware={"cpu": "test cpu", "cores": 2}, started="2026-01-01T00:00:00", wall_s=12.5,
                     tasks=tasks)
    write_info(root, info)
    return root


def parse_cell(text: str) -> tuple[float, float | None]:
    """'31 ± 1.414' -> (31.0, 1.414); '2,345.5' -> (2345.5, None)."""
    mean, _, std = text.replace(",", "").partition(" ± ")
    return float(mean), float(std) if std else None


def check_cell(text: str, values: list[float]) -> None:
    """A cell shows the mean and sample std of `values` to 4 significant digits."""
    mean, std = parse_cell(text)
    assert mean == pytest.approx(statistics.mean(values), rel=5e-4)
    assert std == (pytest.approx(statistics.stdev(values), rel=5e-4) if len(values) > 1 else None)


def expected_cells() -> dict[tuple[tuple[str, ...], str], list[float]]:
    """(runs, key) -> values, from RUNS itself: a group's finished seeds that recorded the key."""
    out: dict[tuple[tuple[str, ...], str], list[float]] = {}
    for group, (_, _, _, seeds) in RUNS.items():
        finished = {f"{group}-s{seed}": m for seed, m in enumerate(seeds) if isinstance(m, dict)}
        for key in {k for m in finished.values() for k in m}:
            runs = tuple(name for name, m in finished.items() if key in m)
            out[runs, key] = [finished[name][key] for name in runs]
    return out


def test_cells_show_mean_and_std_of_each_groups_finished_runs(study):
    page = Page(build_report(study).html.read_text())
    want = expected_cells()
    shown = {(tuple(runs), key) for runs, key, _ in page.cells}
    assert shown <= set(want), f"cells that group runs differently: {shown - set(want)}"
    assert {(("prior-standard-s0", "prior-standard-s1"), "test_nll"), (("prior-flow-s0", "prior-flow-s1"), "fid_domain"),
            (("gan-ns-s0",), "precision"), (("prior-vamp-s0", "prior-vamp-s1"), "prior_holes")} <= shown
    for runs, key, text in page.cells:
        check_cell(text, want[tuple(runs), key])
    nll = [c for c in page.cells if c[0] == ["prior-standard-s0", "prior-standard-s1"] and c[1] == "test_nll"]
    assert nll[0][2] == "31 ± 1.414"  # mean 31, sample std sqrt(2)


def test_summary_is_generated_from_the_numbers(study):
    text = " ".join(Page(build_report(study).html.read_text()).text)
    # per-seed differences vamp - standard: -3, -4 -> lowered by 3.5 ± 0.7071
    assert (f"VAE, VampPrior {EVIL} vs VAE, N(0, I) (2 seeds, mean ± std of the per-seed differences): "
            f"lowered test NLL by 3.5 ± {number(statistics.stdev([3.0, 4.0]))} nats;") in text
    # flow - standard: +1, +2 -> did not help, and the report says so
    assert "VAE, flow prior vs VAE, N(0, I) (2 seeds, mean ± std of the per-seed differences): did not lower " \
           "test NLL (+1.5 ± 0.7071 nats)" in text
    # fid vamp - standard: -1, -0.5 -> lowered by 0.75 ± 0.3536, an improvement within the seed spread? no: 0.75 > 0.35
    assert "lowered FID (domain features) by 0.75 ± 0.3536;" in text
    assert "ranked by FID (domain features)" in text


def test_failed_run_is_shown_with_its_error(study):
    files = build_report(study)
    metrics = json.loads(files.metrics.read_text())
    assert metrics["gan-ns-s1"]["status"] == "failed" and "exploded" in metrics["gan-ns-s1"]["error"]
    text = " ".join(Page(files.html.read_text()).text)
    assert f"gan-ns-s1 (GAN-ns) failed: RuntimeError: exploded {EVIL}" in text
    assert "1/2 (1 failed)" in text
    assert "gan-ns-s1" in files.markdown.read_text()


def test_user_strings_are_escaped_and_page_is_self_contained(study):
    html = build_report(study).html.read_text()
    assert "<script" not in html and "&lt;script&gt;" in html
    page = Page(html)
    assert page.sections == ["s1-toys", "s2-mixtures", "s3-dimension", "s4-priors", "s5-gans", "s6-summary"]
    assert all(link.startswith(("data:image/png;base64,", "#")) for link in page.links)
    assert len(page.images) == len(RUNS)  # one samples picture per group (its first finished seed)
    for src in page.images:
        Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))).verify()


@pytest.mark.parametrize("values, text", [
    ([], "—"), ([2.0], "2"), ([0.123456], "0.1235"), ([12345.678], "12,345.7"), ([1.0, 3.0], "2 ± 1.414"),
])
def test_format(values, text):
    assert format_stat(Stat(values, ())) == text
