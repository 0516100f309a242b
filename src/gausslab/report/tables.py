"""Building blocks of the report's sections: metric tables, comparison tables, picture rows, failures.

Every metric table shows mean ± sd over the ok seeds with the run count and status of each row;
every sample-metric table shows n (real) and n (generated), and warns when a metric rests on fewer
than `FEW_POINTS` points. Every comparison is a − b with its 95 % intervals (`report.verdicts`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from gausslab.plots.grids import grid_cell_px
from gausslab.report.data import Group
from gausslab.report.doc import Block, Bullets, Cell, Figure, FigureRow, Heading, Paragraph, Section, Table
from gausslab.report.verdicts import compare
from gausslab.study.stats import CONTRADICTED, INCONCLUSIVE, SUPPORTED, format_interval, verdict

FEW_POINTS = 1000
# metrics.json key -> column header (arrows: which direction is better)
HEADERS = {
    "test_nll": "test NLL (nats) ↓", "bits_per_dim": "bits/dim ↓", "rate": "rate (nats)",
    "distortion": "distortion (nats) ↓", "active_units": "active units", "mutual_info": "I(x;z) (nats)",
    "marginal_kl": "marginal KL (nats) ↓", "prior_holes": "prior holes ↓", "precision": "precision ↑",
    "recall": "recall ↑", "density": "density ↑", "coverage": "coverage ↑",
    "fid_domain": "FID (domain features) ↓", "kid_domain": "KID (domain features) ↓",
    "modes_captured": "modes captured ↑", "high_quality": "high-quality samples (%) ↑",
    "reverse_kl": "reverse KL (modes) ↓", "mig": "MIG ↑", "dci_disentanglement": "DCI disentanglement ↑",
    "dci_completeness": "DCI completeness ↑", "dci_informativeness": "DCI informativeness ↑",
    "n_parameters": "parameters of p(x)", "fit_seconds": "fit time (s)", "n_real": "n (real)",
    "n_generated": "n (generated)", "hole_draws": "prior draws", "best_k": "K (chosen on validation)",
}
SAMPLE_KEYS = ["n_real", "n_generated", "precision", "recall", "density", "coverage", "fid_domain", "kid_domain"]
Lead = tuple[tuple[str, Callable[[Group], str]], ...]
MODEL = (("model", lambda g: g.label),)


def metric_table(groups: list[Group], keys: list[str], caption: str = "", lead: Lead = MODEL,
                 notes: Iterable[str] = ()) -> Table:
    """One row per group: the `lead` text columns, runs ok / total with the others' statuses, then each key
    that any group measured (mean ± sd over the ok seeds)."""
    keys = [k for k in keys if any(g.stat(k).n for g in groups)]
    rows = [[*(Cell(text(g)) for _, text in lead), g.status_cell(), *(g.cell(k) for k in keys)] for g in groups]
    table = Table([*(name for name, _ in lead), "runs", *(HEADERS.get(k, k) for k in keys)], rows, caption,
                  notes=list(notes))
    table.warnings = few_points(groups, keys)
    return table


def few_points(groups: list[Group], keys: list[str]) -> list[str]:
    """A warning for each sample size below FEW_POINTS that a column of this table rests on."""
    out = []
    for size, what in (("n_real", "real (test) examples"), ("n_generated", "generated samples"),
                       ("hole_draws", "prior draws")):
        small = sorted({int(g.stat(size).mean) for g in groups if g.stat(size).n and g.stat(size).mean < FEW_POINTS})
        if small and (size in keys or size == "n_real" and any(k in keys for k in SAMPLE_KEYS)):
            out.append(f"Only {', '.join(map(str, small))} {what} (fewer than {FEW_POINTS:,}): the metrics on them "
                       f"move in steps of 1/{small[0]} and vary more from set to set.")
    return out


@dataclass(frozen=True)
class Pair:
    """One comparison row: group a against group b (or against `reference` when b is None) on `key`."""

    label: str
    a: Group | None
    b: Group | None
    key: str
    direction: int = 0  # the sign of a − b when a is the better one (for the "a better" column); 0: none
    example_key: str | None = None
    reference: float | None = None
    b_key: str | None = None  # b's metrics.json key when it differs from a's

    @property
    def complete(self) -> bool:
        """Whether the row can be computed: a is there, and b or a reference."""
        return self.a is not None and (self.b is not None or self.reference is not None)


def comparison_table(pairs: list[Pair], caption: str) -> Table | None:
    """a − b with its 95 % interval over seeds and over test examples, seeds used, runs left out."""
    rows = []
    for p in (p for p in pairs if p.complete):
        b_example = p.example_key if p.b_key is None else p.b_key
        c = compare(p.a, p.key, p.b, p.b_key or p.key, reference=p.reference or 0.0, a_example=p.example_key,
                    b_example=b_example if p.example_key else None)
        if c.seeds.effect is None:
            continue
        which = verdict(p.direction, c.seeds, c.examples) if p.direction else "—"
        rows.append([Cell(p.label), Cell(HEADERS.get(p.key, p.key)), Cell(format_interval(c.seeds)),
                     Cell(format_interval(c.examples) if c.examples else "—"), Cell(str(c.seeds.n)),
                     Cell(f"{len(c.left_out)} ({c.left_out_reason})" if c.left_out else "0"),
                     Cell(WHICH_WAY.get(which, which))])
    if not rows:
        return None
    return Table(["comparison (a − b)", "metric", "a − b [95 % interval over seeds]",
                  "[95 % bootstrap over test examples]", "seeds", "runs left out", "a better than b?"], rows,
                 caption, notes=["Paired by seed (same data split, same seed); only runs with status ok."])


WHICH_WAY = {SUPPORTED: "yes", CONTRADICTED: "no, worse", INCONCLUSIVE: "cannot tell"}


def figure_row(groups: Iterable[Group], kind: str, what: str = "") -> list[Block]:
    """The picture `kind` of each group (its first ok seed), captioned with the group's label or `what`."""
    figures = []
    for g in groups:
        found = g.figure(kind)
        if found:
            figures.append(Figure(found[0], f"{what or g.label} (seed {found[1]})"))
    return [FigureRow(figures)] if figures else []


def grid_row(groups: Iterable[Group], kinds: tuple[str, ...], names: dict[str, str]) -> list[Block]:
    """Image grids of each group side by side: e.g. real test images beside the model's samples."""
    out: list[Block] = []
    for g in groups:
        figures = [Figure(found[0], f"{names.get(kind, kind)}: {g.label} (seed {found[1]})", "grid",
                          grid_cell_px(found[0])) for kind in kinds if (found := g.figure(kind))]
        if figures:
            out.append(FigureRow(figures))
    return out


def merged(rows: list[Block]) -> list[Block]:
    """Several figure rows as one row."""
    figures = [f for row in rows for f in row.figures]
    return [FigureRow(figures)] if figures else []


def failures(groups: Iterable[Group]) -> list[Block]:
    """The runs left out of this section's numbers, with their status and why."""
    items = [f"{r.task.name} ({g.label}): {r.status.name} — {r.status.reason}" for g in groups for r in g.left_out
             if r.status.name != "pending"]
    return [Heading("Runs left out of the numbers"), Bullets(items)] if items else []


def empty(section_id: str, title: str) -> Section:
    """The section `section_id` with one paragraph saying the study has no runs for it."""
    return Section(section_id, title, [Paragraph("This study has no runs for this section.")])
