"""The report as a small document tree, rendered by report_html and report_markdown, plus number formatting.

Every number in a table is a `Cell` that names the runs and the metrics.json key it summarises,
so a reader (or a test) can trace it back: one run shows its value, several seeds `mean ± std`
(sample standard deviation, ddof = 1), rounded to what the spread supports (`study.stats`).
Figures say what they are: a `chart` (text drawn at `FONT_PX` or more) or an image `grid` (each
image `cell_px` pixels wide), so the page can show them at a size where both stay readable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

from gausslab.study.stats import decimals, format_mean_sd, round_to

FONT_PX = 11.1  # the smallest chart text: 8 pt at 100 dpi (gausslab.plots)


@dataclass
class Cell:
    """A table cell: its text, and for a metric the runs and metrics.json key it summarises."""

    text: str
    runs: tuple[str, ...] = ()  # run names whose metrics.json values this cell summarises
    key: str = ""  # the metrics.json key
    href: str = ""  # a link within the page (e.g. "#s4-priors")


@dataclass
class Table:
    """A table: header `columns`, rows of cells, a caption, notes (units, sizes) and warnings."""

    columns: list[str]
    rows: list[list[Cell]]
    caption: str = ""
    notes: list[str] = field(default_factory=list)  # units and sizes, shown under the table
    warnings: list[str] = field(default_factory=list)  # shown prominently (e.g. a metric on < 1,000 points)


@dataclass
class Figure:
    """A picture file: a `chart` (text at `FONT_PX` or more) or an image `grid` of `cell_px` pixels per image."""

    path: Path
    caption: str
    kind: Literal["chart", "grid"] = "chart"
    cell_px: int = 0  # grids: pixels per image in the PNG


@dataclass
class FigureRow:
    """Figures shown side by side."""

    figures: list[Figure]


@dataclass
class Paragraph:
    """A paragraph of plain text."""

    text: str


@dataclass
class Bullets:
    """A bulleted list of plain-text items."""

    items: list[str]


@dataclass
class Heading:
    """A sub-heading inside a section."""

    text: str


Block = Union[Table, FigureRow, Paragraph, Bullets, Heading]


@dataclass
class Section:
    """A report section: its anchor id, its title and its blocks."""

    id: str
    title: str
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Document:
    """The whole report: title, header rows (name, text), sections, the study folder, sections before the header."""

    title: str
    header: list[tuple[str, str]]
    sections: list[Section]
    root: Path  # the study folder (figure paths are shown relative to it in Markdown)
    opening: int = 0  # sections shown before the header (the verdicts)


@dataclass
class Stat:
    """A metric over the seeds of one group: mean and sample std of the finished runs that have it."""

    values: list[float]
    runs: tuple[str, ...]

    @property
    def n(self) -> int:
        """How many values (runs) the stat rests on."""
        return len(self.values)

    @property
    def mean(self) -> float | None:
        """The mean of the values; None when there are none."""
        return math.fsum(self.values) / self.n if self.values else None

    @property
    def std(self) -> float | None:
        """The sample standard deviation (ddof = 1); None with fewer than two values."""
        if self.n < 2:
            return None
        m = self.mean
        return math.sqrt(math.fsum((v - m) ** 2 for v in self.values) / (self.n - 1))


def stat(metrics: dict[str, dict[str, Any]], key: str) -> Stat:
    """`key` over the runs in `metrics` (run name -> its metrics) that recorded a number for it."""
    pairs = [(name, m[key]) for name, m in metrics.items() if _is_number(m.get(key))]
    return Stat([float(v) for _, v in pairs], tuple(name for name, _ in pairs))


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) or isinstance(v, bool)


def number(v: float) -> str:
    """3 significant digits; whole numbers in full with thousands separators."""
    if not math.isfinite(v):
        return str(v)
    if v == int(v) and abs(v) < 1e15:
        return f"{int(v):,}"
    text = round_to(v, decimals(None, v))
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_stat(s: Stat) -> str:
    """'—' (no value), '3.14' (one seed, or seeds that agree exactly: the runs column gives their number) or
    '3.1 ± 0.052' (several: the mean to what its sd supports)."""
    if s.n == 0:
        return "—"
    if s.n == 1:
        return number(s.mean)
    std = 0.0 if s.std < 1e-9 * max(1.0, abs(s.mean)) else s.std  # float round-off between equal seeds
    return number(s.mean) if std == 0.0 else format_mean_sd(s.mean, std)


def format_values(values: list[Any]) -> str:
    """The text a metric cell shows for these raw metrics.json values (what tests recompute)."""
    return format_stat(Stat([float(v) for v in values], ()))


def metric_cell(metrics: dict[str, dict[str, Any]], key: str) -> Cell:
    """The cell of `key` over `metrics` (run name -> its metrics), naming the runs it summarises."""
    s = stat(metrics, key)
    return Cell(format_stat(s), s.runs, key if s.n else "")
