"""Sections 1-5 of the study report, one function per claim, built from the measured numbers on disk.

The method paragraphs describe what was run (read from the preset and configs); every result
statement lives in tables, pictures and the generated summary (`report.summary`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from gausslab.report.charts import dimension_chart, ksweep_chart
from gausslab.report.data import Group, StudyView
from gausslab.report.doc import Block, Bullets, Cell, Figure, FigureRow, Heading, Paragraph, Section, Table

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
    "n_parameters": "parameters of p(x)", "fit_seconds": "fit time (s)",
}
TITLES = {
    "s1-toys": "1. Simple base → complex data",
    "s2-mixtures": "2. Mixtures approximate densities — explicitly",
    "s3-dimension": "3. Why implicit models are needed",
    "s4-priors": "4. What the fixed N(0, I) prior costs",
    "s5-gans": "5. GANs on the same data",
}
LATENT_KEYS = ["test_nll", "bits_per_dim", "rate", "distortion", "active_units", "mutual_info", "marginal_kl",
               "prior_holes"]
SAMPLE_KEYS = ["precision", "recall", "density", "coverage", "fid_domain", "kid_domain"]
TOY_KEYS = ["modes_captured", "high_quality", "reverse_kl", "test_nll"]
DISENTANGLE_KEYS = ["mig", "dci_disentanglement", "dci_completeness", "dci_informativeness", "active_units",
                    "test_nll"]


def metric_table(groups: list[Group], keys: list[str], caption: str = "",
                 lead: tuple[tuple[str, Callable[[Group], str]], ...] = (("model", lambda g: g.label),)) -> Table:
    """One row per group: the `lead` text columns, finished/total runs, then each key that any group measured."""
    keys = [k for k in keys if any(g.stat(k).n for g in groups)]
    rows = [[*(Cell(text(g)) for _, text in lead), g.status_cell(), *(g.cell(k) for k in keys)] for g in groups]
    return Table([*(name for name, _ in lead), "runs", *(HEADERS.get(k, k) for k in keys)], rows, caption)


def figure_row(groups: Iterable[Group], kind: str, what: str = "") -> list[Block]:
    """The picture `kind` of each group (its first finished seed), captioned with the group's label or `what`."""
    figures = []
    for g in groups:
        found = g.figure(kind)
        if found:
            figures.append(Figure(found[0], f"{what or g.label} (seed {found[1]})"))
    return [FigureRow(figures)] if figures else []


def merged(rows: list[Block]) -> list[Block]:
    """Several figure rows as one row."""
    figures = [f for row in rows for f in row.figures]
    return [FigureRow(figures)] if figures else []


def failures(groups: Iterable[Group]) -> list[Block]:
    items = [f"{r.task.name} ({g.label}) failed: {r.error}" for g in groups for r in g.failed]
    return [Heading("Failed runs"), Bullets(items)] if items else []


def _empty(section_id: str, title: str) -> Section:
    return Section(section_id, title, [Paragraph("This study has no runs for this section.")])


def toys_section(view: StudyView) -> Section:
    groups = view.section("toys")
    if not groups:
        return _empty("s1-toys", TITLES["s1-toys"])
    toys = list(dict.fromkeys(g.tags["toy"] for g in groups))
    blocks: list[Block] = [Paragraph(
        "Each model draws its latent code from a 2-D standard normal base N(0, I) and maps it through a neural "
        "network (VAE decoder mean, GAN generator) onto a multimodal 2-D toy: "
        f"{', '.join(toys)}. The push-forward pictures show base points and where the network sends them; the "
        "sample pictures show 2,000 model samples over the true density. Mode coverage follows the Unrolled-GAN / "
        "VEEGAN / PacGAN protocol: a sample is high-quality when it lies within 3σ of a mode, a mode is captured "
        "when it receives high-quality samples, and the reverse KL compares the histogram of samples over modes "
        "with the uniform one.")]
    for toy in toys:
        mine = view.section("toys", toy=toy)
        blocks += [Heading(toy), *figure_row(mine, "pushforward"), *figure_row(mine, "samples")]
    rows = groups + [g for g in view.section("mixtures") if g.tags.get("toy") in toys]
    blocks.append(metric_table(rows, TOY_KEYS, "Mode coverage on the toys (GMM: the best K of the k-sweep).",
                               lead=(("data", lambda g: g.tags.get("toy", "")), ("model", _toy_label))))
    return Section("s1-toys", TITLES["s1-toys"], blocks + failures(groups))


def _toy_label(g: Group) -> str:
    return "GMM (best K)" if g.section == "mixtures" else g.label


def mixtures_section(view: StudyView) -> Section:
    groups = view.section("mixtures")
    if not groups:
        return _empty("s2-mixtures", TITLES["s2-mixtures"])
    blocks: list[Block] = []
    for g in groups:
        opts, data = g.runs[0].task.options, g.runs[0].task.data.name
        blocks += [Heading(data), Paragraph(
            f"Full-covariance Gaussian mixtures p(x) = Σ_k w_k N(x; μ_k, Σ_k) fitted by EM ({opts['steps']} "
            f"iterations, k-means++ start, covariance floor {opts['reg_covar']:g}) for K in {opts['ks']}. "
            "The test log-likelihood is exact; BIC is on the training set (lower is better).")]
        blocks.append(_ksweep_table(g, opts["ks"]))
        if g.finished:
            blocks.append(FigureRow([Figure(ksweep_chart(view, g), f"k-sweep on {data}{_bars(view)}")]))
        blocks += merged(figure_row([g], "data", f"test data ({data})") + figure_row([g], "best", "best GMM samples"))
    return Section("s2-mixtures", TITLES["s2-mixtures"], blocks + failures(groups))


def _ksweep_table(g: Group, ks: list[int]) -> Table:
    keys = ["n_parameters", "test_log_likelihood", "bic", "fit_seconds"]
    rows = [[Cell(str(k)), *(g.cell(f"{key}_k{k}") for key in keys)] for k in ks]
    headers = ["K", "parameters", "test log-likelihood (nats) ↑", "BIC (train) ↓", "fit time (s)"]
    return Table(headers, rows, f"GMM k-sweep on {g.runs[0].task.data.name} ({g.status_cell().text} seeds finished).")


def dimension_section(view: StudyView) -> Section:
    groups = view.section("dimension")
    if not groups:
        return _empty("s3-dimension", TITLES["s3-dimension"])
    preset = view.info.preset_config
    blocks: list[Block] = [Paragraph(
        f"The main data ({view.info.data}) is flattened and projected onto D random orthonormal directions "
        f"(D in {sorted({g.tags['dim'] for g in groups})}; at the full dimension this is a rotation), plus Gaussian "
        f"noise with std {preset['dim_noise']:g} × the data's RMS per-dimension std so every model has a finite "
        f"density. Every model gets the same parameter budget of {preset['dim_budget']:,} for p(x): the GMM as many "
        f"full-covariance components as it pays for (K − 1 + K·D + K·D(D+1)/2 parameters, at most "
        f"{preset['dim_max_components']}), the VAE decoder and the GAN generator the widest two-layer MLP that fits. "
        "Test NLL: exact for the GMM, IWAE estimate for the VAE; the GAN has no density. Sample metrics use the "
        "projected vectors as features; VAE samples are decoder means (no observation noise), which lowers their "
        "recall on noisy data.")]
    blocks.append(metric_table(groups, ["n_parameters", "fit_seconds", "test_nll", *SAMPLE_KEYS], "",
                               lead=(("D", lambda g: str(g.tags["dim"])), ("model", lambda g: g.label),
                                     ("size", _size))))
    chart = dimension_chart(view) if any(g.finished for g in groups) else None
    if chart:
        caption = f"parameters, fit time, NLL per dimension and recall vs D{_bars(view)}"
        blocks.append(FigureRow([Figure(chart, caption)]))
    return Section("s3-dimension", TITLES["s3-dimension"], blocks + failures(groups))


def _bars(view: StudyView) -> str:
    return f" (error bars: sample std over {view.info.seeds} seeds)" if view.info.seeds > 1 else ""


def _size(g: Group) -> str:
    model = g.runs[0].task.config.model
    if model.kind == "gmm":
        return f"K={model.components}"
    return f"width {model.hidden[0]}" if model.hidden else "default width"


PRIORS_TEXT = (
    "The same VAE (architecture, latent size, training budget) with four priors — N(0, I), a learnable mixture of "
    "Gaussians, the VampPrior (Tomczak & Welling 2018) and a RealNVP flow — and with N(0, I) trained on the k-sample "
    "importance-weighted bound instead of the ELBO (IWAE, Burda et al. 2016); plus the N(0, I) network sampled "
    "through an ex-post Gaussian mixture (Ghosh et al. 2020) or a second VAE (two-stage, Dai & Wipf 2019) fitted to "
    "its encoded training set (only sample metrics and the hole score of their draws are new, the network is the "
    "N(0, I) one). Test NLL is the IWAE estimate; rate = KL term, "
    "distortion = −E log p(x|z); I(x;z) + marginal KL = rate (Hoffman & Johnson 2016); prior holes = share of prior "
    "samples where the aggregate posterior is rare (about 0.01 when they match). FID, KID and "
    "precision/recall/density/coverage are computed in domain features (a small network trained on this data set), "
    "not Inception features: they are comparable within this report only."
)


def priors_section(view: StudyView) -> Section:
    groups, latent2, shapes = view.section("priors"), view.section("latent2d"), view.section("shapes")
    if not groups + latent2 + shapes:
        return _empty("s4-priors", TITLES["s4-priors"])
    blocks = [Paragraph(PRIORS_TEXT), metric_table(groups, LATENT_KEYS, "Likelihood and latent statistics."),
              metric_table(groups, SAMPLE_KEYS, "Sample quality (domain features)."), *figure_row(groups, "samples")]
    blocks += _latent2_blocks(latent2) + _shapes_blocks(shapes)
    return Section("s4-priors", TITLES["s4-priors"], blocks + failures(groups + latent2 + shapes))


def _latent2_blocks(groups: list[Group]) -> list[Block]:
    return [
        Heading("2-D latents: aggregate posterior vs prior"),
        Paragraph("The same comparison with a 2-D latent: encoded test means (coloured by label when known) over "
                  "the prior density. Regions of high prior density without codes are the prior's holes."),
        metric_table(groups, ["test_nll", "prior_holes", "marginal_kl"]),
        *figure_row(groups, "latent"),
    ]


def _shapes_blocks(groups: list[Group]) -> list[Block]:
    return [
        Heading("Interpretability on shapes"),
        Paragraph("VAEs on procedural dSprites-like shapes with known factors (shape, scale, rotation, x, y): "
                  "N(0, I) at β = 1 and β = 4 (Higgins et al. 2017) and the VampPrior. MIG (Chen et al. 2018) and "
                  "DCI (Eastwood & Williams 2018) score how the latent units line up with the factors."),
        metric_table(groups, DISENTANGLE_KEYS),
        *figure_row(groups, "traversal"),
    ]


def gans_section(view: StudyView) -> Section:
    gans = view.section("gans")
    if not gans:
        return _empty("s5-gans", TITLES["s5-gans"])
    reference = [g for g in (view.group("prior-standard"), view.group("prior-vamp")) if g]
    toy_gans = [g for g in view.section("toys") if g.tags.get("model", "").startswith("gan")]
    blocks: list[Block] = [
        Paragraph("GANs with the non-saturating loss (Goodfellow et al. 2014; spectral normalisation on the "
                  "discriminator, Miyato et al. 2018) and WGAN-GP (Gulrajani et al. 2017; 5 critic steps per "
                  "generator step) on the main data, with the same MLP widths as the VAEs; two VAEs for reference."),
        metric_table(gans + reference, SAMPLE_KEYS, "Sample quality (domain features)."),
        *figure_row(gans, "samples"),
        metric_table(toy_gans, TOY_KEYS[:3], "GAN mode coverage on the toys.",
                     lead=(("data", lambda g: g.tags["toy"]), ("model", lambda g: g.label))),
    ]
    return Section("s5-gans", TITLES["s5-gans"], blocks + failures(gans))


SECTIONS = (toys_section, mixtures_section, dimension_section, priors_section, gans_section)
