"""Shared assertion for the data tests: user errors are one line and name the offending value."""

from __future__ import annotations

import pytest


def expect_error(error: type[Exception], fragments: list[str], fn, *args, **kwargs) -> str:
    """Call fn, require `error`, a one-line message, and every fragment in it; return the message."""
    with pytest.raises(error) as info:
        fn(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message, message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message
