"""The study report: `build_report(study_dir)` reads everything from disk and writes report.html / report.md.

It never trains or evaluates: the numbers come from the runs' metrics.json (and per_example.npz
for intervals over test examples), the pictures from their PNG files, and the charts are redrawn
from those numbers. So `gausslab report DIR` rebuilds a report from a study folder alone, and a
rerun of the study ends by calling it. The verdicts table comes first.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gausslab.report import html as report_html
from gausslab.report import markdown as report_markdown
from gausslab.core.fileio import atomic_write_text
from gausslab.report.data import StudyView, load_view
from gausslab.report.doc import Document
from gausslab.report.priors import TITLES as PRIOR_TITLES
from gausslab.report.priors import gans_section, priors_section, rate_distortion_section
from gausslab.report.sections import TITLES as SECTION_TITLES
from gausslab.report.sections import dimension_section, mixtures_section, toys_section
from gausslab.report.summary import SUMMARY_ID, TITLE, summary_section
from gausslab.report.verdicts import Verdict, verdicts, verdicts_section
from gausslab.study.record import METRICS_JSON, StudyInfo, write_json
from gausslab.study.stats import VERDICT_RULE
from gausslab.study.status import STATUSES

HTML, MARKDOWN = "report.html", "report.md"
SECTIONS = (toys_section, mixtures_section, dimension_section, priors_section, rate_distortion_section, gans_section,
            summary_section)
TITLES = SECTION_TITLES | PRIOR_TITLES | {SUMMARY_ID: TITLE}
REFERENCE_SET = ("test split: the held-out examples no model was trained or selected on; sample metrics compare "
                 "n_generated model samples with them")


@dataclass
class ReportFiles:
    """The files `build_report` wrote: report.html, report.md and the study's metrics.json."""

    html: Path
    markdown: Path
    metrics: Path


def build_report(study_dir: str | Path) -> ReportFiles:
    """Write report.html, report.md and metrics.json (all runs × all metrics, and the verdicts) for `study_dir`."""
    root = Path(study_dir)
    view = load_view(root)
    found = verdicts(view)
    write_json(root / METRICS_JSON, study_metrics(view, found))
    doc = build_document(view, found)
    atomic_write_text(root / HTML, report_html.render(doc))
    atomic_write_text(root / MARKDOWN, report_markdown.render(doc))
    return ReportFiles(root / HTML, root / MARKDOWN, root / METRICS_JSON)


def study_metrics(view: StudyView, found: list[Verdict]) -> dict[str, Any]:
    """OUT/metrics.json: each run's metrics with its status, then the verdicts and how they were reached."""
    return {**{r.task.name: r.record() for r in view.runs},
            "verdicts": [v.to_json() for v in found], "verdict_rule": VERDICT_RULE,
            "selection_split": "validation", "reference_set": REFERENCE_SET, "statuses": list(STATUSES),
            "seeds": view.info.seeds}


def build_document(view: StudyView, found: list[Verdict]) -> Document:
    """The report as a document tree: the verdicts, then the header, then every section of `SECTIONS`."""
    sections = [verdicts_section(view, TITLES, found)] + [build(view) for build in SECTIONS]
    return Document(f"gausslab study: {view.info.data}", header(view), sections, view.root, opening=1)


def header(view: StudyView) -> list[tuple[str, str]]:
    """The 'About this study' rows (name, text): version, data, preset, seeds, statuses, hardware, timing."""
    info, hw = view.info, view.info.hardware
    statuses = [r.status.name for r in view.runs]
    counts = ", ".join(f"{statuses.count(s)} {s}" for s in STATUSES if statuses.count(s))
    wall = "—"
    if info.wall_s:
        wall = f"{info.wall_s:.1f} s ({info.wall_s / 60:.1f} min): training and evaluation in the last study call"
    return [
        ("gausslab version", info.gausslab_version),
        ("data", info.data),
        ("preset", f"{info.preset}: {info.preset_config.get('description', '')}"),
        ("overrides", " ".join(f"--set {o}" for o in info.overrides) or "none"),
        ("seeds", f"{info.seeds} per model (tables: mean ± sample std over the seeds whose run is ok)"),
        ("runs", counts),
        ("selection", "every choice (a mixture's K, when a run stops early) on the validation split, carved from the "
                      "training examples; " + _budgets(info)),
        ("reference set", REFERENCE_SET),
        ("hardware", f"{hw.get('cpu')}, {hw.get('cores')} cores, {hw.get('workers', 1)} worker(s) × "
                     f"{hw.get('torch_threads')} torch thread(s), GPU: {hw.get('gpu')}, load average at start "
                     f"{_load(hw.get('load_average_1min'))}"),
        ("software", f"torch {hw.get('torch')}, Python {hw.get('python')}, {hw.get('platform')}"),
        ("started", info.started),
        ("wall time", wall),
        ("study folder", str(view.root)),
        ("preset settings", ", ".join(f"{k}={v}" for k, v in info.preset_config.items() if k != "description")),
    ]


def _budgets(info: StudyInfo) -> str:
    """How long runs train: fixed steps, and which groups stop early on validation (`train.patience`)."""
    early = {t.group: t.config.train.patience for t in info.tasks if t.config is not None and t.config.train.patience}
    if not early:
        return "training budgets are fixed steps (no early stopping)"
    groups = ", ".join(f"{group} (patience {patience})" for group, patience in sorted(early.items()))
    return (f"training budgets are fixed steps; these stop early once their validation objective has not improved "
            f"for `patience` epochs: {groups}")


def _load(value: object) -> str:
    """The 1-minute load average to two decimals ("unknown" where the platform has none)."""
    return f"{value:.2f}" if isinstance(value, (int, float)) else "unknown"
