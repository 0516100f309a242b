"""Comparisons with 95 % intervals, and the verdict of every claim: the first table of the report.

`compare` pairs two sides by seed, using only runs whose status is ok, and returns the across-seed
t interval and, when both sides kept per-example values, the bootstrap over test examples
(`study.stats`). `verdicts` applies the verdict rule to every claim of `claims.CLAIMS`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from gausslab.report.claims import CLAIMS, Claim, Side
from gausslab.report.data import Group, StudyView
from gausslab.report.doc import Cell, Paragraph, Section, Table
from gausslab.study.record import RunResult
from gausslab.study.stats import (INCONCLUSIVE, VERDICT_RULE, Interval, bootstrap_interval, format_interval,
                                  per_example_difference, seed_interval, verdict)

VERDICTS_ID = "s0-verdicts"


@dataclass
class Comparison:
    """a − b (or a − reference), paired by seed over the ok runs of both sides."""

    seeds: Interval
    examples: Interval | None  # the bootstrap over test examples, when both sides kept per-example values
    left_out: list[RunResult]  # runs of either side that are not ok

    @property
    def left_out_reason(self) -> str:
        """The left-out runs counted by status, e.g. '1 failed, 2 not-converged'."""
        counts = Counter(r.status.name for r in self.left_out)
        return ", ".join(f"{n} {name}" for name, n in counts.items())


def compare(a: Group, a_key: str, b: Group | None, b_key: str, *, reference: float = 0.0,
            a_example: str | None = None, b_example: str | None = None) -> Comparison:
    """The paired comparison of `a_key` in group a with `b_key` in group b (or with `reference`)."""
    runs_a = a.by_seed(a_key)
    runs_b = b.by_seed(b_key) if b is not None else {}
    seeds = sorted(runs_a.keys() & runs_b.keys()) if b is not None else sorted(runs_a)
    base = [float(runs_b[s].metrics[b_key]) for s in seeds] if b is not None else [reference] * len(seeds)
    differences = [float(runs_a[s].metrics[a_key]) - v for s, v in zip(seeds, base)]
    left_out = list({r.task.name: r for g in (a, b) if g is not None for r in g.left_out}.values())
    examples = None
    if a_example is not None and (b is None or b_example is not None):
        examples = _bootstrap([runs_a[s] for s in seeds], a_example,
                              [runs_b[s] for s in seeds] if b is not None else None, b_example, reference)
    return Comparison(seed_interval(differences), examples, left_out)


def _bootstrap(runs_a: list[RunResult], key_a: str, runs_b: list[RunResult] | None, key_b: str | None,
               reference: float) -> Interval | None:
    arrays_a = [r.per_example.get(key_a) for r in runs_a]
    arrays_b = [r.per_example.get(key_b) for r in runs_b] if runs_b is not None else []
    arrays = arrays_a + arrays_b
    if not arrays_a or any(x is None for x in arrays) or len({len(x) for x in arrays}) != 1:
        return None  # per-example values missing, or on different examples: no paired bootstrap
    return bootstrap_interval(per_example_difference(arrays_a, arrays_b if runs_b is not None else None, reference))


@dataclass
class Verdict:
    """A claim's verdict and the comparison behind it; `missing` says why the claim could not be measured."""

    id: str
    claim: Claim
    verdict: str
    comparison: Comparison | None  # None: a side of the claim is not part of this study
    missing: str = ""

    def to_json(self) -> dict[str, Any]:
        """The verdict's entry in metrics.json: claim, effect, intervals, seeds, runs left out, predicted sign."""
        c = self.comparison
        seeds = c.seeds if c is not None else Interval(None, None, None, 0, self.missing)
        examples = c.examples if c is not None else None
        reason = c.left_out_reason if c is not None else ""
        return {
            "id": self.id, "claim": self.claim.claim, "measurement": self.claim.measurement, "verdict": self.verdict,
            "effect": seeds.effect, "ci_low": seeds.low, "ci_high": seeds.high, "n_seeds": seeds.n,
            "bootstrap_ci_low": examples.low if examples else None,
            "bootstrap_ci_high": examples.high if examples else None,
            "n_examples": examples.n if examples else None,
            "n_left_out": len(c.left_out) if c is not None else 0, "left_out_reason": reason,
            "predicted_sign": self.claim.direction, "unit": self.claim.unit, "section": self.claim.section,
            "note": self.missing or seeds.reason,
        }


def judge(claim_id: str, claim: Claim, view: StudyView) -> Verdict:
    """The verdict on one claim by `compare` and the verdict rule; inconclusive when the study lacks a side's group."""
    a = claim.a.group(view)
    b = claim.b.group(view) if claim.b is not None else None
    if a is None or (claim.b is not None and b is None):
        return Verdict(claim_id, claim, INCONCLUSIVE, None, "not measured: this study has no runs for it")
    c = compare(a, claim.a.key, b, _key(claim.b), reference=claim.reference, a_example=claim.a.example_key,
                b_example=claim.b.example_key if claim.b is not None else None)
    return Verdict(claim_id, claim, verdict(claim.direction, c.seeds, c.examples), c)


def _key(side: Side | None) -> str:
    return side.key if side is not None else ""


def verdicts(view: StudyView) -> list[Verdict]:
    """The verdict on every claim of `CLAIMS`, in order."""
    return [judge(claim_id, claim, view) for claim_id, claim in CLAIMS.items()]


def verdicts_section(view: StudyView, titles: dict[str, str], found: list[Verdict]) -> Section:
    """The report's first section: each claim's effect, intervals, seeds, runs left out, verdict, section."""
    rows = []
    for v in found:
        c = v.comparison
        rows.append([
            Cell(v.claim.claim), Cell(v.claim.measurement + (f" ({v.claim.unit})" if v.claim.unit else "")),
            Cell(format_interval(c.seeds) if c else "—"),
            Cell(format_interval(c.examples) if c and c.examples else "—"),
            Cell(str(c.seeds.n) if c else "0"),
            Cell(f"{len(c.left_out)} ({c.left_out_reason})" if c and c.left_out else "0"),
            Cell(v.verdict),
            Cell(f"§{titles.get(v.claim.section, v.claim.section).split('.')[0]}", href=f"#{v.claim.section}"),
        ])
    table = Table(["claim", "measurement (a − b)", "effect [95 % interval over seeds]",
                   "[95 % bootstrap over test examples]", "seeds", "runs left out", "verdict", "section"], rows,
                  "The paper's claims (arXiv:2503.01898) and what this study's data say.",
                  notes=[f"Verdict rule: {VERDICT_RULE}",
                         "Effects are a − b per seed, averaged; numbers are rounded to what their interval supports."])
    return Section(VERDICTS_ID, "Which of the paper's claims hold on this data?",
                   [table, *(Paragraph(f"{v.claim.claim}: {v.missing}.") for v in found if v.missing)])
