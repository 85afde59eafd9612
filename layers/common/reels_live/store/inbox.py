"""The in-app inbox: `USER#id / INBOX#<notificationId>` items, newest first, expiring by TTL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from reels_live.entities.notifications import Notification
from reels_live.store import cursors, keys
from reels_live.store.table import (
    client,
    from_attributes,
    is_condition_failure,
    name,
    to_attributes,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import QueryInputTypeDef


@dataclass(frozen=True)
class NotificationPageData:
    items: list[Notification]
    cursor: str | None


def inbox(user_id: str, *, limit: int, cursor: str | None, now_s: int) -> NotificationPageData:
    """The user's in-app notifications, newest first; expired ones (TTL not yet applied) are left out."""
    partition = keys.user_partition(user_id)
    start = cursors.decode(cursor, pinned={keys.PK: partition}, prefixes={keys.SK: keys.INBOX_PREFIX})
    request: QueryInputTypeDef = {
        "TableName": name(),
        "KeyConditionExpression": "PK = :partition AND begins_with(SK, :prefix)",
        "FilterExpression": "#expires > :now",
        "ExpressionAttributeNames": {"#expires": keys.TTL_ATTRIBUTE},
        "ExpressionAttributeValues": to_attributes(
            {":partition": partition, ":prefix": keys.INBOX_PREFIX, ":now": now_s}
        ),
        "ScanIndexForward": False,
        "Limit": limit,
    }
    if start:
        request["ExclusiveStartKey"] = to_attributes(start)
    response = client().query(**request)
    items = [Notification.model_validate(from_attributes(item)) for item in response["Items"]]
    return NotificationPageData(items, cursors.after(response))


def mark_read(user_id: str, notification_id: str, *, now_ms: int) -> Notification | None:
    """Set `readAt` once (a repeated mark keeps the first time); None if there is no such notification."""
    try:
        response = client().update_item(
            TableName=name(),
            Key=to_attributes(keys.inbox(user_id, notification_id)),
            UpdateExpression="SET readAt = if_not_exists(readAt, :now)",
            ConditionExpression="attribute_exists(PK)",
            ExpressionAttributeValues=to_attributes({":now": now_ms}),
            ReturnValues="ALL_NEW",
        )
    except ClientError as error:
        if is_condition_failure(error):
            return None
        raise
    return Notification.model_validate(from_attributes(response["Attributes"]))


def inbox_item(user_id: str, notification: Notification, *, expires_at_s: int) -> dict[str, Any]:
    """The stored form of an in-app notification (written in batches by the fan-out)."""
    return {
        **notification.model_dump(by_alias=True, exclude_none=True, mode="json"),
        **keys.inbox(user_id, notification.notification_id),
        keys.ENTITY: "notification",
        keys.TTL_ATTRIBUTE: expires_at_s,
    }
