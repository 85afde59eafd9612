"""The one source of "now" (epoch milliseconds), replaceable in tests."""

import time
from collections.abc import Callable

_source: Callable[[], int] = lambda: time.time_ns() // 1_000_000  # noqa: E731
_sleep: Callable[[float], None] = time.sleep


def now_ms() -> int:
    """Current time in epoch milliseconds."""
    return _source()


def set_source(source: Callable[[], int]) -> Callable[[], int]:
    """Replace the time source (tests); returns the previous one so it can be restored."""
    global _source
    previous, _source = _source, source
    return previous


def sleep(seconds: float) -> None:
    """Wait (pacing, backoff); tests replace it with one that moves their frozen clock instead."""
    _sleep(seconds)


def set_sleep(sleeper: Callable[[float], None]) -> Callable[[float], None]:
    """Replace how waiting happens (tests); returns the previous one so it can be restored."""
    global _sleep
    previous, _sleep = _sleep, sleeper
    return previous
