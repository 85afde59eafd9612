"""Ids that sort by creation time (ULID layout: 48-bit milliseconds, 80 random bits, Crockford base32)."""

import os
from collections.abc import Callable

from reels_live.core import clock

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_random_bits: Callable[[], int] = lambda: int.from_bytes(os.urandom(10), "big")  # noqa: E731


def new_id() -> str:
    """A 26-character id; ids made later sort after ids made earlier (millisecond resolution)."""
    value = (clock.now_ms() << 80) | _random_bits()
    chars = []
    for _ in range(26):
        value, index = divmod(value, 32)
        chars.append(_ALPHABET[index])
    return "".join(reversed(chars))


def set_random_source(source: Callable[[], int]) -> Callable[[], int]:
    """Replace the 80-bit random part (tests); returns the previous source."""
    global _random_bits
    previous, _random_bits = _random_bits, source
    return previous
