"""`make mutation`: how many planted bugs (mutants, by mutmut) the tests of each result-critical module catch.

Each module is mutated alone in a scratch copy of the repository, in the functions listed in
`TARGETS` (the arithmetic, the loop and the checkpoint format, not messages, plots or set-up), and each
mutant runs against that module's own tests only; mutmut runs just the tests that reach the mutated
function, stopping at the first failure. The score is killed / tested mutants (a timeout or a
crash counts as killed: the mutant broke the code). Scores and every surviving mutant's diff go
into benchmarks/results.json under "mutation"; not part of `make test` (about an hour on 2 cores).

    python -m benchmarks.mutation [MODULE ...]      MODULE: a key of TARGETS (default: all, in turn)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

from benchmarks.common import read_results, update_results

ROOT = Path(__file__).resolve().parent.parent
SEPARATOR = "\u01c1"  # mutmut's class/method separator in mutant names
# mutmut's exit codes: a failing test, a timeout (SIGXCPU) or a crash kills the mutant; 0 is a survivor
KILLED, SURVIVED = {1, 3, 24, -24, 36, 152, 255, -9, -11}, {0}


@dataclass(frozen=True)
class Target:
    path: str  # under src/gausslab
    functions: tuple[str, ...]  # "function" or "Class.method"; decorated functions are never mutated by mutmut
    tests: tuple[str, ...]

    @property
    def module(self) -> str:
        return "gausslab." + self.path.removesuffix(".py").replace("/", ".")

    def patterns(self) -> list[str]:
        """mutmut mutant-name globs of the chosen functions."""
        out = []
        for name in self.functions:
            cls, _, fn = name.rpartition(".")
            mangled = f"x{SEPARATOR}{cls}{SEPARATOR}{fn}" if cls else f"x_{fn}"
            out.append(f"{self.module}.{mangled}__mutmut_*")
        return out


TARGETS: dict[str, Target] = {
    "train": Target("training/loop.py", ("_Schedule.rows", "total_steps", "_Loop._step", "_Loop._update",
                                         "_Loop._accumulate", "_Loop._resume"),
                    ("tests/training/test_loop.py", "tests/training/test_loop_reference.py",
                     "tests/training/test_checkpoint.py")),
    "checkpoint": Target("training/checkpoint.py", ("_split_optimizer", "_join_optimizer", "save_checkpoint", "read_state",
                                           "_read_tensors", "load_weights", "load_training_state"),
                         ("tests/training/test_checkpoint.py", "tests/training/test_checkpoint_format.py",
                          "tests/training/test_loop.py")),
    "guard": Target("training/guard.py", ("NonFiniteGuard.__init__", "NonFiniteGuard.admit", "NonFiniteGuard.check"),
                    ("tests/training/test_loop.py",)),
    "likelihoods": Target("blocks/likelihoods.py", ("Bernoulli.log_prob", "Bernoulli.mean", "Bernoulli.sample",
                                             "Gaussian.__init__", "Gaussian.log_prob", "Gaussian.mean",
                                             "Gaussian.sample"),
                          ("tests/blocks/test_likelihoods.py", "tests/models/test_vae.py")),
    "priors": Target("blocks/priors.py", ("diagonal_mixture_log_prob", "diagonal_mixture_sample", "StandardNormal.sample",
                                   "StandardNormal.log_prob", "StandardNormal.kl", "MixtureOfGaussians.sample",
                                   "MixtureOfGaussians.log_prob", "VampPrior.sample", "VampPrior.log_prob",
                                   "VampPrior._uniform_logits", "FlowPrior.log_prob", "FlowPrior.sample"),
                     ("tests/blocks/test_priors.py",)),
    "coupling": Target("blocks/coupling.py", ("AffineCoupling._shift_scale", "AffineCoupling.forward",
                                              "AffineCoupling.inverse", "checkerboard", "push_forward", "pull_back"),
                       ("tests/blocks/test_coupling.py", "tests/blocks/test_priors.py")),
    "vae": Target("models/vae.py", ("VAE.likelihood_kind", "VAE.encode", "VAE.kl", "VAE.elbo", "VAE.iwae_bound",
                                    "VAE.beta_at", "VAE.training_losses", "VAE._free_bits", "VAE.validation_terms"),
                  ("tests/models/test_vae.py", "tests/models/test_vae_objective.py", "tests/metrics/test_nll.py")),
    "samples": Target("metrics/samples.py", ("_strict_threshold", "_Tally.add", "_Tally.result", "frechet_distance",
                                             "_psd_sqrt", "fid", "polynomial_mmd2", "kid"),
                      ("tests/metrics/test_samples.py",)),
    "latent": Target("metrics/latent.py", ("diagonal_normal_log_prob", "log_aggregate_posterior", "sample_posterior",
                                           "aggregate_posterior_terms", "_own_log_prob", "active_units",
                                           "prior_hole_score", "_closed_form_rate"),
                     ("tests/metrics/test_latent.py",)),
    "likelihood": Target("metrics/nll.py", ("bits_per_dim",), ("tests/metrics/test_nll.py",)),
}


def mutmut_config(target: Target) -> str:
    """The [tool.mutmut] table of one module's run (mutmut reads only pyproject.toml)."""
    table = {
        "source_paths": ["src/gausslab"],
        "only_mutate": [f"src/gausslab/{target.path}"],
        "pytest_add_cli_args_test_selection": list(target.tests),
        "pytest_add_cli_args": ["-p", "no:cacheprovider", "-x", "-q"],
        "process_isolation": "forkserver",  # torch is not fork-safe once the stats run has used it
        "use_git_change_detection": False,
    }
    lines = [f"{key} = {json.dumps(value)}" for key, value in table.items()]
    return "\n[tool.mutmut]\n" + "\n".join(lines) + "\n"


def scratch_copy(target: Target, where: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("src", "tests"):
        shutil.copytree(ROOT / folder, where / folder, ignore=ignore)
    (where / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text() + mutmut_config(target))


def outcome(code: int | None) -> str:
    if code in KILLED:
        return "killed"
    return "survived" if code in SURVIVED else "untested"


def diff_of(name: str, where: Path) -> str:
    """The changed lines of one mutant ('- old' / '+ new')."""
    shown = subprocess.run([sys.executable, "-m", "mutmut", "show", name], cwd=where, capture_output=True, text=True)
    changed = [line for line in shown.stdout.splitlines()
               if line.startswith(("+", "-")) and not line.startswith(("+++", "---"))]
    return " | ".join(line.strip() for line in changed)


def run_target(name: str, target: Target, children: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix=f"mutation-{name}-") as tmp:
        where = Path(tmp)
        scratch_copy(target, where)
        t0 = time.perf_counter()
        log = where / "mutmut.log"
        with open(log, "w") as out:
            subprocess.run([sys.executable, "-m", "mutmut", "run", "--max-children", str(children),
                            *target.patterns()], cwd=where, stdout=out, stderr=subprocess.STDOUT)
        wall = time.perf_counter() - t0
        meta = where / "mutants" / "src" / "gausslab" / f"{target.path}.meta"
        if not meta.exists():
            raise RuntimeError(f"mutmut wrote no results for {name}:\n" + log.read_text()[-3000:])
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        chosen = {k: v for k, v in codes.items() if any(fnmatch(k, p) for p in target.patterns())}
        status = {k: outcome(v) for k, v in chosen.items()}
        tested = [k for k, s in status.items() if s != "untested"]
        killed = sum(status[k] == "killed" for k in tested)
        survivors = {k.removeprefix(target.module + "."): diff_of(k, where) for k in tested
                     if status[k] == "survived"}
        # mutants left untested mean mutmut stopped early: keep the end of its log to say why
        stopped = log.read_text().replace("\r", "\n").splitlines()[-20:] if len(tested) < len(chosen) else []
    return {"file": f"src/gausslab/{target.path}", "functions": list(target.functions), "tests": list(target.tests),
            "mutants": len(tested), "killed": killed, "untested": len(chosen) - len(tested),
            "score": round(killed / max(len(tested), 1), 4), "wall_s": round(wall, 1), "survivors": survivors,
            **({"log_tail": stopped} if stopped else {})}


def main(names: list[str] | None = None, children: int = 2) -> dict[str, object]:
    os.nice(10)  # the machine is shared: mutants run at low priority
    chosen = names or list(TARGETS)
    results = {}
    for name in chosen:
        print(f"mutating {name} ...", flush=True)
        results[name] = run_target(name, TARGETS[name], children)
        r = results[name]
        print(f"  {r['killed']}/{r['mutants']} killed ({100 * r['score']:.1f} %), {len(r['survivors'])} survived, "
              f"{r['untested']} untested, {r['wall_s']:.0f} s", flush=True)
        update_results({"mutation": {**read_results().get("mutation", {}), name: r}})
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
