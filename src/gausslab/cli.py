"""The `gausslab` command: thin typer commands that parse, call the library and print.

Bad input (any GausslabError) prints one line on stderr and exits with 2; Ctrl-C (SIGINT) or
SIGTERM during training stops at the next step boundary with a checkpoint and exits with 130 / 143.
The library (torch, matplotlib, scikit-learn) is imported inside the commands, so `gausslab --help`,
`--version` and completion stay fast.
"""

from __future__ import annotations

import json
import math
import os
import signal
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from typer.core import TyperCommand, TyperGroup

from gausslab.core.errors import ConfigError, GausslabError, Interrupted, brief
from gausslab.training import interrupt
from gausslab.version import __version__

# How to continue after an interruption, by command.
CONTINUE = {"train": "continue with --resume", "study": "rerun the same command to continue"}
PNG_MAX = 100_000  # samples a picture can show; more go to a .npy
NPY_CHUNK_BYTES = 64 << 20  # samples drawn and written per chunk of a large .npy


class _Group(TyperGroup):
    """Turns a GausslabError into one line on stderr and exit code 2; SIGINT/SIGTERM into one line and 130/143."""

    def invoke(self, ctx):
        try:
            result = super().invoke(ctx)
            sys.stdout.flush()  # a reader that quit early shows here, not as noise at interpreter exit
            return result
        except BrokenPipeError:  # `gausslab datasets | head -2`: stop quietly with SIGPIPE's status, as Unix tools do
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(128 + signal.SIGPIPE) from None
        except (Interrupted, KeyboardInterrupt) as err:  # outside training, every file written so far is whole
            hint = CONTINUE.get(ctx.invoked_subcommand)
            text = str(err) if isinstance(err, Interrupted) else "interrupted"
            typer.echo(f"gausslab: {text}" + (f"; {hint}" if hint else ""), err=True)
            raise typer.Exit(128 + getattr(err, "signum", signal.SIGINT)) from None
        except GausslabError as err:
            typer.echo(f"gausslab: error: {err}", err=True)
            raise typer.Exit(2) from None
        except OSError as err:  # unwritable, full or vanished locations the user pointed us to
            where = f" {str(err.filename)!r}" if err.filename else ""
            typer.echo(f"gausslab: error: cannot use{where}: {err.strerror or err}", err=True)
            raise typer.Exit(2) from None


class _RegistryHelp(TyperCommand):
    """`--help` of a command taking MODEL ends with the model kinds and data sets, read from their
    registries only when the help is asked for."""

    def format_help(self, ctx, formatter):
        from gausslab.models import MODEL_CONFIGS
        from gausslab.data import DATASETS

        self.epilog = (f"Model kinds: {', '.join(MODEL_CONFIGS)}.\n\nData sets: {', '.join(DATASETS)}, or a path "
                       f"(IDX, .npz, .npy, a folder of images, CSV).\n\nEvery setting --set can change, with its "
                       f"default: gausslab config MODEL.")
        super().format_help(ctx, formatter)


def _model_kinds(incomplete: str) -> list[str]:
    """Shell completion of MODEL."""
    from gausslab.models import MODEL_CONFIGS

    return [kind for kind in MODEL_CONFIGS if kind.startswith(incomplete)]


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"gausslab {__version__}")
        raise typer.Exit()


app = typer.Typer(cls=_Group, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Train, sample and evaluate generative models on Gaussian bases, and measure what the base costs.")


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Train, sample and evaluate generative models on Gaussian bases, and measure what the base costs."""


Sets = Annotated[Optional[list[str]], typer.Option("--set", help="Override a setting: section.key=value (repeatable).")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or progress lines.")]
Model = Annotated[str, typer.Argument(help="Model kind (listed below).", autocompletion=_model_kinds)]
Force = Annotated[bool, typer.Option(help="Write into a non-empty folder that is not gausslab's (its files are kept: "
                                          "a file the command would replace is still refused).")]


def _progress(quiet: bool) -> bool | None:
    return False if quiet else None  # None: a bar on a terminal, a progress line per log step elsewhere


@app.command()
def datasets() -> None:
    """List the built-in data sets with their shapes."""
    from gausslab.data.registry import describe

    for name, shape, kind, text in describe():
        typer.echo(f"{name:<13} {kind:<7} {str(list(shape)):<12} {text}")


@app.command(cls=_RegistryHelp)
def train(
    model: Model,
    out: Annotated[Path, typer.Option(help="Run folder to write.")],
    data: Annotated[Optional[str], typer.Option(help="Built-in data set name (listed below) or a path.")] = None,
    config: Annotated[Optional[Path], typer.Option(help="YAML run config (gausslab config MODEL prints one).")] = None,
    set_: Sets = None,
    resume: Annotated[bool, typer.Option(help="Continue the run in --out from its checkpoint.")] = False,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Train a model and write a run folder (config, weights, log, samples)."""
    from gausslab.data import load_from_config
    from gausslab.models import build_model
    from gausslab.training.loop import fit

    run_config = _run_config(model, data, config, set_ or [])
    ds = load_from_config(run_config.data)
    net = build_model(run_config.model, ds, seed=run_config.train.seed)
    result = fit(net, ds, run_config.train, out, resume=resume, progress=_progress(quiet), config=run_config,
                 force=force)
    patience = run_config.train.patience
    early = f" (stopped early: no better validation objective for {patience} epochs)" if result.stopped_early else ""
    typer.echo(f"trained {model} on {ds.name} for {result.steps} steps{early} ({result.wall_s:.1f} s); "
               f"run folder: {out}")


@app.command(name="config", cls=_RegistryHelp)
def print_config(
    model: Model,
    data: Annotated[Optional[str], typer.Option(help="Built-in data set name or a path.")] = None,
    set_: Sets = None,
) -> None:
    """Print the full run config of MODEL as YAML (defaults, or with --data/--set applied): every key --set
    can change, and a file --config accepts."""
    from gausslab.core.config_yaml import to_yaml

    header = (f"gausslab {__version__} run config for `gausslab train {model}`; pass it with --config FILE,\n"
              f"change any key here or with --set section.key=value.")
    typer.echo(to_yaml(_run_config(model, data, None, set_ or []), header), nl=False)


def _run_config(model: str, data: str | None, config: Path | None, sets: list[str]):
    """The resolved RunConfig of `train MODEL` / `config MODEL`: YAML file, then --data, then --set."""
    from gausslab.core.config import load_yaml
    from gausslab.core.errors import lookup
    from gausslab.models import MODEL_CONFIGS
    from gausslab.training.run_config import check_sections, resolve

    lookup(MODEL_CONFIGS, "model", model)
    raw = load_yaml(config) if config else {}
    check_sections(raw)  # before reading model.kind from it
    if (raw.get("model") or {}).get("kind", model) != model:
        raise ConfigError(f"--config says model.kind={brief(raw['model']['kind'])} but the command trains {model!r}")
    return resolve(raw, sets, model={"kind": model}, data={"name": data} if data is not None else {})


@app.command()
def sample(
    run: Annotated[Path, typer.Argument(help="Run folder.")],
    out: Annotated[Path, typer.Option(help="samples.png (picture) or samples.npy (array).")],
    n: Annotated[int, typer.Option(help="Number of samples.")] = 64,
    seed: int = 0,
    sampler: Annotated[str, typer.Option(help="VAE latents from: the prior, expost (a GMM on the aggregate posterior "
                                              "of the run's training data, Ghosh et al. 2020) or two-stage (a second "
                                              "VAE on it, Dai & Wipf 2019); fitted once, kept in RUN/samplers/.")
                       ] = "prior",
    k: Annotated[int, typer.Option(help="Mixture components of the expost sampler.")] = 10,
) -> None:
    """Draw samples from a trained model."""
    import torch

    from gausslab.core.config import SEED_MAX, SEED_MIN
    from gausslab.core.errors import lookup
    from gausslab.core.resources import check_disk
    from gausslab.plots.grids import samples_figure, save_png
    from gausslab.samplers import SAMPLERS
    from gausslab.training import checkpoint as ckpt

    if n <= 0:
        raise ConfigError(f"--n must be a positive number of samples, got {n}")
    if k <= 0:
        raise ConfigError(f"--k must be a positive number of mixture components, got {k}")
    if not SEED_MIN <= seed < SEED_MAX:
        raise ConfigError(f"--seed {seed} must lie between {SEED_MIN} and {SEED_MAX - 1}")
    suffix = out.suffix.lower()
    if suffix not in (".png", ".npy"):
        raise ConfigError(f"--out {str(out)!r} must end in .png or .npy")
    if suffix == ".png" and n > PNG_MAX:
        raise ConfigError(f"--n {n} is more than a picture shows (at most {PNG_MAX:,} samples in a .png); "
                          "write a .npy for more")
    lookup(SAMPLERS, "sampler", sampler)  # an unknown name fails before anything is loaded
    model, info = ckpt.load(run), ckpt.read_run_info(run)
    if suffix == ".npy":
        check_disk(out.parent, n * math.prod(info.shape) * 4, f"--n {n} samples of shape {list(info.shape)}")
    # `prior` is every model's own sample(); other samplers fit to the run's training data once, then load.
    latents = {} if sampler == "prior" else {"sampler": _saved_sampler(run, sampler, model, info, k)}
    generator = torch.Generator().manual_seed(seed)
    with torch.inference_mode():
        if suffix == ".npy":
            _write_npy(model, n, info.shape, generator, latents, out)
        else:
            x = model.sample(n, generator=generator, **latents)
            save_png(samples_figure(x, None, f"{info.config.model.kind} samples"), out)
    typer.echo(f"wrote {n} samples to {out}")


def _saved_sampler(run: Path, name: str, model, info, k: int):
    """The run's latent sampler `name`, fitted to its training data once, with --k no larger than that data."""
    from gausslab.data import load_from_config
    from gausslab.samplers import SAMPLERS, saved

    data = load_from_config(info.config.data)
    if "k" in SAMPLERS[name].options and k > len(data.train):
        raise ConfigError(f"--k {k} exceeds the {len(data.train)} training examples the sampler is fitted to; "
                          f"use at most {len(data.train)}")
    return saved.for_run(run, name, model, data, k=k)


def _write_npy(model, n: int, shape: tuple[int, ...], generator, latents, out: Path) -> None:
    """n samples [n, *shape] float32 as a .npy, drawn and written in chunks so memory stays bounded.

    One chunk (and the same draws as a single `sample(n)`) up to NPY_CHUNK_BYTES of samples.
    """
    import numpy as np

    from gausslab.core.fileio import atomic_writer

    chunk = max(1, NPY_CHUNK_BYTES // (4 * math.prod(shape)))
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)), "fortran_order": False,
              "shape": (n, *shape)}
    with atomic_writer(out) as f:
        np.lib.format.write_array_header_1_0(f, header)
        for start in range(0, n, chunk):
            x = model.sample(min(chunk, n - start), generator=generator, **latents)
            f.write(np.ascontiguousarray(x.float().numpy()).tobytes())


@app.command()
def evaluate(
    run: Annotated[Path, typer.Argument(help="Run folder.")],
    data: Annotated[Optional[str], typer.Option(help="Evaluate on this data set's test split instead.")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Where to write metrics (default RUN/metrics.json).")] = None,
    k: Annotated[int, typer.Option(help="Importance samples for the IWAE NLL.")] = 1000,
    metrics: Annotated[Optional[str], typer.Option(help="Comma-separated subset of metrics.")] = None,
    n_generated: Annotated[int, typer.Option(help="Model samples drawn for the sample metrics.")] = 2000,
    features: Annotated[str, typer.Option(
        help="Feature space of FID/KID/precision/recall: domain (a network trained on the data set), or "
             "inception (comparable with published numbers; needs --features-weights).")] = "domain",
    features_weights: Annotated[Optional[Path], typer.Option(
        help="Weights of the feature network, never downloaded: Inception-v3's (.pth or .safetensors) for "
             "--features inception, or a safetensors file of the domain network.")] = None,
    force: Annotated[bool, typer.Option(help="Let --out replace a file that is not a gausslab metrics file.")] = False,
) -> None:
    """Compute every metric that applies to the model and data; write metrics.json."""
    from gausslab.core.fileio import atomic_write_json
    from gausslab.data import load_from_config
    from gausslab.evaluation.evaluate import METRICS
    from gausslab.evaluation.evaluate import evaluate as evaluate_model
    from gausslab.training import checkpoint as ckpt
    from gausslab.training.run_config import resolve

    if k <= 0:
        raise ConfigError(f"--k must be a positive number of importance samples, got {k}")
    chosen = [m.strip() for m in metrics.split(",") if m.strip()] if metrics is not None else None
    if chosen == []:
        raise ConfigError(f"--metrics {brief(metrics)} names no metric; choose from: {', '.join(METRICS)}")
    target = out or run / "metrics.json"
    if out is not None and not force:
        _check_replaceable(out)
    info = ckpt.read_run_info(run)
    config = info.config if data is None else resolve(info.config.model_dump(), [f"data.name={data}"])
    ds = load_from_config(config.data)
    if ds.shape != info.shape:
        raise ConfigError(f"data {ds.name!r} has shape {list(ds.shape)} but the model was trained on {list(info.shape)}")
    model = ckpt.load(run)
    result = evaluate_model(model, ds, metrics=chosen, k=k, cache_dir=run, features=features,
                            feature_weights=features_weights, n_generated=n_generated).to_dict()
    atomic_write_json(target, result)
    typer.echo(json.dumps(result, indent=2))


def _check_replaceable(path: Path) -> None:
    """Refuse to replace an existing file unless it is a metrics file gausslab wrote."""
    if not path.exists():
        return
    try:
        ours = "gausslab_version" in json.loads(path.read_text())
    except (OSError, ValueError, TypeError):
        ours = False
    if not ours:
        raise ConfigError(f"--out {str(path)!r} exists and is not a gausslab metrics file; pass --force to "
                          "replace it")


@app.command()
def study(
    out: Annotated[Path, typer.Option(help="Study folder (rerun it to resume; finished runs are skipped).")],
    data: Annotated[Optional[str], typer.Option(
        help="Built-in data set name or a path (IDX, npz, image folder, CSV); default: the preset's "
             "(mnist5k for standard, digits for quick).")] = None,
    preset: Annotated[str, typer.Option(help="Budgets: quick, standard or full.")] = "standard",
    seeds: Annotated[Optional[int], typer.Option(
        help="Seeds per model (default: the preset's, 3 for standard); tables show mean ± sd over them and "
             "verdicts 95 % intervals.")] = None,
    workers: Annotated[Optional[int], typer.Option(
        help="Runs side by side in separate processes (default: one per core); the numbers do not depend on it.")]
    = None,
    set_: Annotated[Optional[list[str]], typer.Option(
        "--set", help="study.<field>=v (preset budgets) or train.k=v / model.k=v / data.k=v (every run).")] = None,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Train and evaluate every model of the study, then write report.html, report.md and metrics.json."""
    from gausslab.report.build import build_report
    from gausslab.study.driver import run_study

    result = run_study(out, data=data, preset=preset, seeds=seeds, overrides=set_ or [], quiet=quiet,
                       workers=workers, force=force)
    c = result.counts
    typer.echo(f"study done in {result.wall_s:.1f} s; runs: {c['finished']} finished, {c['skipped']} skipped "
               f"(done before), {c['failed']} failed")
    typer.echo(f"report: {build_report(result.out).html}")


@app.command()
def report(study_dir: Annotated[Path, typer.Argument(help="Study folder written by `gausslab study`.")]) -> None:
    """Rebuild report.html, report.md and metrics.json from a study folder (no training)."""
    from gausslab.report.build import build_report

    typer.echo(f"report: {build_report(study_dir).html}")


def _click_error(name: str) -> type[Exception]:
    """click's UsageError or ClickException as this typer raises them: older typers use click itself, newer
    ones their own copy of it; both export BadParameter, which derives from these two."""
    return next(cls for cls in typer.BadParameter.__mro__ if cls.__name__ == name)


def main(argv: list[str] | None = None) -> None:
    """Console entry point."""
    command = typer.main.get_command(app)
    try:
        with interrupt.raising():  # SIGTERM unwinds like Ctrl-C: temporary files are removed on the way out
            code = command.main(args=argv, prog_name="gausslab", standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)  # click returns Exit codes when not standalone
    except typer.Exit as err:
        sys.exit(err.exit_code)
    except _click_error("UsageError") as err:
        typer.echo(f"gausslab: error: {err.format_message()} (see gausslab --help)", err=True)
        sys.exit(2)
    except _click_error("ClickException") as err:
        err.show()
        sys.exit(err.exit_code)
    except typer.Abort:
        sys.exit(130)


if __name__ == "__main__":
    main()
