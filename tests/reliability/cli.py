"""The real CLI entry point called in this process, as the console script calls it."""

from __future__ import annotations

import contextlib
import io

from gausslab.cli import main


def call(argv: list[str]) -> tuple[int, str]:
    """(exit code, stderr) of `gausslab ARGV`; stdout is discarded."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            main(argv)
            code = 0
        except SystemExit as exit_:
            code = exit_.code
    return code, err.getvalue()
