"""Opaque page cursors: DynamoDB's LastEvaluatedKey for the client to hand back, checked on the way in.

A cursor is only ever a position inside the partition the query is already pinned to, so a forged one
can move a page within that list but never read another partition.
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING

from reels_live.core.encoding import b64url_decode, b64url_encode
from reels_live.store.table import from_attributes

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import QueryOutputTypeDef


class InvalidCursor(Exception):
    """The cursor was not made by this query."""


def encode(last_key: Mapping[str, str] | None) -> str | None:
    """A URL-safe cursor for the next page, or None on the last page."""
    if not last_key:
        return None
    raw = json.dumps(dict(last_key), separators=(",", ":"), sort_keys=True).encode()
    return b64url_encode(raw)


def decode(
    cursor: str | None, *, pinned: Mapping[str, str], prefixes: Mapping[str, str]
) -> dict[str, str] | None:
    """The start key a cursor stands for; `pinned` attributes must match exactly, the rest by prefix."""
    if cursor is None:
        return None
    try:
        data = json.loads(b64url_decode(cursor))
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


def after(response: QueryOutputTypeDef) -> str | None:
    """The cursor after a Query page (its LastEvaluatedKey), or None on the last page."""
    last = response.get("LastEvaluatedKey")
    return encode(from_attributes(last)) if last else None
