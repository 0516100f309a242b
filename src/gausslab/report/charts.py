"""Charts drawn from the measured numbers (k-sweep, dimension sweep, rate-distortion), as PNG in OUT/figures/.

They are redrawn on every report build from the runs' metrics.json, so `gausslab report` alone
reproduces them. Error bars are the sample std over seeds (ok runs only). One chart per panel,
each at most `WIDTH` inches wide, so a page column shows its text at full size.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.ticker import NullFormatter, NullLocator

from gausslab.plots.grids import plt, save_png
from gausslab.report.data import Group, StudyView
from gausslab.report.doc import Stat
from gausslab.study.record import FIGURES

MODEL_STYLE = {"gmm": ("GMM (full covariance)", "tab:blue", "o"), "gmm-diag": ("GMM (diagonal)", "tab:purple", "D"),
               "vae": ("VAE", "tab:orange", "s"), "gan": ("GAN-ns", "tab:green", "^")}
WIDTH, HEIGHT = 4.4, 3.3  # inches at 100 dpi: ~440 px wide


def _errorbar(ax, xs: list[float], stats: list[Stat], scale: list[float] | None = None, **style) -> None:
    """Means with std error bars at xs, each multiplied by its `scale` (e.g. 1/D for per-dimension values)."""
    scale = scale or [1.0] * len(xs)
    pts = [(x, s.mean * c, (s.std or 0.0) * c) for x, s, c in zip(xs, stats, scale) if s.n]
    if pts:
        x, y, e = zip(*pts)
        ax.errorbar(x, y, yerr=e, capsize=3, markersize=5, **style)


def _log_axes(ax, xs: list[int], xlabel: str, ylabel: str, ylog: bool) -> None:
    """Log-2 x axis ticked at exactly `xs` with plain numbers; a log y axis without minor-tick clutter."""
    ax.set(xlabel=xlabel, ylabel=ylabel)
    ax.set_xscale("log", base=2)
    ax.set_xticks(xs, [str(x) for x in xs])
    ax.xaxis.set_minor_locator(NullLocator())
    if ylog:
        ax.set_yscale("log")
        ax.yaxis.set_minor_formatter(NullFormatter())
    ax.grid(alpha=0.3)


def ksweep_charts(view: StudyView, group: Group) -> list[tuple[Path, str]]:
    """Held-out log-likelihoods vs K (with the true density's own test score where known), and size vs K."""
    ks, data = group.runs[0].task.options["ks"], group.runs[0].task.data.name
    fig, ax = plt.subplots(figsize=(WIDTH, HEIGHT))
    _errorbar(ax, ks, [group.stat(f"valid_log_likelihood_k{k}") for k in ks], marker="s", color="tab:orange",
              label="validation (chooses K)")
    _errorbar(ax, ks, [group.stat(f"test_log_likelihood_k{k}") for k in ks], marker="o", color="tab:blue",
              label="test")
    true = group.stat("true_test_log_likelihood")
    if true.n:
        ax.axhline(true.mean, color="black", ls="--", lw=1, label="true density (test)")
    _log_axes(ax, ks, "components K", "log-likelihood (nats/example) ↑", ylog=False)
    ax.legend()
    ax.set_title(f"GMM k-sweep on {data}")
    fig.tight_layout()
    fit = _save(view, fig, f"{group.name}-loglik.png")
    fig, ax = plt.subplots(figsize=(WIDTH, HEIGHT))
    _errorbar(ax, ks, [group.stat(f"n_parameters_k{k}") for k in ks], marker="o", color="tab:red")
    _log_axes(ax, ks, "components K", "parameters", ylog=True)
    ax.set_title(f"GMM size on {data} (full covariance)")
    fig.tight_layout()
    return [(fit, f"held-out log-likelihood vs K on {data}"), (_save(view, fig, f"{group.name}-size.png"),
                                                              f"parameters vs K on {data}")]


DIMENSION_PANELS = (("n_parameters", "parameters of p(x)", True), ("fit_seconds", "fit time (s)", False),
                    ("test_nll", "test NLL / D (nats per dim.) ↓", False), ("recall", "recall ↑", False))


def dimension_charts(view: StudyView) -> list[tuple[Path, str]]:
    """One chart per quantity (parameters, fit time, test NLL per dimension, recall) vs data dimension."""
    groups = [g for g in view.section("dimension") if g.finished]
    out = []
    all_dims = sorted({g.tags["dim"] for g in groups})
    for key, ylabel, ylog in DIMENSION_PANELS:
        if not any(g.stat(key).n for g in groups):
            continue
        fig, ax = plt.subplots(figsize=(WIDTH, HEIGHT))
        for model, (label, color, marker) in MODEL_STYLE.items():
            mine = sorted((g for g in groups if g.tags.get("model") == model), key=lambda g: g.tags["dim"])
            dims = [g.tags["dim"] for g in mine]
            scale = [1 / d for d in dims] if key == "test_nll" else None
            _errorbar(ax, dims, [g.stat(key) for g in mine], scale, label=label, color=color, marker=marker)
        _log_axes(ax, all_dims, "data dimension D", ylabel, ylog)
        ax.legend()
        ax.set_title(f"{ylabel.split(' (')[0].split(' ↓')[0].split(' ↑')[0]} vs D ({view.info.data})")
        fig.tight_layout()
        out.append((_save(view, fig, f"dimension-{key}.png"), f"{ylabel} vs data dimension D"))
    return out


def rate_distortion_chart(view: StudyView, lines: dict[str, list[tuple[float, Group]]]) -> Path | None:
    """Distortion against rate, one line per prior through its beta values (Alemi et al. 2018, fig. 1)."""
    fig, ax = plt.subplots(figsize=(WIDTH + 0.6, HEIGHT + 0.4))
    drawn = False
    for (label, points), color in zip(lines.items(), ("tab:blue", "tab:orange", "tab:green", "tab:red")):
        pts = [(g.stat("rate"), g.stat("distortion"), beta) for beta, g in points]
        pts = [(r, d, beta) for r, d, beta in pts if r.n and d.n]
        if not pts:
            continue
        drawn = True
        ax.errorbar([r.mean for r, _, _ in pts], [d.mean for _, d, _ in pts], xerr=[r.std or 0 for r, _, _ in pts],
                    yerr=[d.std or 0 for _, d, _ in pts], marker="o", capsize=3, color=color, label=label)
        for r, d, beta in pts:
            ax.annotate(f"β={beta:g}", (r.mean, d.mean), textcoords="offset points", xytext=(4, 4), color=color)
    if not drawn:
        plt.close(fig)
        return None
    ax.set(xlabel="rate: KL term (nats/example)", ylabel="distortion: −E log p(x|z) (nats) ↓")
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(f"Rate-distortion on {view.info.data}")
    fig.tight_layout()
    return _save(view, fig, "rate-distortion.png")


def _save(view: StudyView, fig, name: str) -> Path:
    path = view.root / FIGURES / name
    path.parent.mkdir(parents=True, exist_ok=True)
    save_png(fig, path)
    return path
