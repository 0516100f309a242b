"""The bad-input corpus, run through the real CLI entry point (`gausslab.cli.main`, what the console script calls).

Every case must exit with code 2, print exactly one line on stderr that holds every expected
substring (the offending value and the cause, chosen so that they cannot match by accident), print
no traceback, and leave the folders exactly as they were: same files, same bytes.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from tests.reliability.cli import call
from tests.reliability.corpus import EDITS, FAULTS, PID, flow_bomb, write_files


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    write_files(d)
    run = d / "run"
    assert call(["train", "vae", "--data", "digits", "--set", "train.steps=2", "--set", "model.latent_dim=2",
                 "--out", str(run), "--quiet"])[0] == 0
    assert call(["train", "gan", "--data", "ring8", "--set", "train.steps=2", "--set", "data.n=200",
                 "--set", "model.hidden=[8]", "--set", "model.d_hidden=[8]", "--out", str(d / "ganrun"),
                 "--quiet"])[0] == 0
    for name, edit in EDITS.items():
        target = d / name
        target.mkdir()
        for f in run.iterdir():
            (target / f.name).write_bytes(f.read_bytes())
        edit(target)
    return d


T = ["train", "vae", "--set", "train.steps=3", "--out", "{d}/out", "--quiet"]  # digits unless --data says
GAN = ["train", "gan", "--data", "ring8", "--set", "data.n=200", "--set", "train.steps=3", "--out", "{d}/out",
       "--quiet"]
GMM = ["train", "gmm", "--data", "ring8", "--set", "data.n=200", "--set", "train.steps=3", "--out", "{d}/out",
       "--quiet"]
RESUME = ["train", "vae", "--data", "digits", "--set", "train.steps=2", "--set", "model.latent_dim=2", "--resume",
          "--quiet", "--out"]
STUDY = ["study", "--preset", "quick", "--out", "{d}/study", "--quiet"]
BIG = str(10**20)
CASES: dict[str, tuple] = {
    # data sources
    "missing file": ([*T, "--data", "{d}/missing.npz"], "'{d}/missing.npz'", "no such"),
    "missing folder": ([*T, "--data", "{d}/nowhere/"], "nowhere", "no such"),
    "empty npz": ([*T, "--data", "{d}/empty.npz"], "empty.npz", "is empty"),
    "empty csv": ([*T, "--data", "{d}/empty.csv"], "empty.csv", "is empty"),
    "truncated idx": ([*T, "--data", "{d}/truncated-idx3-ubyte"], "truncated-idx3-ubyte", "needs exactly"),
    "idx huge header": ([*T, "--data", "{d}/huge-idx3-ubyte"], "huge-idx3-ubyte", "truncated or corrupt"),
    "corrupt gz": ([*T, "--data", "{d}/corrupt-idx3-ubyte.gz"], "corrupt-idx3-ubyte.gz", "decompress"),
    "object npz": ([*T, "--data", "{d}/objects.npz"], "objects.npz", "cannot read"),
    "rank-1 array": ([*T, "--data", "{d}/rank1.npy"], "rank1.npy", "(10,)"),
    "rank-5 array": ([*T, "--data", "{d}/rank5.npy"], "rank5.npy", "(2, 2, 2, 2, 2)"),
    "nan values": ([*T, "--data", "{d}/nan.npy"], "nan.npy", "5 NaN/inf"),
    "inf values": ([*T, "--data", "{d}/inf.npy"], "inf.npy", "5 NaN/inf"),
    "string dtype": ([*T, "--data", "{d}/strings.npy"], "strings.npy", "not numeric"),
    "float64 overflow npy": ([*T, "--data", "{d}/overflow.npy"], "overflow.npy", "overflow float32", "1e+300"),
    "float64 overflow csv": ([*T, "--data", "{d}/overflow.csv"], "overflow.csv", "overflow float32", "1e+39"),
    "npy absurd shape": ([*T, "--data", "{d}/hugeshape.npy"], "hugeshape.npy", "(1000000000000, 2)"),
    "npy short data": ([*T, "--data", "{d}/shortshape.npy"], "shortshape.npy", "(100, 2)"),
    "npz absurd shape": ([*T, "--data", "{d}/hugeshape.npz"], "hugeshape.npz", "(100000000000, 1000)"),
    "mixed image sizes": ([*T, "--data", "{d}/mixed"], "b.png", "same size"),
    "folder without images": ([*T, "--data", "{d}/noimages"], "noimages", "has no"),
    "corrupt png": ([*T, "--data", "{d}/badpng"], "b.png", "cannot read image"),
    "png bomb": ([*T, "--data", "{d}/bomb"], "huge.png", "900000000 pixels"),
    "csv with text": ([*T, "--data", "{d}/text.csv"], "'hello' is not a number"),
    "ragged csv": ([*T, "--data", "{d}/ragged.csv"], "ragged.csv", "line 2 has 1 values"),
    "unknown suffix": ([*T, "--data", "{d}/data.txt"], "data.txt", "unsupported file type"),
    "unknown dataset": ([*T, "--data", "digitz"], "'digitz'", "did you mean 'digits'"),
    "empty data name": ([*T, "--data", ""], "data.name=''", "at least 1 character"),
    "empty data name in set": ([*T, "--set", "data.name=''"], "data.name=''", "at least 1 character"),
    "data size absurd": ([*GAN, "--set", "data.n=1000000000000"], "n=1000000000000 examples", "8.0 TB of memory"),
    "one example": ([*GAN, "--set", "data.n=1"], "of 1 examples", "split empty"),
    # names and values
    "unknown model": (["train", "vea", "--out", "{d}/out"], "'vea'", "did you mean 'vae'"),
    "unknown prior": ([*T, "--set", "model.prior=vampp"], "'vampp'", "did you mean 'vamp'"),
    "unknown gan loss": ([*GAN, "--set", "model.loss=wgan"], "'wgan'", "did you mean 'wgan-gp'"),
    "unknown covariance": ([*GMM, "--set", "model.covariance=ful"], "'ful'", "did you mean 'full'"),
    "zero latent": ([*T, "--set", "model.latent_dim=0"], "model.latent_dim=0", "greater than 0"),
    "negative latent": ([*T, "--set", "model.latent_dim=-4"], "model.latent_dim=-4", "greater than 0"),
    "text latent": ([*T, "--set", "model.latent_dim=abc"], "model.latent_dim='abc'", "valid integer"),
    "negative lr": ([*T, "--set", "train.lr=-1"], "train.lr=-1", "greater than 0"),
    "infinite lr": ([*T, "--set", "train.lr=.inf"], "train.lr=inf", "finite"),
    "zero batch": ([*T, "--set", "train.batch_size=0"], "train.batch_size=0", "greater than 0"),
    "zero log_every": ([*T, "--set", "train.log_every=0"], "train.log_every=0", "greater than 0"),
    "zero grad_clip": ([*T, "--set", "train.grad_clip=0"], "train.grad_clip=0", "greater than 0"),
    "test fraction": ([*T, "--set", "data.test_fraction=1.5"], "data.test_fraction=1.5", "less than 1"),
    "zero test fraction": ([*T, "--set", "data.test_fraction=0"], "data.test_fraction=0", "greater than 0"),
    "valid fraction one": ([*T, "--set", "data.valid_fraction=1"], "data.valid_fraction=1", "less than 1"),
    "unknown policy": ([*T, "--set", "train.nan_policy=maybe"], "'maybe'", "stop, skip"),
    "unknown amp": ([*T, "--set", "train.amp=fp32"], "'fp32'", "off, bf16, fp16"),
    "fp16 on cpu": ([*T, "--set", "train.amp=fp16", "--set", "train.device=cpu"], "needs a CUDA", "train.amp=bf16"),
    "cuda without cuda": ([*T, "--set", "train.device=cuda"], "train.device='cuda'", "0 CUDA device", "no cuda"),
    "unknown device": ([*T, "--set", "train.device=tpu"], "train.device='tpu'", "cpu, cuda, cuda:N"),
    "absent gpu": ([*T, "--set", "train.device=cuda:99"], "train.device='cuda:99'", "is not available"),
    "unknown key": ([*T, "--set", "train.epoch=3"], "'train.epoch'", "did you mean 'epochs'"),
    "unknown section": ([*T, "--set", "optim.lr=1"], "'optim'", "data, model, train"),
    "malformed set": ([*T, "--set", "trainepochs"], "'trainepochs'", "section.key=value"),
    "gan zero pack": ([*GAN, "--set", "model.pack=0"], "model.pack=0", "greater than 0"),
    "gan ema one": ([*GAN, "--set", "model.ema=1"], "model.ema=1", "less than 1"),
    "gan pack beyond batch": ([*GAN, "--set", "model.pack=300"], "model.pack=300", "batches of 128 rows"),
    "gan pack overflow": ([*GAN, "--set", f"model.pack={2**62}"], f"pack={2**62}", "overflows 64-bit"),
    "gan critic steps absurd": ([*GAN, "--set", "model.n_critic=100000"], "model.n_critic=100000",
                                "less than or equal"),
    "flow layers absurd": ([*T, "--set", "model.prior=flow", "--set", "model.flow_layers=100000"],
                           "model.flow_layers=100000", "less than or equal"),
    "gmm zero components": ([*GMM, "--set", "model.components=0"], "model.components=0", "greater than 0"),
    "gmm negative reg": ([*GMM, "--set", "model.reg_covar=-1"], "model.reg_covar=-1", "greater than 0"),
    # values out of range inside lists
    "hidden negative": ([*T, "--set", "model.hidden=[-1]"], "model.hidden.0=-1", "greater than 0"),
    "hidden zero": ([*T, "--set", "model.hidden=[8, 0]"], "model.hidden.1=0", "greater than 0"),
    "hidden text": ([*T, "--set", "model.hidden=[wide]"], "model.hidden.0='wide'", "valid integer"),
    "hidden nested": ([*T, "--set", "model.hidden=[[8]]"], "model.hidden.0=[8]", "valid integer"),
    "channels negative": ([*T, "--set", "model.channels=[8, -16]"], "model.channels.1=-16", "greater than 0"),
    "gan betas too big": ([*GAN, "--set", "model.betas=[2, 2]"], "model.betas.0=2", "less than 1"),
    "gan betas negative": ([*GAN, "--set", "model.betas=[0.5, -0.1]"], "model.betas.1=-0.1", "greater than or equal"),
    "gan betas one value": ([*GAN, "--set", "model.betas=[0.5]"], "model.betas.1", "missing"),
    "gan d_hidden zero": ([*GAN, "--set", "model.d_hidden=[0]"], "model.d_hidden.0=0", "greater than 0"),
    "gan hidden empty": ([*GAN, "--set", "model.hidden=[]"], "model.hidden=[]", "at least 1"),
    # seeds beyond what the generator takes
    "train seed huge": ([*T, "--set", f"train.seed={BIG}"], f"train.seed={BIG}", "less than"),
    "train seed very negative": ([*T, "--set", f"train.seed=-{BIG}"], f"train.seed=-{BIG}", "greater than"),
    "data seed huge": ([*T, "--set", f"data.seed={BIG}"], f"data.seed={BIG}", "less than"),
    "sample seed huge": (["sample", "{d}/run", "--seed", BIG, "--out", "{d}/s.png"], f"--seed {BIG}", "between"),
    # absurd sizes
    "latent absurd": ([*T, "--set", "model.latent_dim=1000000000000"], "latent_dim=1000000000000", "memory"),
    "gan hidden absurd": ([*GAN, "--set", "model.hidden=[10000000, 10000000]"], "hidden=(10000000, 10000000)",
                          "memory"),
    "vae mixture prior absurd": ([*T, "--set", "model.prior=mog", "--set", "model.prior_components=10000000000"],
                                 "prior_components=10000000000", "memory"),
    "gmm components absurd": ([*GMM, "--set", "model.components=1000000000"], "components=1000000000", "memory"),
    "gmm components beyond rows": ([*GMM, "--set", "model.components=500"], "model.components=500",
                                   "exceeds the"),
    "sample n absurd npy": (["sample", "{d}/run", "--n", str(10**13), "--out", "{d}/s.npy"], f"--n {10**13}",
                            "needs"),
    "sample n absurd png": (["sample", "{d}/run", "--n", str(10**9), "--out", "{d}/s.png"], f"--n {10**9}",
                            ".npy"),
    # YAML files
    "yaml syntax": ([*T, "--config", "{d}/bad.yaml"], "bad.yaml", "not valid YAML at line 2"),
    "yaml tabs": ([*T, "--config", "{d}/tabs.yaml"], "tabs.yaml", "not valid YAML"),
    "yaml not mapping": ([*T, "--config", "{d}/list.yaml"], "list.yaml", "must hold a mapping"),
    "yaml binary": ([*T, "--config", "{d}/binary.yaml"], "binary.yaml", "cannot read"),
    "yaml folder": ([*T, "--config", "{d}/yamldir.yaml"], "yamldir.yaml", "cannot read"),
    "missing config": ([*T, "--config", "{d}/none.yaml"], "none.yaml", "does not exist"),
    "config kind mismatch": ([*T, "--config", "{d}/gan.yaml"], "model.kind='gan'", "trains 'vae'"),
    "config kind unknown": ([*T, "--config", "{d}/flow.yaml"], "'flowz'", "trains 'vae'"),
    "yaml section is a list": ([*T, "--config", "{d}/section-list.yaml"], "section 'model'", "mapping"),
    "yaml section is a number": ([*T, "--config", "{d}/section-int.yaml"], "section 'train'", "mapping"),
    "yaml section is text": ([*T, "--config", "{d}/section-str.yaml"], "section 'data'", "mapping"),
    "yaml duplicate section": ([*T, "--config", "{d}/dup-section.yaml"], "dup-section.yaml", "'model' twice"),
    "yaml duplicate key": ([*T, "--config", "{d}/dup-key.yaml"], "dup-key.yaml", "'steps' twice"),
    # resource bombs
    "yaml alias bomb": ([*T, "--config", "{d}/bomb.yaml"], "train.epochs=[[[", "valid integer"),
    "yaml alias bomb list": ([*T, "--config", "{d}/bomb-hidden.yaml"], "model.hidden.0=[[", "valid integer"),
    "yaml alias bomb text": ([*T, "--config", "{d}/bomb-name.yaml"], "data.name=[[", "valid string"),
    "set alias bomb": ([*T, "--set", "model.hidden=" + flow_bomb()], "model.hidden.0=[[", "valid integer"),
    "yaml deep nesting": ([*T, "--config", "{d}/deep.yaml"], "deep.yaml", "nested too deeply"),
    "yaml too large": ([*T, "--config", "{d}/large.yaml"], "large.yaml", "larger than"),
    "config endless": ([*T, "--config", "/dev/zero"], "'/dev/zero'", "larger than"),
    # output folders and side effects
    "unwritable out": ([*T, "--out", "{d}/a_file/run"], "'{d}/a_file/run'", "Not a directory"),
    "existing run": (["train", "vae", "--data", "digits", "--out", "{d}/run", "--quiet"], "'{d}/run'",
                     "pass --resume"),
    "resume other config": (["train", "vae", "--data", "digits", "--set", "train.lr=0.5", "--set",
                             "model.latent_dim=2", "--out", "{d}/run", "--resume", "--quiet"], "differs in train.lr"),
    "out is a user folder": ([*T, "--out", "{d}/user"], "'{d}/user'", "--force"),
    "force never replaces a file": ([*T, "--out", "{d}/user", "--force"], "'{d}/user/log.jsonl'", "replace"),
    "force and a user config": ([*T, "--out", "{d}/userconfig", "--force"], "'{d}/userconfig/config.json'",
                                "replace"),
    "run folder in use": ([*RESUME, "{d}/run"], "'{d}/run'", f"process {PID}", "locked"),
    "gmm not positive definite": (["train", "gmm", "--data", "{d}/constant.csv", "--set", "model.components=3",
                                   "--set", "model.reg_covar=1e-30", "--out", "{d}/out", "--quiet"],
                                  "not positive definite", "model.reg_covar"),
    "overflow at step 0": (["train", "vae", "--data", "{d}/huge.csv", "--set", "train.steps=3", "--out",
                            "{d}/out", "--quiet"], "non-finite at step 0", "no checkpoint"),
    "skip every batch": (["train", "vae", "--data", "{d}/huge.csv", "--set", "train.steps=3", "--set",
                          "train.nan_policy=skip", "--out", "{d}/out", "--quiet"], "every batch", "steps 0-1"),
    "full disk in train": ([*T], "'{d}/out", "No space left", "full disk"),
    "full disk in sample": (["sample", "{d}/run", "--out", "{d}/s.png"], "'{d}/s.png'", "No space left",
                            "full disk"),
    "full disk in evaluate": (["evaluate", "{d}/run", "--k", "2", "--metrics", "elbo", "--out", "{d}/m.json"],
                              "'{d}/m.json'", "No space left", "full disk"),
    # run folders
    "sample missing run": (["sample", "{d}/nope", "--out", "{d}/s.png"], "'{d}/nope'", "does not exist"),
    "sample missing weights": (["sample", "{d}/nomodel", "--out", "{d}/s.png"], "nomodel", "missing model.safetensors"),
    "sample tampered": (["sample", "{d}/tampered", "--out", "{d}/s.png"], "tampered/model.safetensors", "checksum"),
    "sample corrupt config": (["sample", "{d}/badconfig", "--out", "{d}/s.png"], "badconfig/config.json",
                              "corrupt"),
    "sample incompatible": (["sample", "{d}/otherconfig", "--out", "{d}/s.png"], "otherconfig", "does not fit"),
    "config shape text": (["sample", "{d}/shape-text", "--out", "{d}/s.png"], "shape-text/config.json",
                          "data_shape"),
    "config shape negative": (["sample", "{d}/shape-negative", "--out", "{d}/s.png"], "shape-negative/config.json",
                              "data_shape"),
    "config shape number": (["sample", "{d}/shape-int", "--out", "{d}/s.png"], "shape-int/config.json",
                            "data_shape"),
    "config shape huge": (["sample", "{d}/shape-huge", "--out", "{d}/s.png"], "memory", "1000000"),
    "config kind number": (["sample", "{d}/kind-number", "--out", "{d}/s.png"], "kind-number/config.json",
                           "data_kind"),
    "config hidden text": (["sample", "{d}/hidden-text", "--out", "{d}/s.png"], "hidden-text/config.json",
                           "model.hidden"),
    "config without config": (["sample", "{d}/no-config-key", "--out", "{d}/s.png"], "no-config-key/config.json",
                              "config is missing"),
    "config is a list": (["sample", "{d}/config-list", "--out", "{d}/s.png"], "config-list/config.json",
                         "not a gausslab config"),
    "state step text": ([*RESUME, "{d}/step-text"], "step-text/state.json", "step"),
    "state step negative": ([*RESUME, "{d}/step-negative"], "step-negative/state.json", "step"),
    "state step fraction": ([*RESUME, "{d}/step-fraction"], "step-fraction/state.json", "step"),
    "state step beyond": ([*RESUME, "{d}/step-beyond"], "step 1000000", "ends at step 2"),
    "state optimizers list": ([*RESUME, "{d}/optimizers-list"], "optimizers-list/state.json", "optimizers"),
    "state lr text": ([*RESUME, "{d}/lr-text"], "lr-text/state.json", "lr"),
    "state sha text": (["sample", "{d}/sha-text", "--out", "{d}/s.png"], "sha-text/state.json", "sha256"),
    "state skipped text": ([*RESUME, "{d}/skipped-text"], "skipped-text/state.json", "skipped"),
    "state torn": ([*RESUME, "{d}/state-torn"], "state-torn/state.json", "corrupt"),
    "log torn in the middle": ([*RESUME, "{d}/log-torn-middle"], "log-torn-middle/log.jsonl", "line 1"),
    "sample n zero": (["sample", "{d}/run", "--n", "0", "--out", "{d}/s.png"], "--n must be", "got 0"),
    "sample n negative": (["sample", "{d}/run", "--n", "-5", "--out", "{d}/s.png"], "--n must be", "got -5"),
    "sample bad suffix": (["sample", "{d}/run", "--out", "{d}/s.jpg"], "'{d}/s.jpg'", ".png or .npy"),
    "sample unwritable": (["sample", "{d}/run", "--out", "{d}/a_file/s.png"], "'{d}/a_file/s.png'",
                          "Not a directory"),
    "sample unknown sampler": (["sample", "{d}/run", "--sampler", "expst", "--out", "{d}/s.png"], "'expst'",
                               "did you mean 'expost'"),
    "sample expost k beyond": (["sample", "{d}/run", "--sampler", "expost", "--k", "100000", "--out", "{d}/s.png"],
                               "--k 100000", "exceeds"),
    "sample expost on a gan": (["sample", "{d}/ganrun", "--sampler", "expost", "--out", "{d}/s.png"], "'expost'",
                               "needs a VAE"),
    "evaluate k zero": (["evaluate", "{d}/run", "--k", "0"], "--k must be", "got 0"),
    "evaluate k negative": (["evaluate", "{d}/run", "--k", "-3"], "--k must be", "got -3"),
    "evaluate wrong shape": (["evaluate", "{d}/run", "--data", "ring8"], "'ring8'", "has shape [2]"),
    "evaluate unknown metric": (["evaluate", "{d}/run", "--metrics", "fidd"], "'fidd'", "did you mean 'fid'"),
    "evaluate one bad metric": (["evaluate", "{d}/run", "--metrics", "elbo,fidd"], "'fidd'", "did you mean 'fid'"),
    "evaluate no metric": (["evaluate", "{d}/run", "--metrics", ","], "--metrics ','", "names no metric"),
    "evaluate blank metrics": (["evaluate", "{d}/run", "--metrics", " , ,"], "--metrics ' , ,'", "names no metric"),
    "evaluate over a user file": (["evaluate", "{d}/run", "--metrics", "elbo", "--k", "2", "--out",
                                   "{d}/notes.json"], "'{d}/notes.json'", "--force"),
    "evaluate missing run": (["evaluate", "{d}/nope"], "'{d}/nope'", "does not exist"),
    "unknown option": (["train", "vae", "--out", "{d}/out", "--bogus"], "--bogus", "No such option"),
    # the study validates everything before it creates its folder
    "study unknown data": ([*STUDY, "--data", "{d}/missing.npz"], "missing.npz", "no such"),
    "study unknown run setting": ([*STUDY, "--set", "train.bogus=1"], "'train.bogus'", "allowed: epochs"),
    "study unknown model setting": ([*STUDY, "--set", "model.bogus=1"], "'bogus'", "model.<key>"),
    "study bad list": ([*STUDY, "--set", "study.hidden=[-1]"], "hidden.0=-1", "greater than 0"),
    "study bad value": ([*STUDY, "--set", "train.lr=-1"], "train.lr=-1", "greater than 0"),
    "study zero seeds": ([*STUDY, "--seeds", "0"], "--seeds", "got 0"),
    "study unknown preset": ([*STUDY, "--preset", "quik"], "'quik'", "did you mean 'quick'"),
    "study data name": ([*STUDY, "--set", "data.name=ring8"], "data.name", "--data"),
    "study folder in use": (["study", "--preset", "quick", "--out", "{d}/spare", "--quiet"], "'{d}/spare'",
                            f"process {PID}", "locked study"),
    "study into a user folder": (["study", "--preset", "quick", "--out", "{d}/user", "--quiet"], "'{d}/user'",
                                 "--force"),
}


def snapshot(root: Path) -> dict[str, str]:
    """Every file and folder under root, with a digest of each file's bytes."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "folder"
            for p in sorted(root.rglob("*"))}


def _expand(text: str, env: Path) -> str:
    return text.replace("{d}", str(env)).replace(PID, str(os.getpid()))


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input(env, case, monkeypatch):
    argv, *needles = CASES[case]
    fault = needles.pop() if needles[-1] in FAULTS else None
    monkeypatch.chdir(env)  # anything written to a relative path would land in the snapshot
    release = FAULTS[fault](monkeypatch, env) if fault else None
    before = snapshot(env)
    try:
        code, err = call([_expand(a, env) for a in argv])
    finally:
        monkeypatch.undo()
        after = snapshot(env)
        if release:
            release()
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err[-2000:]
    assert len(lines) == 1, err[-2000:]
    assert "Traceback" not in err and ".tmp" not in err
    for needle in needles:
        assert _expand(needle, env) in lines[0], lines[0]
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    assert not changed, f"left behind or changed: {sorted(changed)}"


def test_corpus_size():
    assert len(CASES) >= 100

