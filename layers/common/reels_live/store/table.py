"""Low-level helpers shared by the store modules: the client, (de)serialisation, condition failures."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from reels_live.core import aws
from reels_live.core.config import settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def client() -> DynamoDBClient:
    return aws.client("dynamodb")


def name() -> str:
    return settings().table_name


def to_attributes(values: Mapping[str, object]) -> dict[str, AttributeValueTypeDef]:
    """Python values to DynamoDB's typed form, leaving out None (absent attributes, not NULLs)."""
    return {key: _serializer.serialize(value) for key, value in values.items() if value is not None}


def from_attributes(item: Mapping[str, AttributeValueTypeDef]) -> dict[str, Any]:
    return {key: _deserializer.deserialize(value) for key, value in item.items()}


def is_condition_failure(error: ClientError) -> bool:
    return error.response["Error"]["Code"] == "ConditionalCheckFailedException"


def cancellation_codes(error: ClientError) -> list[str]:
    """Per-action codes of a cancelled transaction ('None' for actions that were fine)."""
    if error.response["Error"]["Code"] != "TransactionCanceledException":
        return []
    return [reason.get("Code", "None") for reason in error.response.get("CancellationReasons", [])]


def get(key: Mapping[str, str], *, consistent: bool = False) -> dict[str, Any] | None:
    response = client().get_item(TableName=name(), Key=to_attributes(key), ConsistentRead=consistent)
    item = response.get("Item")
    return from_attributes(item) if item else None
