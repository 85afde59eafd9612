"""The test stack's AWS (moto): the table, read and written by keys from reels_live.store.keys (never spelled
here), and the SNS client push tests inspect endpoints with."""

from collections.abc import Mapping
from typing import Any

import boto3

from reels_live.store import table
from tests.support import stack

REGION = "us-east-1"


def table_name() -> str:
    return stack.current().refs["Table"]


def _client() -> Any:
    return boto3.client("dynamodb", region_name=REGION)


def items(prefix: str | None = None) -> list[dict[str, Any]]:
    """Every item in the table (optionally those whose PK starts with `prefix`), as plain Python values."""
    client = _client()
    found: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table_name()}
    while True:
        page = client.scan(**kwargs)
        found += [table.from_attributes(item) for item in page["Items"]]
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return [item for item in found if prefix is None or item["PK"].startswith(prefix)]


def get(key: Mapping[str, str]) -> dict[str, Any] | None:
    """The item at a key made by reels_live.store.keys (`get(keys.stream(id))`), read consistently."""
    found = _client().get_item(TableName=table_name(), Key=table.to_attributes(key), ConsistentRead=True)
    return table.from_attributes(found["Item"]) if "Item" in found else None


def put(item: Mapping[str, Any]) -> None:
    """Write an item as it stands (its key from reels_live.store.keys), as other code would have left it."""
    _client().put_item(TableName=table_name(), Item=table.to_attributes(dict(item)))


def update(key: Mapping[str, str], **update: Any) -> None:
    """UpdateItem at a key made by reels_live.store.keys; `update` is the expression and its values."""
    _client().update_item(TableName=table_name(), Key=table.to_attributes(key), **update)


def sns() -> Any:
    return boto3.client("sns", region_name=REGION)
