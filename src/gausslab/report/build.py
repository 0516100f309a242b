"""The study report: `build_report(study_dir)` reads everything from disk and writes report.html / report.md.

It never trains or evaluates: the numbers come from the runs' metrics.json, the pictures from their
PNG files, and the charts are redrawn from those numbers. So `gausslab report DIR` rebuilds a
report from a study folder alone, and a rerun of the study ends by calling it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gausslab.report import html as report_html
from gausslab.report import markdown as report_markdown
from gausslab.core.fileio import atomic_write_text
from gausslab.report.data import StudyView, load_view
from gausslab.report.doc import Document
from gausslab.report.sections import SECTIONS
from gausslab.report.summary import summary_section
from gausslab.study.record import METRICS_JSON, collect_metrics

HTML, MARKDOWN = "report.html", "report.md"


@dataclass
class ReportFiles:
    html: Path
    markdown: Path
    metrics: Path


def build_report(study_dir: str | Path) -> ReportFiles:
    """Write report.html, report.md and metrics.json (all runs × all metrics) for the study in `study_dir`."""
    root = Path(study_dir)
    view = load_view(root)
    collect_metrics(root, view.info)
    doc = build_document(view)
    atomic_write_text(root / HTML, report_html.render(doc))
    atomic_write_text(root / MARKDOWN, report_markdown.render(doc))
    return ReportFiles(root / HTML, root / MARKDOWN, root / METRICS_JSON)


def build_document(view: StudyView) -> Document:
    sections = [build(view) for build in SECTIONS] + [summary_section(view)]
    return Document(f"gausslab study: {view.info.data}", header(view), sections, view.root)


def header(view: StudyView) -> list[tuple[str, str]]:
    info, hw = view.info, view.info.hardware
    statuses = [r.status for r in view.runs]
    counts = ", ".join(f"{statuses.count(s)} {s}" for s in ("finished", "failed", "pending") if statuses.count(s))
    wall = "—"
    if info.wall_s:
        wall = f"{info.wall_s:.1f} s ({info.wall_s / 60:.1f} min): training and evaluation in the last study call"
    return [
        ("gausslab version", info.gausslab_version),
        ("data", info.data),
        ("preset", f"{info.preset}: {info.preset_config.get('description', '')}"),
        ("overrides", " ".join(f"--set {o}" for o in info.overrides) or "none"),
        ("seeds", f"{info.seeds} (numbers are mean ± sample std over seeds when > 1)"),
        ("runs", counts),
        ("hardware", f"{hw.get('cpu')}, {hw.get('cores')} cores ({hw.get('torch_threads')} torch threads), "
                     f"GPU: {hw.get('gpu')}, load average at start {hw.get('load_average_1min')}"),
        ("software", f"torch {hw.get('torch')}, Python {hw.get('python')}, {hw.get('platform')}"),
        ("started", info.started),
        ("wall time", wall),
        ("study folder", str(view.root)),
        ("preset settings", ", ".join(f"{k}={v}" for k, v in info.preset_config.items() if k != "description")),
    ]
