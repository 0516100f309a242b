"""Errors a user can act on. The CLI prints their message as one line and exits with 2."""

from __future__ import annotations

import difflib
import reprlib
import signal
from collections.abc import Iterable


class GausslabError(Exception):
    """Base class: bad input or a condition the user can fix."""


class ConfigError(GausslabError, ValueError):
    """An invalid configuration value or an unknown registry name."""


class DataError(GausslabError, ValueError):
    """A data set that cannot be found, read or used."""


class CheckpointError(GausslabError):
    """A run folder that is missing files, was tampered with, or does not fit the config."""


class TrainingError(GausslabError):
    """Training stopped: a non-finite loss or an interruption (the last good checkpoint is kept)."""


class Interrupted(TrainingError):
    """SIGINT or SIGTERM during training: the run stopped at a step boundary (with a checkpoint when it has a
    folder), or a second signal aborted it at once (the last checkpoint is kept)."""

    def __init__(self, message: str, signum: int = signal.SIGINT):
        super().__init__(message)
        self.signum = signum


# Messages show users' values through this: a YAML alias bomb expands to billions of items when
# repr'd whole, and a message must never cost more than the line it prints.
_BRIEF = reprlib.Repr()
_BRIEF.maxlevel, _BRIEF.maxstring, _BRIEF.maxother, _BRIEF.maxlong = 2, 80, 80, 60
_BRIEF.maxlist = _BRIEF.maxtuple = _BRIEF.maxdict = _BRIEF.maxset = 4


def brief(value: object) -> str:
    """repr(value), cut short at any size or depth (for error messages)."""
    return _BRIEF.repr(value)


def unknown_choice(what: str, value: object, choices: Iterable[str]) -> ConfigError:
    """ConfigError for `value` not in `choices`, with a 'did you mean' hint."""
    choices = sorted(choices)
    close = difflib.get_close_matches(str(value), choices, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ConfigError(f"unknown {what} {brief(value)}{hint}; choose one of: {', '.join(choices)}")


def lookup(registry: dict, what: str, name: str):
    """registry[name], or a ConfigError listing the valid names."""
    try:
        return registry[name]
    except (KeyError, TypeError):
        raise unknown_choice(what, name, registry) from None
