"""What LiveKit reports, kept in the table: snapshot reads and all-or-nothing, versioned commits.

A change is decided on a snapshot (the stream, and the participant and session an event is about) and
committed in one transaction that holds only if every item is still as read: stream, participant and
session carry a `version` that each commit checks and bumps. A concurrent writer makes the commit fail with
`Conflict`; the caller reads again and decides again. The webhook event's id is written in the same
transaction, so an event is remembered as applied exactly when its change is.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal, Unpack, overload

from botocore.exceptions import ClientError

from reels_live.entities.live import Change, Snapshot
from reels_live.entities.participants import Participant, Session
from reels_live.entities.streams import Stream
from reels_live.store import batch, keys
from reels_live.store.streams import release_lock_action, watch_index
from reels_live.store.table import cancellation_codes, client, from_attributes, name, to_attributes

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import QueryInputTypeDef, TransactWriteItemTypeDef

# What a versioned commit writes: the items that carry a `version`.
type _Versioned = Stream | Participant | Session


class Conflict(Exception):
    """An item changed since it was read; read again and decide again."""


class EventAlreadyApplied(Exception):
    """This webhook event's change was committed before (a retry or a duplicate delivery)."""


def read(
    stream_id: str, *, user_id: str | None = None, sid: str | None = None, event_id: str | None = None
) -> Snapshot | None:
    """One BatchGetItem for the stream and what the event touches; None when the stream is unknown."""
    wanted = {"stream": keys.stream(stream_id)}
    if user_id is not None:
        wanted["participant"] = keys.participant(stream_id, user_id)
    if sid is not None:
        wanted["session"] = keys.session(stream_id, sid)
    if event_id is not None:
        wanted["event"] = keys.webhook_event(event_id)
    found = batch.get_items(list(wanted.values()), consistent=True)
    by_key = {(item[keys.PK], item[keys.SK]): item for item in found}
    items = {role: by_key.get((key[keys.PK], key[keys.SK])) for role, key in wanted.items()}
    if items["stream"] is None:
        return None
    participant, session = items.get("participant"), items.get("session")
    return Snapshot(
        stream=Stream.model_validate(items["stream"]),
        participant=Participant.model_validate(participant) if participant else None,
        session=Session.model_validate(session) if session else None,
        event_applied=items.get("event") is not None,
    )


def read_streams(stream_ids: list[str]) -> dict[str, Stream]:
    """Streams by id, 100 keys a BatchGetItem (eventually consistent: commits check versions anyway)."""
    found = batch.get_items([keys.stream(stream_id) for stream_id in stream_ids])
    return {stream.stream_id: stream for stream in map(Stream.model_validate, found)}


def open_sessions(stream_id: str) -> list[Session]:
    """The stream's sessions still connected (Query on its partition; closed ones are filtered out)."""
    return [
        Session.model_validate(item)
        for item in _query(
            TableName=name(),
            KeyConditionExpression="PK = :pk AND begins_with(SK, :prefix)",
            FilterExpression="connected = :yes",
            ExpressionAttributeValues=to_attributes(
                {":pk": keys.stream_partition(stream_id), ":prefix": keys.SESSION_PREFIX, ":yes": True}
            ),
        )
    ]


def commit(before: Snapshot, change: Change, *, event_id: str | None, event: str, expires_at_s: int) -> None:
    """Write `change` if nothing changed since `before` was read; raises Conflict or EventAlreadyApplied."""
    actions: list[TransactWriteItemTypeDef] = []
    if event_id is not None:
        record = {
            **keys.webhook_event(event_id),
            keys.ENTITY: "webhookEvent",
            "event": event,
            "streamId": change.stream.stream_id,
            keys.TTL_ATTRIBUTE: expires_at_s,
        }
        actions.append(
            {
                "Put": {
                    "TableName": name(),
                    "Item": to_attributes(record),
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            }
        )
    stream_key = keys.stream(change.stream.stream_id)
    index_before, index_after = watch_index(before.stream), watch_index(change.stream)
    extra = {} if index_after == index_before else _index_update(index_after)
    actions.append(_versioned(stream_key, before.stream, change.stream, extra=extra, always_check=True))
    if change.release_lock:
        actions.append(release_lock_action(change.stream))
    if change.participant is not None:
        key = keys.participant(change.stream.stream_id, change.participant.user_id)
        action = _versioned(key, before.participant, change.participant, entity="participant")
        if action:
            actions.append(action)
    if change.session is not None:
        key = keys.session(change.stream.stream_id, change.session.sid)
        action = _versioned(key, before.session, change.session, entity="session")
        if action:
            actions.append(action)
    if change.reel is not None:
        reel = {
            **change.reel.model_dump(by_alias=True, exclude_none=True),
            **keys.reel(change.reel.reel_id),
            **keys.author_reels(change.reel.author_id, change.reel.reel_id),
            keys.ENTITY: "reel",
        }
        actions.append(
            {
                "Put": {
                    "TableName": name(),
                    "Item": to_attributes(reel),
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            }
        )
    try:
        client().transact_write_items(TransactItems=actions)
    except ClientError as error:
        codes = cancellation_codes(error)
        if event_id is not None and codes[:1] == ["ConditionalCheckFailed"]:
            raise EventAlreadyApplied from error
        if codes or error.response["Error"]["Code"] == "TransactionConflictException":
            raise Conflict from error
        raise


def clear_go_live_pending(stream_id: str) -> None:
    """The go-live message is on the queue: drop the outbox marker (no version bump: no decision reads it)."""
    try:
        client().update_item(
            TableName=name(),
            Key=to_attributes(keys.stream(stream_id)),
            UpdateExpression="REMOVE goLivePending",
            ConditionExpression="attribute_exists(goLivePending)",
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise


def watched_stream_ids(prefix: str, shard: int) -> Iterator[tuple[str, int]]:
    """(stream id, since) of one GSI2 shard (PREPARING, LIVE or SETTLING), paged by key, oldest first."""
    for item in _query(
        TableName=name(),
        IndexName=keys.GSI2,
        KeyConditionExpression="GSI2PK = :pk",
        ExpressionAttributeValues=to_attributes({":pk": keys.status_partition(prefix, shard)}),
    ):
        yield keys.stream_id_of_status_key(item[keys.GSI2SK])


@overload
def _versioned(
    key: Mapping[str, str],
    before: _Versioned | None,
    after: _Versioned,
    *,
    entity: str | None = None,
    extra: Mapping[str, object] | None = None,
    always_check: Literal[True],
) -> TransactWriteItemTypeDef: ...
@overload
def _versioned(
    key: Mapping[str, str],
    before: _Versioned | None,
    after: _Versioned,
    *,
    entity: str | None = None,
    extra: Mapping[str, object] | None = None,
    always_check: bool = False,
) -> TransactWriteItemTypeDef | None: ...
def _versioned(
    key: Mapping[str, str],
    before: _Versioned | None,
    after: _Versioned,
    *,
    entity: str | None = None,
    extra: Mapping[str, object] | None = None,
    always_check: bool = False,
) -> TransactWriteItemTypeDef | None:
    """Create the item (it did not exist) or update what changed, if its version is still the one read."""
    if before is None:
        item = {**after.model_dump(by_alias=True, exclude_none=True), **key, "version": 1}
        if entity:
            item[keys.ENTITY] = entity
        return {
            "Put": {
                "TableName": name(),
                "Item": to_attributes(item),
                "ConditionExpression": "attribute_not_exists(PK)",
            }
        }
    old = before.model_dump(by_alias=True, exclude_none=True)
    new = after.model_dump(by_alias=True, exclude_none=True)
    changed = {k: v for k, v in new.items() if k != "version" and old.get(k) != v}
    removed = [k for k in old if k not in new and k != "version"]
    extra = dict(extra or {})
    set_values = {**changed, **{k: v for k, v in extra.items() if v is not None}}
    removed += [k for k, v in extra.items() if v is None]
    condition_values = {":expected": before.version}
    condition = (
        "#version = :expected" if before.version else "attribute_not_exists(#version) OR #version = :expected"
    )
    if not set_values and not removed:
        if not always_check:
            return None
        return {
            "ConditionCheck": {
                "TableName": name(),
                "Key": to_attributes(key),
                "ConditionExpression": condition,
                "ExpressionAttributeNames": {"#version": "version"},
                "ExpressionAttributeValues": to_attributes(condition_values),
            }
        }
    names = {"#version": "version"}
    values: dict[str, object] = {**condition_values, ":next": before.version + 1}
    assignments = ["#version = :next"]
    for index, (attribute, value) in enumerate(sorted(set_values.items())):
        names[f"#s{index}"] = attribute
        values[f":s{index}"] = value
        assignments.append(f"#s{index} = :s{index}")
    expression = "SET " + ", ".join(assignments)
    if removed:
        for index, attribute in enumerate(sorted(removed)):
            names[f"#r{index}"] = attribute
        expression += " REMOVE " + ", ".join(f"#r{index}" for index in range(len(removed)))
    return {
        "Update": {
            "TableName": name(),
            "Key": to_attributes(key),
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": to_attributes(values),
        }
    }


def _index_update(index: Mapping[str, str] | None) -> dict[str, str | None]:
    if index is None:
        return {keys.GSI2PK: None, keys.GSI2SK: None}
    return dict(index)


def _query(**request: Unpack[QueryInputTypeDef]) -> Iterator[dict[str, Any]]:
    while True:
        page = client().query(**request)
        yield from (from_attributes(item) for item in page["Items"])
        if "LastEvaluatedKey" not in page:
            return
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
