"""The one source of "now" (epoch milliseconds), replaceable in tests."""

import time
from collections.abc import Callable

_source: Callable[[], int] = lambda: time.time_ns() // 1_000_000  # noqa: E731


def now_ms() -> int:
    """Current time in epoch milliseconds."""
    return _source()


def set_source(source: Callable[[], int]) -> Callable[[], int]:
    """Replace the time source (tests); returns the previous one so it can be restored."""
    global _source
    previous, _source = _source, source
    return previous
