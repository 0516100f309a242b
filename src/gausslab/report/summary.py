"""The last section: every model with sample metrics on the main data, ranked, and what was left out.

The ranking includes every such model — VAEs with each prior and the ex-post sampler, GANs, and
the Gaussian mixture whose K was chosen on validation — by the first of `RANK_KEYS` they all have,
on the mean over ok seeds. Ranks that the seed-to-seed spread cannot separate are marked.
"""

from __future__ import annotations

from gausslab.report.data import Group, StudyView
from gausslab.report.doc import Block, Bullets, Cell, Paragraph, Section, Table
from gausslab.report.priors import SAMPLE_UNITS
from gausslab.report.tables import HEADERS, few_points

SUMMARY_ID = "s7-summary"
TITLE = "7. Which model's samples are closest to the data?"
RANK_KEYS = ("fid_domain", "kid_domain", "recall")  # lower, lower, higher is better
HIGHER_IS_BETTER = {"recall"}
COLUMNS = ("n_real", "n_generated", "fid_domain", "kid_domain", "precision", "recall", "density", "coverage",
           "test_nll")


def ranked_groups(view: StudyView) -> list[Group]:
    """Every group on the main data with sample metrics: every VAE (ex-post sampler included), every GAN, the
    k-sweep's GMM, and the dimension sweep's models at the data's own D."""
    return [g for g in view.groups if g.runs[0].task.data.name == view.info.data
            and any(r.metrics.get("n_generated") for r in g.runs)]


def ranked_table(view: StudyView) -> Table | None:
    """Models with sample metrics on the main data, ranked by the first `RANK_KEYS` metric any recorded; else None."""
    groups = ranked_groups(view)
    key = next((k for k in RANK_KEYS if any(g.stat(k).n for g in groups)), None)
    if key is None:
        return None
    sign = -1 if key in HIGHER_IS_BETTER else 1
    order = sorted(groups, key=lambda g: (g.stat(key).n == 0, sign * (g.stat(key).mean or 0.0)))
    keys = [k for k in COLUMNS if any(g.stat(k).n for g in groups)]
    rows = [[Cell(str(i + 1) if g.stat(key).n else "—"), Cell(_label(g)), g.status_cell(), *(g.cell(k) for k in keys)]
            for i, g in enumerate(order)]
    table = Table(["rank", "model", "runs", *(HEADERS[k] for k in keys)], rows,
                  f"Models on {view.info.data}, ranked by the mean {HEADERS[key]} over ok seeds.",
                  notes=[SAMPLE_UNITS, "Test NLL mixes units here (a GMM's density vs a VAE's likelihood): see "
                         "sections 2 and 4 for like-for-like comparisons.", _ties(order, key)])
    table.warnings = few_points(groups, keys)
    return table


def _label(g: Group) -> str:
    """The group's label, with the section that sets its size where the label alone would not tell."""
    if g.section == "mixtures":
        return f"GMM (K chosen on validation, {g.runs[0].task.data.name})"
    if g.section == "dimension":  # small models at the sweep's parameter budget, beside the main ones
        return f"{g.label} (dimension sweep, D = {g.tags['dim']})"
    return g.label


def _ties(order: list[Group], key: str) -> str:
    """Which neighbouring ranks overlap within one standard deviation."""
    close = []
    for a, b in zip(order, order[1:]):
        sa, sb = a.stat(key), b.stat(key)
        if sa.n and sb.n and abs(sa.mean - sb.mean) <= (sa.std or 0) + (sb.std or 0):
            close.append(f"{_label(a)} / {_label(b)}")
    return ("Neighbours within one standard deviation of each other (their order is not reliable): "
            + "; ".join(close) + ".") if close else "No two neighbouring ranks lie within one standard deviation."


def summary_section(view: StudyView) -> Section:
    """Section 7: the ranked table, then the runs left out of every mean and verdict, with their statuses."""
    blocks: list[Block] = []
    table = ranked_table(view)
    blocks.append(table if table else Paragraph("No finished runs with sample metrics to rank yet."))
    left = [r for r in view.runs if not r.ok]
    if left:
        counts: dict[str, int] = {}
        for r in left:
            counts[r.status.name] = counts.get(r.status.name, 0) + 1
        blocks.append(Paragraph(f"{len(left)} of {len(view.runs)} runs are left out of every mean and verdict: "
                                + ", ".join(f"{n} {name}" for name, n in counts.items())
                                + ". Each section lists its own with the reason."))
        blocks.append(Bullets([f"{r.task.name}: {r.status.name}" for r in left]))
    return Section(SUMMARY_ID, TITLE, blocks)
