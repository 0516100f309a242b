"""Ctrl-C (SIGINT) and SIGTERM: training stops at the next step boundary; a second signal aborts at once.

A signal can land anywhere: between a GAN's discriminator and generator updates, right after an
optimizer step, inside a checkpoint save, during validation. A checkpoint written from there would
be labelled with one step count and hold the weights of another, and the resumed run would drift.
So while training, the handler only records the request (`deferred`), and the trainer reads it
after each whole step, where the weights, optimizer, RNG and step count agree. A second signal
raises `Aborted` at once (the last checkpoint is kept). Outside training, `raising` makes SIGTERM
behave like Ctrl-C, so clean-ups run (no temporary files are left) and the exit status says which.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Aborted(KeyboardInterrupt):
    """A stop signal that could not wait for a step boundary (a second Ctrl-C, or SIGTERM outside training)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@dataclass
class StopRequest:
    """The first stop signal received (None: none yet)."""

    signum: int | None = None

    @property
    def name(self) -> str:
        """The signal's name ("SIGINT", "SIGTERM"), or "" before one arrives."""
        return signal.Signals(self.signum).name if self.signum is not None else ""


@contextmanager
def _handlers(handle) -> Iterator[None]:
    """`handle` for SIGINT and SIGTERM during the block (main thread only: Python delivers signals there)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, handle) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h if h is not None else signal.SIG_DFL)


@contextmanager
def deferred() -> Iterator[StopRequest]:
    """Record SIGINT/SIGTERM in the yielded StopRequest instead of interrupting; a second one raises Aborted."""
    request = StopRequest()

    def handle(signum, frame):
        if request.signum is not None:
            raise Aborted(signum)
        request.signum = signum

    with _handlers(handle):
        yield request


@contextmanager
def raising() -> Iterator[None]:
    """SIGINT and SIGTERM raise Aborted (a KeyboardInterrupt) during the block."""

    def handle(signum, frame):
        raise Aborted(signum)

    with _handlers(handle):
        yield
