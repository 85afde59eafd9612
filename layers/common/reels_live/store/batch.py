"""BatchGetItem and BatchWriteItem with their unprocessed leftovers retried (DynamoDB may return some)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from reels_live.core import clock, retry
from reels_live.store.table import client, from_attributes, name, to_attributes

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import (
        KeysAndAttributesTypeDef,
        KeysAndAttributesUnionTypeDef,
        WriteRequestUnionTypeDef,
    )

GET_LIMIT = 100
WRITE_LIMIT = 25
ATTEMPTS = 6
# Full jitter, 50 ms doubling: what DynamoDB's guidance asks of callers retrying unprocessed items.
_BACKOFF = retry.Backoff(attempts=ATTEMPTS, base_seconds=0.05)


class Unprocessed(Exception):
    """DynamoDB kept returning unprocessed items after every retry (sustained throttling)."""


def get_items(
    keys: Sequence[Mapping[str, str]], *, projection: str | None = None, consistent: bool = False
) -> list[dict[str, Any]]:
    """Every item that exists among `keys`, in batches of 100 (order not kept)."""
    found: list[dict[str, Any]] = []
    for batch in _batches(keys, GET_LIMIT):
        request: KeysAndAttributesTypeDef = {"Keys": [to_attributes(key) for key in batch]}
        if projection:
            request["ProjectionExpression"] = projection
        if consistent:
            request["ConsistentRead"] = True
        pending: Mapping[str, KeysAndAttributesUnionTypeDef] = {name(): request}
        for attempt in range(ATTEMPTS):
            response = client().batch_get_item(RequestItems=pending)
            found += [from_attributes(item) for item in response["Responses"].get(name(), [])]
            pending = response.get("UnprocessedKeys") or {}
            if not pending:
                break
            _back_off(attempt)
        else:
            raise Unprocessed(f"{len(pending[name()]['Keys'])} keys unread")
    return found


def put_items(items: Sequence[Mapping[str, object]]) -> int:
    """Write (overwrite) items in batches of 25; returns the number of BatchWriteItem calls."""
    calls = 0
    for batch in _batches(items, WRITE_LIMIT):
        pending: Sequence[WriteRequestUnionTypeDef] = [
            {"PutRequest": {"Item": to_attributes(item)}} for item in batch
        ]
        for attempt in range(ATTEMPTS):
            calls += 1
            response = client().batch_write_item(RequestItems={name(): pending})
            pending = (response.get("UnprocessedItems") or {}).get(name(), [])
            if not pending:
                break
            _back_off(attempt)
        else:
            raise Unprocessed(f"{len(pending)} items unwritten")
    return calls


def _batches[T](values: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _back_off(attempt: int) -> None:
    clock.sleep(_BACKOFF.delay(attempt))
