"""Section 6: a ranked table and sentences generated from the measured numbers — never canned text.

Comparisons between two groups use the per-seed differences (same seed, same data split), shown as
mean ± sample std over the seeds both finished. When a remedy did not help, the sentence says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from gausslab.report.data import Group, StudyView
from gausslab.report.doc import Block, Bullets, Cell, Paragraph, Section, Stat, Table, format_stat, number
from gausslab.report.sections import HEADERS

RANK_KEYS = ("fid_domain", "test_nll")  # the first one measured on the main data ranks the models


def by_seed(g: Group, key: str) -> dict[int, float]:
    return {r.task.seed: float(r.metrics[key]) for r in g.runs
            if r.status == "finished" and isinstance(r.metrics.get(key), (int, float))}


def paired(a: Group, b: Group, key: str) -> Stat:
    """a − b per seed, over the seeds where both have `key`."""
    va, vb = by_seed(a, key), by_seed(b, key)
    seeds = sorted(va.keys() & vb.keys())
    return Stat([va[s] - vb[s] for s in seeds], ())


@dataclass(frozen=True)
class Measure:
    """A metric compared between two groups, and which direction is an improvement."""

    key: str
    what: str
    unit: str = ""
    higher_is_better: bool = False

    @property
    def verbs(self) -> tuple[str, str]:
        return ("raised", "did not raise") if self.higher_is_better else ("lowered", "did not lower")


PRIOR_MEASURES = (Measure("test_nll", "test NLL", "nats"), Measure("fid_domain", "FID (domain features)"),
                  Measure("prior_holes", "the prior-hole score"))
SHAPES_MEASURES = (Measure("mig", "MIG", higher_is_better=True),
                   Measure("dci_disentanglement", "DCI disentanglement", higher_is_better=True))


def clause(a: Group, base: Group, m: Measure) -> tuple[str, int] | None:
    """('lowered test NLL by 3.1 ± 0.4 nats', seeds) or ('did not lower FID (+1.2)', seeds); None without data."""
    d = paired(a, base, m.key)
    if d.n == 0:
        return None
    size = number(abs(d.mean)) + (f" ± {number(d.std)}" if d.n > 1 else "") + (f" {m.unit}" if m.unit else "")
    helped, missed = m.verbs
    if d.mean == 0:
        return f"left {m.what} unchanged", d.n
    if (d.mean > 0) == m.higher_is_better:
        spread = " — within the seed-to-seed spread" if d.std is not None and abs(d.mean) <= d.std else ""
        return f"{helped} {m.what} by {size}{spread}", d.n
    return f"{missed} {m.what} ({'+' if d.mean > 0 else '−'}{size})", d.n


def compare(a: Group, base: Group, measures: tuple[Measure, ...]) -> str | None:
    """'<a> vs <base> (seeds): clause; clause.' — every measure both groups have."""
    parts = [c for c in (clause(a, base, m) for m in measures) if c]
    if not parts:
        return None
    n = max(seeds for _, seeds in parts)
    seeds = "1 seed" if n == 1 else f"{n} seeds, mean ± std of the per-seed differences"
    return f"{a.label} vs {base.label} ({seeds}): {'; '.join(text for text, _ in parts)}."


def prior_sentences(view: StudyView) -> list[str]:
    base = view.group("prior-standard")
    if base is None:
        return []
    return [s for g in view.section("priors") if g is not base and (s := compare(g, base, PRIOR_MEASURES))]


def gan_sentences(view: StudyView) -> list[str]:
    """Precision and recall of each GAN next to the N(0, I) VAE's."""
    base = view.group("prior-standard")
    if base is None:
        return []
    out = []
    for g in view.section("gans"):
        parts = []
        for key in ("precision", "recall"):
            a, b = g.stat(key), base.stat(key)
            if a.n and b.n:
                rel = "higher" if a.mean > b.mean else "lower" if a.mean < b.mean else "equal"
                parts.append(f"{key} {format_stat(a)} vs {format_stat(b)} ({rel})")
        if parts:
            out.append(f"{g.label} vs {base.label}: {', '.join(parts)}.")
    return out


def toy_sentences(view: StudyView) -> list[str]:
    out = []
    for toy in dict.fromkeys(g.tags["toy"] for g in view.section("toys")):
        parts = [f"{g.label} {format_stat(g.stat('modes_captured'))}" for g in view.section("toys", toy=toy)
                 if g.stat("modes_captured").n]
        if parts:
            out.append(f"Modes captured on {toy}: {', '.join(parts)}.")
    return out


def mixture_sentences(view: StudyView) -> list[str]:
    out = []
    for g in view.section("mixtures"):
        ks = g.runs[0].task.options["ks"]
        lls = {k: g.stat(f"test_log_likelihood_k{k}") for k in ks}
        lls = {k: s for k, s in lls.items() if s.n}
        if not lls:
            continue
        best = max(lls, key=lambda k: lls[k].mean)
        params = g.stat(f"n_parameters_k{best}")
        text = (f"On {g.runs[0].task.data.name} the best GMM had K = {best} components (test log-likelihood "
                f"{format_stat(lls[best])} nats, {format_stat(params)} parameters)")
        top = max(lls)
        if top != best:
            text += (f"; more components did not help: K = {top} reached {format_stat(lls[top])} nats with "
                     f"{format_stat(g.stat(f'n_parameters_k{top}'))} parameters")
        out.append(text + ".")
    return out


def dimension_sentences(view: StudyView) -> list[str]:
    groups = view.section("dimension")
    gmms = sorted((g for g in groups if g.tags.get("model") == "gmm"), key=lambda g: g.tags["dim"])
    out = []
    if len(gmms) > 1:
        (d_lo, k_lo), (d, k_hi) = ((g.tags["dim"], g.runs[0].task.config.model.components) for g in (gmms[0], gmms[-1]))
        out.append(f"With {view.info.preset_config['dim_budget']:,} parameters the GMM affords K = {k_lo} "
                   f"full-covariance components at D = {d_lo} (each costs {_component_cost(d_lo):,} parameters) and "
                   f"K = {k_hi} at D = {d} (each {_component_cost(d):,}); K is capped at "
                   f"{view.info.preset_config['dim_max_components']}.")
    pairs = []
    for gmm in gmms:
        vae = next(iter(view.section("dimension", dim=gmm.tags["dim"], model="vae")), None)
        if vae is not None and gmm.stat("test_nll").n and vae.stat("test_nll").n:
            pairs.append((gmm.tags["dim"], gmm.stat("test_nll"), vae.stat("test_nll")))
    if pairs:
        listed = "; ".join(f"D = {d}: {format_stat(a)} vs {format_stat(b)}" for d, a, b in pairs)
        better = [d for d, a, b in pairs if a.mean < b.mean]
        verdict = ("the GMM was better at every D" if len(better) == len(pairs) else
                   "the VAE was better at every D" if not better else
                   f"the GMM was better at D = {', '.join(map(str, better))} only")
        out.append(f"Test NLL (nats), GMM vs VAE at the same budget — {listed}: {verdict} on this data.")
    return out


def _component_cost(d: int) -> int:
    """Weight, mean and full covariance of one D-dimensional Gaussian component."""
    return 1 + d + d * (d + 1) // 2


def shapes_sentences(view: StudyView) -> list[str]:
    base = view.group("shapes-beta1")
    if base is None:
        return []
    return [s for g in view.section("shapes") if g is not base and (s := compare(g, base, SHAPES_MEASURES))]


def ranked_table(view: StudyView) -> Table | None:
    groups = view.section("priors") + view.section("gans")
    key = next((k for k in RANK_KEYS if any(g.stat(k).n for g in groups)), None)
    if key is None:
        return None
    order = sorted(groups, key=lambda g: (g.stat(key).n == 0, g.stat(key).mean or 0.0))
    keys = [k for k in ("fid_domain", "precision", "recall", "test_nll") if any(g.stat(k).n for g in groups)]
    rows = [[Cell(str(i + 1) if g.stat(key).n else "—"), Cell(g.label), g.status_cell(), *(g.cell(k) for k in keys)]
            for i, g in enumerate(order)]
    return Table(["rank", "model", "runs", *(HEADERS[k] for k in keys)], rows,
                 f"Models on {view.info.data}, ranked by {HEADERS[key]}.")


SENTENCES = (prior_sentences, gan_sentences, toy_sentences, mixture_sentences, dimension_sentences,
             shapes_sentences)


def summary_section(view: StudyView) -> Section:
    blocks: list[Block] = []
    table = ranked_table(view)
    if table:
        blocks.append(table)
    sentences = [s for build in SENTENCES for s in build(view)]
    failed = [r.task.name for r in view.runs if r.status == "failed"]
    if failed:
        sentences.append(f"{len(failed)} run(s) failed and are left out of every number above: {', '.join(failed)}.")
    blocks.append(Bullets(sentences) if sentences else Paragraph("No finished runs to summarise yet."))
    return Section("s6-summary", "6. Summary", blocks)
