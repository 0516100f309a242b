"""Charts drawn from the measured numbers (k-sweep, dimension sweep), written to OUT/figures/ as PNG.

They are redrawn on every report build from the runs' metrics.json, so `gausslab report` alone
reproduces them. Error bars are the sample std over seeds.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.ticker import NullFormatter, NullLocator

from gausslab.plots.grids import plt, save_png
from gausslab.report.data import Group, StudyView
from gausslab.report.doc import Stat
from gausslab.study.record import FIGURES

MODEL_STYLE = {"gmm": ("GMM (full covariance)", "tab:blue", "o"), "vae": ("VAE", "tab:orange", "s"),
               "gan": ("GAN-ns", "tab:green", "^")}


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


def ksweep_chart(view: StudyView, group: Group) -> Path:
    """Test log-likelihood and parameter count vs K for one k-sweep group."""
    ks = group.runs[0].task.options["ks"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(8.4, 3.4))
    _errorbar(left, ks, [group.stat(f"test_log_likelihood_k{k}") for k in ks], marker="o", color="tab:blue")
    _log_axes(left, ks, "components K", "test log-likelihood (nats per example) ↑", ylog=False)
    _errorbar(right, ks, [group.stat(f"n_parameters_k{k}") for k in ks], marker="o", color="tab:red")
    _log_axes(right, ks, "components K", "parameters", ylog=True)
    fig.suptitle(f"GMM k-sweep on {group.runs[0].task.data.name} (full covariance)", fontsize=10)
    fig.tight_layout()
    return _save(view, fig, f"{group.name}.png")


def dimension_chart(view: StudyView) -> Path | None:
    """Parameters, fit time, test NLL per dimension and recall vs data dimension, one line per model."""
    groups = view.section("dimension")
    if not groups:
        return None
    panels = [("n_parameters", "parameters of p(x)", True), ("fit_seconds", "fit time (s)", False),
              ("test_nll", "test NLL / D (nats per dimension) ↓", False), ("recall", "recall ↑", False)]
    panels = [p for p in panels if any(g.stat(p[0]).n for g in groups)]
    all_dims = sorted({g.tags["dim"] for g in groups})
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.4), squeeze=False)
    for ax, (key, ylabel, ylog) in zip(axes[0], panels):
        for model, (label, color, marker) in MODEL_STYLE.items():
            mine = sorted((g for g in groups if g.tags.get("model") == model), key=lambda g: g.tags["dim"])
            dims = [g.tags["dim"] for g in mine]
            scale = [1 / d for d in dims] if key == "test_nll" else None
            _errorbar(ax, dims, [g.stat(key) for g in mine], scale, label=label, color=color, marker=marker)
        _log_axes(ax, all_dims, "data dimension D", ylabel, ylog)
    axes[0][0].legend(fontsize=8)
    fig.suptitle(f"Explicit vs implicit models as the dimension grows ({view.info.data}, random projections)",
                 fontsize=10)
    fig.tight_layout()
    return _save(view, fig, "dimension.png")


def _save(view: StudyView, fig, name: str) -> Path:
    path = view.root / FIGURES / name
    path.parent.mkdir(parents=True, exist_ok=True)
    save_png(fig, path)
    return path
