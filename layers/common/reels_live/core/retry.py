"""One retry helper: full-jitter exponential backoff, with each caller's own attempts, base and cap.

`Backoff.delay(attempt)` is uniform in 0..min(cap, base * 2^attempt) seconds (AWS's "full jitter"), so
clients that failed together do not retry together. Callers keep their own loops where what they retry
is more than one call (a batch's leftovers, a paced group); `call` and `call_async` cover the simple case.
"""

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from reels_live.core import clock


@dataclass(frozen=True)
class Backoff:
    """How many attempts, and how long to wait before each retry."""

    attempts: int
    base_seconds: float
    cap_seconds: float = float("inf")

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (0-based)."""
        return random.uniform(0, min(self.cap_seconds, self.base_seconds * 2**attempt))


class RetriesExhausted(Exception):
    """Every attempt failed with a retryable error; `__cause__` is the last one."""

    def __init__(self, attempts: int, last: BaseException) -> None:
        super().__init__(f"failed after {attempts} attempts: {last}")
        self.attempts = attempts
        self.last = last


def call[T](
    work: Callable[[], T],
    *,
    backoff: Backoff,
    retryable: Callable[[BaseException], bool],
    sleep: Callable[[float], None] = clock.sleep,
) -> T:
    """`work()`, retried after retryable errors; a non-retryable error propagates at once."""
    for attempt in range(backoff.attempts):
        try:
            return work()
        except Exception as error:
            if not retryable(error):
                raise
            if attempt + 1 == backoff.attempts:
                raise RetriesExhausted(backoff.attempts, error) from error
            sleep(backoff.delay(attempt))
    raise AssertionError("unreachable")


async def call_async[T](
    work: Callable[[], Awaitable[T]],
    *,
    backoff: Backoff,
    retryable: Callable[[BaseException], bool],
    sleep: Callable[[float], Awaitable[None]],
) -> T:
    """The asynchronous twin of `call` (LiveKit's client is asyncio)."""
    for attempt in range(backoff.attempts):
        try:
            return await work()
        except Exception as error:
            if not retryable(error):
                raise
            if attempt + 1 == backoff.attempts:
                raise RetriesExhausted(backoff.attempts, error) from error
            await sleep(backoff.delay(attempt))
    raise AssertionError("unreachable")
