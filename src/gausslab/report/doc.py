"""The report as a small document tree, rendered by report_html and report_markdown, plus number formatting.

Every number in a table is a `Cell` that names the runs and the metrics.json key it summarises,
so a reader (or a test) can trace it back: one run shows its value, several seeds `mean ± std`
(sample standard deviation, ddof = 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union


@dataclass
class Cell:
    text: str
    runs: tuple[str, ...] = ()  # run names whose metrics.json values this cell summarises
    key: str = ""  # the metrics.json key


@dataclass
class Table:
    columns: list[str]
    rows: list[list[Cell]]
    caption: str = ""


@dataclass
class Figure:
    path: Path
    caption: str


@dataclass
class FigureRow:
    figures: list[Figure]


@dataclass
class Paragraph:
    text: str


@dataclass
class Bullets:
    items: list[str]


@dataclass
class Heading:
    text: str


Block = Union[Table, FigureRow, Paragraph, Bullets, Heading]


@dataclass
class Section:
    id: str
    title: str
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Document:
    title: str
    header: list[tuple[str, str]]
    sections: list[Section]
    root: Path  # the study folder (figure paths are shown relative to it in Markdown)


@dataclass
class Stat:
    """A metric over the seeds of one group: mean and sample std of the finished runs that have it."""

    values: list[float]
    runs: tuple[str, ...]

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float | None:
        return math.fsum(self.values) / self.n if self.values else None

    @property
    def std(self) -> float | None:
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
    """4 significant digits; whole numbers in full with thousands separators."""
    if not math.isfinite(v):
        return str(v)
    if v == int(v) and abs(v) < 1e15:
        return f"{int(v):,}"
    if abs(v) >= 1000:
        return f"{v:,.1f}"
    return f"{v:.4g}"


def format_stat(s: Stat) -> str:
    """'—' (no value), '3.142' (one seed) or '3.142 ± 0.05' (several)."""
    if s.n == 0:
        return "—"
    if s.n == 1:
        return number(s.mean)
    std = 0.0 if s.std < 1e-9 * max(1.0, abs(s.mean)) else s.std  # float round-off between equal seeds
    return f"{number(s.mean)} ± {number(std)}"


def format_values(values: list[Any]) -> str:
    """The text a metric cell shows for these raw metrics.json values (what tests recompute)."""
    return format_stat(Stat([float(v) for v in values], ()))


def metric_cell(metrics: dict[str, dict[str, Any]], key: str) -> Cell:
    s = stat(metrics, key)
    return Cell(format_stat(s), s.runs, key if s.n else "")
