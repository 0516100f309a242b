"""Charts of measured numbers (k-sweep, dimension sweep, rate-distortion) as matplotlib figures.

Each value is a `Summary` over seeds (mean with the sample std as its error bar); the report
chooses the numbers and writes the PNGs (`report.sections`, `report.priors`). One chart per panel,
each at most `WIDTH` inches wide, so a page column shows its text at full size.
"""

from __future__ import annotations

from typing import Protocol

from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter, NullLocator

from gausslab.plots.grids import plt

# model tag of the dimension sweep -> (legend, colour, marker); a mixture in logit space shares its pixel twin's colour
MODEL_STYLE = {"gmm": ("GMM (full covariance)", "tab:blue", "o"), "gmm-diag": ("GMM (diagonal)", "tab:purple", "D"),
               "gmm-lowrank": ("GMM (low rank)", "tab:cyan", "v"), "gmm-logit": ("GMM (full, logit)", "tab:blue", "x"),
               "gmm-diag-logit": ("GMM (diagonal, logit)", "tab:purple", "x"),
               "gmm-lowrank-logit": ("GMM (low rank, logit)", "tab:cyan", "x"),
               "histogram": ("per-pixel histograms", "black", "*"), "flow": ("flow (RealNVP)", "tab:red", "P"),
               "vae": ("VAE", "tab:orange", "s"), "gan": ("GAN-ns", "tab:green", "^")}
WIDTH, HEIGHT = 4.4, 3.3  # inches at 100 dpi: ~440 px wide


class Summary(Protocol):
    """A number over seeds: how many values, their mean and sample std (None where there are too few)."""

    n: int
    mean: float | None
    std: float | None


def _errorbar(ax, xs: list[float], stats: list[Summary], scale: list[float] | None = None, **style) -> None:
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


def ksweep_figures(ks: list[int], valid: list[Summary], test: list[Summary], true: Summary, sizes: list[Summary],
                   data: str) -> tuple[Figure, Figure]:
    """Held-out log-likelihoods vs K (with the true density's own test score where known), and size vs K.

    valid, test, sizes: one summary per K; true: the true density's test log-likelihood (n = 0: unknown).
    """
    fit, ax = plt.subplots(figsize=(WIDTH, HEIGHT))
    _errorbar(ax, ks, valid, marker="s", color="tab:orange", label="validation (chooses K)")
    _errorbar(ax, ks, test, marker="o", color="tab:blue", label="test")
    if true.n:
        ax.axhline(true.mean, color="black", ls="--", lw=1, label="true density (test)")
    _log_axes(ax, ks, "components K", "log-likelihood (nats/example) ↑", ylog=False)
    ax.legend()
    ax.set_title(f"GMM k-sweep on {data}")
    fit.tight_layout()
    size, ax = plt.subplots(figsize=(WIDTH, HEIGHT))
    _errorbar(ax, ks, sizes, marker="o", color="tab:red")
    _log_axes(ax, ks, "components K", "parameters", ylog=True)
    ax.set_title(f"GMM size on {data} (full covariance)")
    size.tight_layout()
    return fit, size


def dimension_figure(curves: dict[str, tuple[list[int], list[Summary]]], dims: list[int], ylabel: str, ylog: bool,
                     data: str, per_dimension: bool = False) -> Figure:
    """One quantity vs data dimension, one line per model of `MODEL_STYLE`.

    curves: model tag -> (its dimensions, one summary each); dims: the x ticks; per_dimension: divide by D.
    """
    fig, ax = plt.subplots(figsize=(WIDTH, HEIGHT))
    for model, (label, color, marker) in MODEL_STYLE.items():
        xs, stats = curves.get(model, ([], []))
        scale = [1 / d for d in xs] if per_dimension else None
        _errorbar(ax, xs, stats, scale, label=label, color=color, marker=marker)
    _log_axes(ax, dims, "data dimension D", ylabel, ylog)
    ax.legend()
    ax.set_title(f"{ylabel.split(' (')[0].split(' ↓')[0].split(' ↑')[0]} vs D ({data})")
    fig.tight_layout()
    return fig


def rate_distortion_figure(lines: dict[str, list[tuple[float, Summary, Summary]]], data: str) -> Figure | None:
    """Distortion against rate, one line per prior through its beta values (Alemi et al. 2018, fig. 1).

    lines: label -> [(beta, rate, distortion)]; None when no point has both numbers.
    """
    fig, ax = plt.subplots(figsize=(WIDTH + 0.6, HEIGHT + 0.4))
    drawn = False
    for (label, points), color in zip(lines.items(), ("tab:blue", "tab:orange", "tab:green", "tab:red")):
        pts = [(r, d, beta) for beta, r, d in points if r.n and d.n]
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
    ax.set_title(f"Rate-distortion on {data}")
    fig.tight_layout()
    return fig
