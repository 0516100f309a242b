"""Sections 4-6 of the study report: what the fixed N(0, I) prior costs, rate-distortion, GANs vs VAEs.

Every remedy is compared with the N(0, I) VAE of the same seed; every GAN with it too. Pictures
show real test images beside each sample grid, and for VAEs their reconstructions and latent
interpolations.
"""

from __future__ import annotations

from gausslab.plots.charts import rate_distortion_figure
from gausslab.report.data import Group, StudyView
from gausslab.report.doc import Block, Figure, FigureRow, Heading, Paragraph, Section
from gausslab.report.sections import GRID_NAMES, save_chart
from gausslab.report.tables import (SAMPLE_KEYS, Pair, comparison_table, empty, failures, figure_row, grid_row,
                                    metric_table)
from gausslab.study.plan import PRIOR_LABELS, RD_PRIORS

TITLES = {
    "s4-priors": "4. What does the fixed N(0, I) prior cost a VAE?",
    "s5-ratedistortion": "5. How much information does each prior let the code carry?",
    "s6-gans": "6. How do GANs compare with VAEs on the same data?",
}
LATENT_KEYS = ["test_nll", "rate", "distortion", "active_units", "mutual_info", "marginal_kl", "prior_holes",
               "hole_draws"]
DISENTANGLE_KEYS = ["mig", "dci_disentanglement", "dci_completeness", "dci_informativeness", "active_units"]
SAMPLE_UNITS = ("FID, KID and precision/recall/density/coverage are computed in domain features (a small network "
                "trained on this data set), not Inception features: comparable within this report only. The "
                "reference set is the test split (images no model was trained on), n (real) below; the samples are "
                "n (generated) draws of each model.")
PRIORS_TEXT = (
    "The same VAE (architecture, latent size, training budget) with four priors — N(0, I), a learnable mixture of "
    "Gaussians, the VampPrior (Tomczak & Welling 2018) and a RealNVP flow — and with N(0, I) trained on the k-sample "
    "importance-weighted bound instead of the ELBO (IWAE, Burda et al. 2016); plus the N(0, I) network sampled "
    "through an ex-post Gaussian mixture (Ghosh et al. 2020) or a second VAE (two-stage, Dai & Wipf 2019) fitted to "
    "its encoded training set (only sample metrics and the hole score of their draws are new, the network is the "
    "N(0, I) one; they inherit that run's status). Rate = KL "
    "term, distortion = −E log p(x|z); I(x;z) + marginal KL = rate (Hoffman & Johnson 2016); prior holes = share of "
    "prior draws where the aggregate posterior is rare (about 0.01 when they match). Active units: Var_x E[z_u|x] "
    "above 0.01 × the prior's own variance of unit u.")
PRIOR_PAIRS = (("test_nll", -1, "test_nll"), ("distortion", -1, None), ("prior_holes", -1, "prior_holes"),
               ("fid_domain", -1, None), ("precision", +1, None), ("recall", +1, None))


def nll_note(groups: list[Group]) -> str:
    """The sentence that says what the NLL column of these groups is measured in."""
    units = {r.metrics.get("nll_unit") for g in groups for r in g.ok_runs if "test_nll" in r.metrics}
    if units == {"bernoulli"}:
        return ("Test NLL: the IWAE estimate (nats per image) of a Bernoulli likelihood of the binarized test images — "
                "comparable between these VAEs only; it scores other data than a density of the grey levels does, "
                "so it is never compared with a GMM's.")
    return ("Test NLL: nats per example (IWAE estimate for VAEs, exact for mixtures), on dequantized grey levels "
            "for images (bits/dim = NLL / (D ln 2) + log2(levels)); other columns in nats.")


def priors_section(view: StudyView) -> Section:
    """Section 4: each prior and remedy against the N(0, I) VAE, the 2-D-latent VAEs and the shapes study."""
    groups, latent2, shapes = view.section("priors"), view.section("latent2d"), view.section("shapes")
    if not groups + latent2 + shapes:
        return empty("s4-priors", TITLES["s4-priors"])
    base = view.group("prior-standard")
    pairs = [Pair(f"{g.label} − N(0, I)", g, base, key, direction, example)
             for g in groups if g is not base for key, direction, example in PRIOR_PAIRS]
    pairs.append(Pair("N(0, I): share of draws in holes − 0.01", base, None, "prior_holes", +1, "prior_holes",
                      reference=0.01))
    blocks: list[Block] = [
        Paragraph(PRIORS_TEXT),
        metric_table(groups, LATENT_KEYS, "Likelihood and latent statistics.", notes=[nll_note(groups)]),
        metric_table(groups, SAMPLE_KEYS, "Sample quality (domain features).", notes=[SAMPLE_UNITS]),
    ]
    table = comparison_table([p for p in pairs if p.b is not None or p.reference is not None],
                             "Each remedy against the N(0, I) VAE of the same seed (last row: are there holes?).")
    blocks += [table] if table else []
    blocks += [Heading("Samples beside real test images"), *grid_row(groups, ("real", "samples"), GRID_NAMES),
               Heading("Reconstructions and latent interpolations"),
               *grid_row(groups, ("recon", "interpolation"), GRID_NAMES)]
    blocks += _latent2_blocks(latent2) + _shapes_blocks(shapes)
    return Section("s4-priors", TITLES["s4-priors"], blocks + failures(groups + latent2 + shapes))


def _latent2_blocks(groups: list[Group]) -> list[Block]:
    if not groups:
        return []
    return [
        Heading("2-D latents: aggregate posterior vs prior"),
        Paragraph("The same comparison with a 2-D latent: encoded test means (coloured by label when known) over "
                  "the prior density. Regions of high prior density without codes are the prior's holes."),
        metric_table(groups, ["test_nll", "prior_holes", "marginal_kl"], notes=[nll_note(groups)]),
        *figure_row(groups, "latent"),
    ]


def _shapes_blocks(groups: list[Group]) -> list[Block]:
    if not groups:
        return []
    by = {g.tags.get("variant"): g for g in groups}
    pairs = [Pair(f"{by[v].label} − β = 1", by[v], by.get("beta1"), key, +1)
             for v in ("beta4", "vamp") if v in by for key in ("mig", "dci_disentanglement")]
    table = comparison_table([p for p in pairs if p.b is not None], "Disentanglement against the β = 1 VAE.")
    return [
        Heading("Interpretability on shapes"),
        Paragraph("VAEs on procedural dSprites-like shapes with known factors (shape, scale, rotation, x, y): "
                  "N(0, I) at β = 1 and β = 4 (Higgins et al. 2017) and the VampPrior. MIG (Chen et al. 2018) and "
                  "DCI (Eastwood & Williams 2018) score how the latent units line up with the factors (0 to 1)."),
        metric_table(groups, DISENTANGLE_KEYS),
        *([table] if table else []),
        *grid_row(groups, ("real", "samples"), GRID_NAMES), *figure_row(groups, "traversal"),
    ]


def rate_distortion_section(view: StudyView) -> Section:
    """Section 5: the β sweep of each prior in the rate-distortion plane (Alemi et al. 2018), β = 1 from section 4."""
    sweep = view.section("ratedistortion")
    if not sweep:
        return empty("s5-ratedistortion", TITLES["s5-ratedistortion"])
    lines: dict[str, list[tuple[float, Group]]] = {}
    for prior in RD_PRIORS:
        points = [(g.tags["beta"], g) for g in view.section("ratedistortion", prior=prior)]
        if (middle := view.group(f"prior-{prior}")) is not None:
            points.append((1.0, middle))
        lines[PRIOR_LABELS[prior]] = sorted(points, key=lambda p: p[0])
    groups = [g for points in lines.values() for _, g in points]
    blocks: list[Block] = [
        Paragraph("The N(0, I) and VampPrior VAEs trained with KL weight β (the ELBO with β × KL; Higgins et al. "
                  "2017), drawn in the rate-distortion plane (Alemi et al. 2018, 'Fixing a broken ELBO'): rate = the "
                  "KL term in nats, what the code carries; distortion = −E log p(x|z), what it fails to carry. A "
                  "prior that lets the code carry more at the same β sits further right and lower. β = 1 points are "
                  "the runs of section 4."),
        metric_table(groups, ["rate", "distortion", "test_nll", "active_units"],
                     lead=(("prior", lambda g: PRIOR_LABELS[g.tags["prior"]]),
                           ("β", lambda g: f"{g.tags.get('beta', 1.0):g}")), notes=[nll_note(groups)]),
    ]
    fig = rate_distortion_figure({label: [(beta, g.stat("rate"), g.stat("distortion")) for beta, g in points]
                                  for label, points in lines.items()}, view.info.data)
    if fig is not None:
        chart = save_chart(view, fig, "rate-distortion.png")
        blocks.append(FigureRow([Figure(chart, "distortion against rate; bars: sample std over seeds")]))
    return Section("s5-ratedistortion", TITLES["s5-ratedistortion"], blocks + failures(sweep))


def gans_section(view: StudyView) -> Section:
    """Section 6: sample quality of the GANs on the main data beside the N(0, I) and VampPrior VAEs."""
    gans = view.section("gans")
    if not gans:
        return empty("s6-gans", TITLES["s6-gans"])
    vae = view.group("prior-standard")
    reference = [g for g in (vae, view.group("prior-vamp")) if g]
    pairs = [Pair(f"{g.label} − VAE (N(0, I))", g, vae, key, direction)
             for g in gans for key, direction in (("fid_domain", -1), ("precision", +1), ("recall", +1))]
    table = comparison_table([p for p in pairs if p.b is not None], "Each GAN against the N(0, I) VAE of the same seed.")
    blocks: list[Block] = [
        Paragraph("GANs with the non-saturating loss (Goodfellow et al. 2014; spectral normalisation on the "
                  "discriminator, Miyato et al. 2018) and WGAN-GP (Gulrajani et al. 2017; 5 critic steps per "
                  "generator step) on the main data, with the same MLP widths as the VAEs; two VAEs for reference."),
        metric_table(gans + reference, SAMPLE_KEYS, "Sample quality (domain features).", notes=[SAMPLE_UNITS]),
        *([table] if table else []),
        *grid_row(gans, ("real", "samples"), GRID_NAMES),
    ]
    return Section("s6-gans", TITLES["s6-gans"], blocks + failures(gans))
