"""Opaque page cursors: DynamoDB's LastEvaluatedKey for the client to hand back, checked on the way in.

A cursor is only ever a position inside the partition the query is already pinned to, so a forged one
can move a page within that list but never read another partition.
"""

import base64
import binascii
import json
from collections.abc import Mapping


class InvalidCursor(Exception):
    """The cursor was not made by this query."""


def encode(last_key: Mapping[str, str] | None) -> str | None:
    """A URL-safe cursor for the next page, or None on the last page."""
    if not last_key:
        return None
    raw = json.dumps(dict(last_key), separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode(
    cursor: str | None, *, pinned: Mapping[str, str], prefixes: Mapping[str, str]
) -> dict[str, str] | None:
    """The start key a cursor stands for; `pinned` attributes must match exactly, the rest by prefix."""
    if cursor is None:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError) as error:
        raise InvalidCursor from error
    expected = {*pinned, *prefixes}
    if not isinstance(data, dict) or set(data) != expected:
        raise InvalidCursor
    if not all(isinstance(value, str) for value in data.values()):
        raise InvalidCursor
    if any(data[name] != value for name, value in pinned.items()):
        raise InvalidCursor
    if any(not data[name].startswith(prefix) for name, prefix in prefixes.items()):
        raise InvalidCursor
    return data
