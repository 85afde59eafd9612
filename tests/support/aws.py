"""Reading the test stack's table (moto) for assertions."""

from typing import Any

import boto3

from reels_live.store import table
from tests.support import stack

REGION = "us-east-1"


def table_name() -> str:
    return stack.current().refs["Table"]


def items(prefix: str | None = None) -> list[dict[str, Any]]:
    """Every item in the table (optionally those whose PK starts with `prefix`), as plain Python values."""
    client = boto3.client("dynamodb", region_name=REGION)
    found: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table_name()}
    while True:
        page = client.scan(**kwargs)
        found += [table.from_attributes(item) for item in page["Items"]]
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return [item for item in found if prefix is None or item["PK"].startswith(prefix)]


def item(pk: str, sk: str) -> dict[str, Any] | None:
    client = boto3.client("dynamodb", region_name=REGION)
    key = table.to_attributes({"PK": pk, "SK": sk})
    found = client.get_item(TableName=table_name(), Key=key, ConsistentRead=True).get("Item")
    return table.from_attributes(found) if found else None


def stream(stream_id: str) -> dict[str, Any] | None:
    return item(f"STREAM#{stream_id}", "STREAM")
