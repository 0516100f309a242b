"""Faults at named points of a gausslab command: a real signal sent to this process (`os.kill`) the n-th
time a point is reached, a raw KeyboardInterrupt there, or a hold until the test releases the process.

The points wrap existing functions (no test hook lives in the library), so the same fault can be
armed in this process (`arm(..., monkeypatch=monkeypatch)`) or in a real `gausslab` process started
with `python -m tests.reliability.fault_driver POINT ACTION N -- ARGS...`.
"""

from __future__ import annotations

import importlib
import os
import signal
import threading
import time
from pathlib import Path

# name -> (module, attribute path to the function, "before" or "after" its call)
POINTS = {
    "before-update": ("gausslab.training.loop", ("_Loop", "_update"), "before"),  # a gradient step is about to happen
    "after-update": ("gausslab.training.loop", ("_Loop", "_update"), "after"),  # mid-step for a GAN (D done, G not yet)
    "em-update": ("gausslab.models.gmm", ("GMM", "_m_step"), "after"),  # a GMM's closed-form update just happened
    # mid-save: state.json committed, the weights not yet promoted
    "checkpoint": ("gausslab.training.checkpoint", ("_promote",), "before"),
    "validation": ("gausslab.training.loop", ("_Loop", "_validate"), "before"),  # the trainer's held-out evaluation
    "evaluation": ("gausslab.evaluation.evaluate", ("METRICS", "elbo"), "before"),  # `evaluate` / a study's evaluation
    "report": ("gausslab.report.build", ("build_report",), "before"),  # the study's report
}


def arm(point: str, action: str, nth: int = 1, monkeypatch=None) -> None:
    """Do `action` the `nth` time `point` is reached. Actions: SIGINT, SIGTERM, SIGKILL (sent to this process),
    SIGINTx2 (two Ctrl-Cs), KeyboardInterrupt (raised, as with no handler), hold:DIR (write DIR/held, wait for
    DIR/released). With pytest's `monkeypatch` the wrapper is removed again after the test."""
    module, path, when = POINTS[point]
    owner = importlib.import_module(module)
    for name in path[:-1]:
        owner = getattr(owner, name)
    name = path[-1]
    original = owner[name] if isinstance(owner, dict) else getattr(owner, name)
    calls = [0]

    def wrapper(*args, **kwargs):
        calls[0] += 1
        fire = calls[0] == nth
        if fire and when == "before":
            _do(action)
        result = original(*args, **kwargs)
        if fire and when == "after":
            _do(action)
        return result

    if monkeypatch is not None:
        (monkeypatch.setitem if isinstance(owner, dict) else monkeypatch.setattr)(owner, name, wrapper)
    elif isinstance(owner, dict):
        owner[name] = wrapper
    else:
        setattr(owner, name, wrapper)


def _do(action: str) -> None:
    if action == "KeyboardInterrupt":
        raise KeyboardInterrupt
    if action.startswith("hold:"):
        folder = Path(action.removeprefix("hold:"))
        (folder / "held").write_text(str(os.getpid()))
        while not (folder / "released").exists():  # the test releases us once it has checked what it needs
            time.sleep(0.02)
        return
    # Python runs signal handlers in the main thread only (pytest-xdist >= 3.6 runs tests there too).
    assert threading.current_thread() is threading.main_thread(), "signals need the main thread"
    name, _, times = action.partition("x")
    for _ in range(int(times or 1)):
        os.kill(os.getpid(), getattr(signal, name))
        time.sleep(0)  # a Python signal handler runs at the next bytecode boundary, i.e. here
