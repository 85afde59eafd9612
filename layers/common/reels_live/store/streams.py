"""Stream, participant, lock and quota items: the lifecycle's access patterns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from reels_live.entities.lifecycle import StreamStatus
from reels_live.entities.participants import Participant
from reels_live.entities.streams import Stream
from reels_live.store import keys
from reels_live.store.table import (
    cancellation_codes,
    client,
    from_attributes,
    get,
    is_condition_failure,
    name,
    to_attributes,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import PutTypeDef, TransactWriteItemTypeDef

HOUR_MS = 3_600_000


class ActiveStreamTaken(Exception):
    """The creator already holds the active-stream lock."""


class StatusChanged(Exception):
    """A conditional transition found the stream in another status than expected."""


def stream_item(stream: Stream) -> dict[str, Any]:
    """The full stream item: attributes, keys and the index entries its status calls for."""
    return {
        **stream.model_dump(by_alias=True, exclude_none=True),
        **keys.stream(stream.stream_id),
        **keys.author_streams(stream.author_id, stream.stream_id),
        **(watch_index(stream) or {}),
        keys.ENTITY: "stream",
    }


def watch_index(stream: Stream) -> dict[str, str] | None:
    """The stream's GSI2 entry: where the reconciler and the live list find it, None once nothing is left
    to watch. Preparing by creation, live by start (the live list's order), ended-but-unsettled by end."""
    if stream.status is StreamStatus.PREPARING:
        return keys.status_index(keys.PREPARING, stream.stream_id, stream.created_at)
    if stream.status is StreamStatus.LIVE:
        return keys.status_index(keys.LIVE, stream.stream_id, stream.started_at or stream.created_at)
    if not stream.is_settled:
        return keys.status_index(keys.SETTLING, stream.stream_id, stream.ended_at or stream.created_at)
    return None


def release_lock_action(stream: Stream) -> TransactWriteItemTypeDef:
    """Transaction action deleting the creator's active-stream lock, if it is this stream's."""
    return {
        "Delete": {
            "TableName": name(),
            "Key": to_attributes(keys.active_stream_lock(stream.author_id)),
            "ConditionExpression": "attribute_not_exists(PK) OR streamId = :stream",
            "ExpressionAttributeValues": to_attributes({":stream": stream.stream_id}),
        }
    }


def participant_item(participant: Participant) -> dict[str, Any]:
    return {
        **participant.model_dump(by_alias=True, exclude_none=True),
        **keys.participant(participant.stream_id, participant.user_id),
        keys.ENTITY: "participant",
    }


def get_stream(stream_id: str, *, consistent: bool = False) -> Stream | None:
    item = get(keys.stream(stream_id), consistent=consistent)
    return Stream.model_validate(item) if item else None


def get_active_stream_id(user_id: str) -> str | None:
    """The creator's preparing or live stream, read strongly so a just-ended stream is not reported."""
    item = get(keys.active_stream_lock(user_id), consistent=True)
    return item["streamId"] if item else None


def has_entitlement(user_id: str, stream_id: str) -> bool:
    return get(keys.entitlement(user_id, stream_id)) is not None


@dataclass(frozen=True)
class Quota:
    allowed: bool
    window_start_ms: int
    retry_after_seconds: int


def consume_create_quota(user_id: str, now_ms: int, limit_per_hour: int) -> Quota:
    """Count one stream creation in the current hour's window (fixed windows, item expires with it)."""
    window_start = now_ms - now_ms % HOUR_MS
    window_end = window_start + HOUR_MS
    retry_after = max(1, -(-(window_end - now_ms) // 1000))
    try:
        client().update_item(
            TableName=name(),
            Key=to_attributes(keys.create_quota(user_id, window_start)),
            UpdateExpression="ADD #count :one SET #expires = :expires, #entity = :entity",
            ConditionExpression="attribute_not_exists(#count) OR #count < :limit",
            ExpressionAttributeNames={
                "#count": "count",
                "#expires": keys.TTL_ATTRIBUTE,
                "#entity": keys.ENTITY,
            },
            ExpressionAttributeValues=to_attributes(
                {
                    ":one": 1,
                    ":limit": limit_per_hour,
                    ":expires": window_end // 1000 + 3600,
                    ":entity": "quota",
                }
            ),
        )
    except ClientError as error:
        if is_condition_failure(error):
            return Quota(False, window_start, retry_after)
        raise
    return Quota(True, window_start, retry_after)


def refund_create_quota(user_id: str, window_start_ms: int) -> None:
    """Give back a creation that did not happen (LiveKit was down), so retries are not punished."""
    client().update_item(
        TableName=name(),
        Key=to_attributes(keys.create_quota(user_id, window_start_ms)),
        UpdateExpression="ADD #count :minus_one",
        ConditionExpression="#count > :zero",
        ExpressionAttributeNames={"#count": "count"},
        ExpressionAttributeValues=to_attributes({":minus_one": -1, ":zero": 0}),
    )


def put_new_stream(stream: Stream, broadcaster: Participant) -> None:
    """Write the stream, its broadcaster and the creator's active-stream lock, all or nothing."""
    lock = {
        **keys.active_stream_lock(stream.author_id),
        keys.ENTITY: "activeStreamLock",
        "streamId": stream.stream_id,
        "createdAt": stream.created_at,
    }
    try:
        client().transact_write_items(
            TransactItems=[
                _put(stream_item(stream), "attribute_not_exists(PK)"),
                _put(participant_item(broadcaster), None),
                _put(lock, "attribute_not_exists(PK)"),
            ]
        )
    except ClientError as error:
        codes = cancellation_codes(error)
        if len(codes) == 3 and codes[2] == "ConditionalCheckFailed":
            raise ActiveStreamTaken from error
        raise


def record_admission(stream_id: str, user_id: str, role: str, now_ms: int) -> Participant:
    """Upsert the participant: the role and first admission stay, the last admission moves."""
    response = client().update_item(
        TableName=name(),
        Key=to_attributes(keys.participant(stream_id, user_id)),
        UpdateExpression=(
            "SET streamId = :stream, userId = :user, #role = if_not_exists(#role, :role), "
            "joinedAt = if_not_exists(joinedAt, :now), lastAdmittedAt = :now, #entity = :entity"
        ),
        ExpressionAttributeNames={"#role": "role", "#entity": keys.ENTITY},
        ExpressionAttributeValues=to_attributes(
            {":stream": stream_id, ":user": user_id, ":role": role, ":now": now_ms, ":entity": "participant"}
        ),
        ReturnValues="ALL_NEW",
    )
    return Participant.model_validate(from_attributes(response["Attributes"]))


def end_stream(stream: Stream, *, ended_at: int, save_as_reel: bool, reason: str) -> Stream:
    """Move a preparing or live stream to ended and release the creator's lock, in one transaction.

    Conditional on the status read by the caller, so the duration computed from `startedAt` is right;
    raises StatusChanged when another writer (a webhook) moved the stream first. The stream stays on GSI2
    (SETTLING) until LiveKit confirms its room is gone and its sessions and recording are settled. The
    version goes up, so the webhooks' versioned commits see that the stream changed under them.
    """
    ended = stream.ended(ended_at, reason=reason, save_as_reel=save_as_reel)
    index = watch_index(ended)
    values: dict[str, object] = {
        ":ended": StreamStatus.ENDED.value,
        ":expected": stream.status.value,
        ":ended_at": ended_at,
        ":duration": ended.duration_ms,
        ":save": save_as_reel,
        ":reason": reason,
        ":one": 1,
    }
    index_expression = "REMOVE GSI2PK, GSI2SK"
    if index is not None:
        index_expression = ", GSI2PK = :gsi2pk, GSI2SK = :gsi2sk"
        values.update({":gsi2pk": index[keys.GSI2PK], ":gsi2sk": index[keys.GSI2SK]})
    set_expression = (
        "SET #status = :ended, endedAt = :ended_at, durationMs = :duration, saveAsReel = :save, "
        "endReason = :reason"
    )
    expression = (
        f"{set_expression}{index_expression} ADD #version :one"
        if index is not None
        else f"{set_expression} ADD #version :one {index_expression}"
    )
    try:
        client().transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": name(),
                        "Key": to_attributes(keys.stream(stream.stream_id)),
                        "UpdateExpression": expression,
                        "ConditionExpression": "#status = :expected",
                        "ExpressionAttributeNames": {"#status": "status", "#version": "version"},
                        "ExpressionAttributeValues": to_attributes(values),
                    }
                },
                release_lock_action(stream),
            ]
        )
    except ClientError as error:
        if cancellation_codes(error)[:1] == ["ConditionalCheckFailed"]:
            raise StatusChanged from error
        raise
    return ended


def _put(item: Mapping[str, object], condition: str | None) -> TransactWriteItemTypeDef:
    put: PutTypeDef = {"TableName": name(), "Item": to_attributes(item)}
    if condition:
        put["ConditionExpression"] = condition
    return {"Put": put}


__all__ = [
    "ActiveStreamTaken",
    "Quota",
    "StatusChanged",
    "consume_create_quota",
    "end_stream",
    "get_active_stream_id",
    "get_stream",
    "has_entitlement",
    "put_new_stream",
    "record_admission",
    "refund_create_quota",
]
