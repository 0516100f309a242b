"""Sections 1-3 of the study report — the Gaussian base on toys, explicit mixtures, the dimension sweep.

Headings ask the question a section answers; method paragraphs describe what was run (read from
the preset and configs); results live in tables (mean ± sd, status), comparisons with 95 %
intervals, and pictures. Each table says in one sentence what its units are.
"""

from __future__ import annotations

from pathlib import Path

from gausslab.models.histogram import DEFAULT_LEVELS
from gausslab.plots import charts
from gausslab.plots.grids import save_png
from gausslab.report.data import Group, StudyView
from gausslab.report.doc import Block, Cell, Figure, FigureRow, Heading, Paragraph, Section, Table
from gausslab.report.tables import (Pair, comparison_table, empty, failures, figure_row, grid_row, merged,
                                    metric_table, SAMPLE_KEYS)
from gausslab.study.plan import TOY_TRIALS
from gausslab.study.record import FIGURES
from gausslab.study.status import MIN_HIGH_QUALITY

TITLES = {
    "s1-toys": "1. Can a Gaussian base pushed through a network fit multimodal data?",
    "s2-mixtures": "2. How well does a mixture of Gaussians approximate a density, and at what size?",
    "s3-dimension": "3. Do explicit densities become impractical as the dimension grows?",
}
TOY_KEYS = ["modes_captured", "high_quality", "reverse_kl", "test_nll"]
GRID_NAMES = {"real": "real test images", "samples": "samples", "recon": "test images (odd rows) and their "
              "reconstructions (even rows)", "interpolation": "test image a, decoded line from z(a) to z(b), image b"}
NLL_UNITS = ("Test NLL: nats per example on the same test points — exact for Gaussians and mixtures, the IWAE "
             "estimate for the VAE (an upper bound); the GAN has no density.")
COLLAPSE_WHY = (
    "Why a VAE collapses here: each mode is 0.01–0.05 wide, so a 2-D code would have to be very precise to help the "
    "decoder, while a Gaussian decoder with a learned variance can explain all modes at once as one broad blob at "
    "no KL cost. The optimiser takes that cheaper optimum and switches the code off (posterior collapse: rate ≈ 0, "
    "no active unit; Bowman et al. 2016, Chen et al. 2017). Its samples are then the decoder's one output for every "
    "z.")


def toys_section(view: StudyView) -> Section:
    """Section 1: the networks and one Gaussian on the 2-D toys: mode coverage, test NLL, pictures, comparisons."""
    groups = view.section("toys")
    if not groups:
        return empty("s1-toys", TITLES["s1-toys"])
    toys = list(dict.fromkeys(g.tags["toy"] for g in groups))
    blocks: list[Block] = [Paragraph(_toy_method(groups))]
    for toy in toys:
        mine = view.section("toys", toy=toy)
        blocks += [Heading(toy), *figure_row(mine, "pushforward"), *merged(figure_row(mine, "samples"))]
    rows = groups + [g for g in view.section("mixtures") if g.tags.get("toy") in toys]
    blocks.append(metric_table(rows, TOY_KEYS, "Mode coverage and test NLL on the toys (GMM: K chosen on validation).",
                               lead=(("data", lambda g: g.tags.get("toy", "")), ("model", _toy_label)),
                               notes=[f"Modes: of {_modes(rows)}; high quality: % of 2,500 samples within 3σ of a "
                                      "mode; reverse KL in nats over the mode histogram. " + NLL_UNITS]))
    if any(r.status.name == "posterior-collapse" for g in groups for r in g.runs):
        blocks.append(Paragraph(COLLAPSE_WHY))
    table = comparison_table([pair for toy in toys for pair in _toy_pairs(view, toy)],
                             "Does the network help? Each model against the Gaussian alone, and PacGAN2 / WGAN-GP "
                             "against the vanilla GAN.")
    return Section("s1-toys", TITLES["s1-toys"], blocks + ([table] if table else []) + failures(groups))


def _toy_method(groups: list[Group]) -> str:
    budgets = "; ".join(dict.fromkeys(f"{g.label}: {_budget(g)}" for g in groups))
    return ("Each network draws a 2-D code z ~ N(0, I) and maps it onto a multimodal 2-D toy (VAE: the decoder's mean; "
            "GAN: the generator). Beside them, one Gaussian fitted by EM is the base without a network. Mode coverage "
            "follows Unrolled-GAN / VEEGAN / PacGAN: a sample is high quality within 3σ of a mode, a mode is captured "
            "when it receives one, and the reverse KL compares the histogram over modes with the uniform one. "
            f"Budgets (steps are generator steps): {budgets}. They come from short trials: {TOY_TRIALS}. A network "
            f"is labelled mode-collapse when it captures fewer than half of the modes or puts under "
            f"{MIN_HIGH_QUALITY:g} % of its samples near a mode.")


def _budget(g: Group) -> str:
    config = g.runs[0].task.config
    if config is None:
        return ""
    model, steps = config.model, config.train.steps
    if model.kind == "gmm":
        return f"{steps} EM steps"
    width = "×".join(map(str, model.hidden or ()))
    extra = f", {model.n_critic} critic steps each" if getattr(model, "n_critic", 1) > 1 else ""
    return f"{steps} steps, MLP {width}{extra}"


def _modes(groups: list[Group]) -> str:
    return ", ".join(sorted({f"{g.tags['toy']}: {int(g.stat('n_modes').mean)}" for g in groups
                             if g.stat("n_modes").n}))


def _toy_label(g: Group) -> str:
    return "GMM (K chosen on validation)" if g.section == "mixtures" else g.label


def _toy_pairs(view: StudyView, toy: str) -> list[Pair]:
    group = {g.tags.get("model"): g for g in view.section("toys", toy=toy)}
    gaussian, gan = group.get("gaussian"), group.get("gan")
    pairs = [Pair(f"{toy}: {g.label} − one Gaussian", g, gaussian, "high_quality", +1)
             for name, g in group.items() if name != "gaussian" and gaussian is not None]
    pairs += [Pair(f"{toy}: {group[name].label} − GAN (pack 1)", group[name], gan, key, +1)
              for name in ("pacgan2", "wgan-gp") if name in group and gan is not None
              for key in ("modes_captured", "high_quality")]
    if "vae" in group and gaussian is not None:
        pairs.append(Pair(f"{toy}: VAE − one Gaussian", group["vae"], gaussian, "test_nll", -1, "test_nll"))
    return pairs


def mixtures_section(view: StudyView) -> Section:
    """Section 2: per data set, the GMM k-sweep (K chosen on validation), its pictures, and K chosen vs K = 1."""
    groups = view.section("mixtures")
    if not groups:
        return empty("s2-mixtures", TITLES["s2-mixtures"])
    blocks: list[Block] = []
    for g in groups:
        opts, data = g.runs[0].task.options, g.runs[0].task.data.name
        blocks += [Heading(data), Paragraph(
            f"Full-covariance Gaussian mixtures p(x) = Σ_k w_k N(x; μ_k, Σ_k) fitted by EM ({opts['steps']} "
            f"iterations, k-means++ start, covariance floor {opts['reg_covar']:g}) for K in {opts['ks']}. K is chosen "
            "by the validation log-likelihood (a split carved from the training examples; the test split is only "
            "scored); BIC on the training set is shown beside it.")]
        blocks.append(_ksweep_table(g, opts["ks"]))
        if g.finished:
            blocks.append(_ksweep_charts(view, g))
        blocks += grid_row([g], ("real", "samples"), GRID_NAMES) if _is_image(g) else figure_row([g], "samples")
        table = comparison_table([Pair(f"{data}: K chosen on validation − K = 1", g, g, "test_log_likelihood", +1,
                                       "test_log_likelihood", b_key="test_log_likelihood_k1")],
                                 "Does a mixture beat one Gaussian on held-out data?")
        blocks += [table] if table else []
    return Section("s2-mixtures", TITLES["s2-mixtures"], blocks + failures(groups))


def _is_image(g: Group) -> bool:
    return any(r.figure("real") for r in g.runs)


def _ksweep_table(g: Group, ks: list[int]) -> Table:
    keys = ["n_parameters", "valid_log_likelihood", "test_log_likelihood", "bic", "fit_seconds"]
    rows = [[Cell(str(k)), *(g.cell(f"{key}_k{k}") for key in keys)] for k in ks]
    chosen = [r.metrics.get("best_k") for r in g.ok_runs]
    bic = [min(ks, key=lambda k: r.metrics.get(f"bic_k{k}", float("inf"))) for r in g.ok_runs]
    headers = ["K", "parameters", "validation log-likelihood ↑", "test log-likelihood ↑", "BIC (train) ↓",
               "fit time (s)"]
    return Table(headers, rows, f"GMM k-sweep on {g.runs[0].task.data.name} ({g.status_cell().text}).",
                 notes=[f"K chosen on the validation split, per seed: {chosen}; BIC would choose {bic}. "
                        "Log-likelihoods in nats per example (a density of the data as given)."])


def dimension_section(view: StudyView) -> Section:
    """Section 3: explicit models, the VAE and the GAN at each dimension D, at one parameter budget."""
    groups = view.section("dimension")
    if not groups:
        return empty("s3-dimension", TITLES["s3-dimension"])
    dims = sorted({g.tags["dim"] for g in groups})
    blocks: list[Block] = [Paragraph(_dimension_text(view, dims))]
    blocks.append(metric_table(groups, ["n_parameters", "fit_seconds", "test_nll", "bits_per_dim", *SAMPLE_KEYS], "",
                               lead=(("D", lambda g: str(g.tags["dim"])), ("model", lambda g: g.label),
                                     ("size", _size)),
                               notes=[NLL_UNITS + " At a projected D all densities are of the same projected test "
                                      "vectors; at the data's own D of the same dequantized test images, bits/dim = "
                                      "NLL / (D ln 2) + log2(levels).", _early_stops(groups)]))
    drawn = _dimension_charts(view)
    if drawn:
        blocks.append(FigureRow([Figure(path, caption + _bars(view)) for path, caption in drawn]))
    table = comparison_table([pair for d in dims for pair in _dimension_pairs(view, d)],
                             "Explicit models and the GAN against the VAE at each D, at the same parameter budget "
                             "(the histograms beyond it).")
    return Section("s3-dimension", TITLES["s3-dimension"], blocks + ([table] if table else []) + failures(groups))


def _early_stops(groups: list[Group]) -> str:
    """Which runs with `train.patience` stopped before their last step, and where."""
    runs = [r for g in groups for r in g.runs if r.task.config is not None and r.task.config.train.patience]
    if not runs:
        return "No run stops early: every run trains its full budget."
    stopped = [f"{r.task.name} at step {r.metrics['steps']:,}" for r in runs
               if r.metrics.get("steps", r.task.config.train.steps) < r.task.config.train.steps]
    return (f"The {len(runs)} networks with a validation objective stop once it has not improved for "
            f"{runs[0].task.config.train.patience} epochs; "
            + (f"these stopped early: {', '.join(stopped)}." if stopped else "none stopped before its last step."))


def _dimension_text(view: StudyView, dims: list[int]) -> str:
    preset = view.info.preset_config
    return (
        f"The main data ({view.info.data}) is flattened and projected onto D random orthonormal directions "
        f"(D in {dims}), plus Gaussian noise with std {preset['dim_noise']:g} × the data's RMS per-dimension std so "
        "every model has a finite density; at the data's own dimension the models fit the data itself (images: "
        "dequantized pixels, scored in bits/dim of the discrete pixels). Every model gets the same parameter budget "
        f"of {preset['dim_budget']:,} for p(x): each GMM as many components as it pays for (full covariance "
        "K − 1 + K·D + K·D(D+1)/2 parameters, diagonal K − 1 + 2K·D; at most "
        f"{preset['dim_max_components']}, at least one — one full-covariance component at D = 784 costs 308,504, "
        "beyond the budget: its size column says so; a "
        "low-rank component of rank q costs D·q − q(q−1)/2 + 1 for its covariance), the VAE decoder, the GAN "
        "generator and the flow's coupling networks the widest two-layer MLP that fits. On pixels the mixtures have "
        f"the k-sweep's covariance floor ({preset['gmm_reg_covar']:g}) and each is also fitted in RealNVP's logit "
        "space, logit(0.05 + 0.9 x) with its Jacobian counted (Dinh et al. 2017); independent histograms per pixel, "
        "one bin per grey level (L − 1 free probabilities per pixel, beyond the budget), are the reference line: "
        "whatever a model scores beyond them comes from modelling how pixels depend on each other. Sample metrics "
        "use the projected vectors as features, and the domain features on pixels; VAE samples are decoder means "
        "(no observation noise), which lowers their recall on noisy data.")


# model tag compared with the VAE at each D -> the comparison's words; the metric is the key
_AGAINST_VAE = (("gmm", "GMM", "test_nll"), ("gmm-diag", "diagonal GMM", "test_nll"),
                ("gmm-lowrank", "low-rank GMM", "test_nll"), ("gmm-logit", "GMM in logit space", "test_nll"),
                ("gmm-diag-logit", "diagonal GMM in logit space", "test_nll"),
                ("gmm-lowrank-logit", "low-rank GMM in logit space", "test_nll"),
                ("histogram", "per-pixel histograms", "test_nll"), ("flow", "flow", "test_nll"),
                ("gmm", "GMM", "fid_domain"), ("gan", "GAN", "fid_domain"))


def _dimension_pairs(view: StudyView, d: int) -> list[Pair]:
    """Each model − the VAE at D = d (test NLL with its per-example bootstrap, FID), and the GAN's recall."""
    by_model = {g.tags["model"]: g for g in view.section("dimension", dim=d)}
    vae = by_model.get("vae")
    pairs = [Pair(f"D = {d}: {words} − VAE", by_model.get(tag), vae, key, -1, key if key == "test_nll" else None)
             for tag, words, key in _AGAINST_VAE]
    return pairs + [Pair(f"D = {d}: GAN − VAE", by_model.get("gan"), vae, "recall", +1)]


def _bars(view: StudyView) -> str:
    return f" (error bars: sample std over {view.info.seeds} seeds)" if view.info.seeds > 1 else ""


def _size(g: Group) -> str:
    model = g.runs[0].task.config.model
    if model.kind == "gmm":
        return f"K={model.components}" + (f", rank {model.rank}" if model.covariance == "lowrank" else "")
    if model.kind == "histogram":
        return f"{model.levels or DEFAULT_LEVELS} bins per pixel"
    return f"width {model.hidden[0]}" if model.hidden else "default width"


def save_chart(view: StudyView, fig, name: str) -> Path:
    """OUT/figures/<name>: a chart, redrawn on every report build from the runs' metrics.json."""
    path = view.root / FIGURES / name
    path.parent.mkdir(parents=True, exist_ok=True)
    save_png(fig, path)
    return path


def _ksweep_charts(view: StudyView, g: Group) -> FigureRow:
    """The k-sweep's held-out log-likelihoods and sizes vs K, over the seeds' finished runs."""
    ks, data = g.runs[0].task.options["ks"], g.runs[0].task.data.name
    fit, size = charts.ksweep_figures(ks, [g.stat(f"valid_log_likelihood_k{k}") for k in ks],
                                      [g.stat(f"test_log_likelihood_k{k}") for k in ks],
                                      g.stat("true_test_log_likelihood"), [g.stat(f"n_parameters_k{k}") for k in ks],
                                      data)
    return FigureRow([Figure(save_chart(view, fit, f"{g.name}-loglik.png"), f"held-out log-likelihood vs K on {data}"),
                      Figure(save_chart(view, size, f"{g.name}-size.png"), f"parameters vs K on {data}")])


# metrics.json key -> (y label, log y axis) of the dimension sweep's charts
DIMENSION_PANELS = (("n_parameters", "parameters of p(x)", True), ("fit_seconds", "fit time (s)", False),
                    ("test_nll", "test NLL / D (nats per dim.) ↓", False), ("recall", "recall ↑", False))


def _dimension_charts(view: StudyView) -> list[tuple[Path, str]]:
    """(chart, caption) per quantity of `DIMENSION_PANELS` that some finished run has, vs data dimension."""
    groups = [g for g in view.section("dimension") if g.finished]
    dims, out = sorted({g.tags["dim"] for g in groups}), []
    for key, ylabel, ylog in DIMENSION_PANELS:
        if not any(g.stat(key).n for g in groups):
            continue
        curves = {}
        for model in charts.MODEL_STYLE:
            mine = sorted((g for g in groups if g.tags.get("model") == model), key=lambda g: g.tags["dim"])
            curves[model] = ([g.tags["dim"] for g in mine], [g.stat(key) for g in mine])
        fig = charts.dimension_figure(curves, dims, ylabel, ylog, view.info.data, per_dimension=key == "test_nll")
        out.append((save_chart(view, fig, f"dimension-{key}.png"), f"{ylabel} vs data dimension D"))
    return out
