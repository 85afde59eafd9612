"""The go-live fan-out's items: announcements, follower pages, recipients, alert markers, inbox writes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from reels_live.entities.notifications import (
    AlertClaim,
    AlertState,
    Announcement,
    AnnouncementStatus,
    Claim,
    GoLiveContent,
    Recipient,
)
from reels_live.entities.people import Profile
from reels_live.store import batch, keys
from reels_live.store.devices import devices_from_item
from reels_live.store.follows import followers_query
from reels_live.store.preferences import preferences_from_item
from reels_live.store.table import client, from_attributes, is_condition_failure, name, to_attributes

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, UpdateItemInputTypeDef

# An alert marker outlives its cooldown by a day, so a chunk replayed from the DLQ within a day still finds
# whom it already reached.
ALERT_MEMORY_MS = 86_400_000


class LeaseLost(Exception):
    """Another invocation took over the announcement (ours outlived its lease)."""


# ---------------------------------------------------------------- announcements


def claim_announcement(
    stream_id: str, *, token: str, now_ms: int, lease_until_ms: int, expires_at_s: int
) -> Announcement | None:
    """Take the stream's fan-out: the first go-live message creates it; a retry resumes one whose owner
    crashed (lease lapsed). None for a duplicate: the announcement is finished or someone holds it."""
    try:
        response = client().update_item(
            TableName=name(),
            Key=to_attributes(keys.announcement(stream_id)),
            UpdateExpression=(
                "SET leaseToken = :token, leaseUntil = :lease, streamId = :stream, "
                "createdAt = if_not_exists(createdAt, :now), #status = if_not_exists(#status, :claimed), "
                "#entity = :entity, #expires = if_not_exists(#expires, :expires)"
            ),
            ConditionExpression=(
                "attribute_not_exists(PK) OR ((#status = :claimed OR #status = :fanning) AND leaseUntil <= :now)"
            ),
            ExpressionAttributeNames={
                "#status": "status",
                "#entity": keys.ENTITY,
                "#expires": keys.TTL_ATTRIBUTE,
            },
            ExpressionAttributeValues=to_attributes(
                {
                    ":token": token,
                    ":lease": lease_until_ms,
                    ":stream": stream_id,
                    ":now": now_ms,
                    ":claimed": AnnouncementStatus.CLAIMED.value,
                    ":fanning": AnnouncementStatus.FANNING_OUT.value,
                    ":entity": "announcement",
                    ":expires": expires_at_s,
                }
            ),
            ReturnValues="ALL_NEW",
        )
    except ClientError as error:
        if is_condition_failure(error):
            return None
        raise
    return Announcement.model_validate(from_attributes(response["Attributes"]))


def start_fanout(stream_id: str, token: str, content: GoLiveContent) -> None:
    _update_owned(
        stream_id,
        token,
        "SET content = :content, #status = :fanning",
        {":content": content.model_dump(by_alias=True, exclude_none=True), ":fanning": "fanning_out"},
    )


def checkpoint(
    stream_id: str, token: str, *, cursor: str | None, pages: int, chunks: int, recipients: int
) -> None:
    """Remember how far the paging got, so a crashed or continued fan-out resumes after this page."""
    expression = "SET pages = :pages, chunks = :chunks, recipients = :recipients"
    values: dict[str, object] = {":pages": pages, ":chunks": chunks, ":recipients": recipients}
    if cursor is None:
        expression += " REMOVE #cursor"
    else:
        expression += ", #cursor = :cursor"
        values[":cursor"] = cursor
    _update_owned(stream_id, token, expression, values, names={"#cursor": "cursor"})


def finish(stream_id: str, token: str, status: AnnouncementStatus, *, reason: str | None = None) -> None:
    values: dict[str, object] = {":status": status.value, ":zero": 0}
    expression = "SET #status = :status, leaseUntil = :zero"
    if reason:
        expression += ", reason = :reason"
        values[":reason"] = reason
    _update_owned(stream_id, token, expression, values)


def release(stream_id: str, token: str) -> None:
    """Let the next go-live message take over at once (a continuation), instead of after the lease."""
    _update_owned(stream_id, token, "SET leaseUntil = :zero", {":zero": 0})


def _update_owned(
    stream_id: str,
    token: str,
    expression: str,
    values: Mapping[str, object],
    *,
    names: dict[str, str] | None = None,
) -> None:
    # DynamoDB rejects unused attribute names, so pass only those the expression mentions.
    used = {key: value for key, value in {"#status": "status", **(names or {})}.items() if key in expression}
    request: UpdateItemInputTypeDef = {
        "TableName": name(),
        "Key": to_attributes(keys.announcement(stream_id)),
        "UpdateExpression": expression,
        "ConditionExpression": "leaseToken = :token",
        "ExpressionAttributeValues": to_attributes({**values, ":token": token}),
    }
    if used:
        request["ExpressionAttributeNames"] = used
    try:
        client().update_item(**request)
    except ClientError as error:
        if is_condition_failure(error):
            raise LeaseLost from error
        raise


# ---------------------------------------------------------------- followers and recipients


@dataclass(frozen=True)
class FollowerPage:
    user_ids: list[str]
    cursor: str | None


def follower_ids(creator_id: str, *, cursor: str | None, limit: int) -> FollowerPage:
    """One page of a creator's follower ids (GSI1, the id only, in key order)."""
    items, next_cursor = followers_query(
        creator_id, cursor=cursor, limit=limit, projection="followerId", newest_first=False
    )
    return FollowerPage([item["followerId"] for item in items], next_cursor)


def recipients(user_ids: list[str]) -> dict[str, Recipient]:
    """Profile (name, verified email), preferences and devices of each user: three keys each, batched."""
    wanted = list(dict.fromkeys(user_ids))
    requested = [
        key
        for user_id in wanted
        for key in (keys.profile(user_id), keys.preferences(user_id), keys.devices(user_id))
    ]
    by_user: dict[str, dict[str, dict[str, Any]]] = {user_id: {} for user_id in wanted}
    for item in batch.get_items(requested):
        user_id = item[keys.PK].removeprefix(keys.USER_PREFIX)
        if user_id in by_user:
            by_user[user_id][item[keys.SK]] = item
    found = {}
    for user_id, items in by_user.items():
        profile_item = items.get(keys.PROFILE_SK)
        profile = Profile.model_validate(profile_item) if profile_item else None
        found[user_id] = Recipient(
            user_id=user_id,
            display_name=profile.display_name if profile else None,
            email=profile.email if profile else None,
            preferences=preferences_from_item(items.get(keys.PREFERENCES_SK)),
            devices=list(devices_from_item(items.get(keys.DEVICES_SK)).values()),
        )
    return found


# ---------------------------------------------------------------- alert markers (delivery + cooldown)


def claim_alert(
    user_id: str, creator_id: str, stream_id: str, *, now_ms: int, lease_until_ms: int, cooldown_until_ms: int
) -> AlertClaim:
    """Reserve one user for one stream's alert (conditional write): a fresh claim when they never heard of
    this creator or the cooldown is over; a resumed one when an earlier attempt's lease lapsed."""
    try:
        client().update_item(
            TableName=name(),
            Key=to_attributes(keys.alert(user_id, creator_id)),
            UpdateExpression=(
                "SET userId = :user, creatorId = :creator, streamId = :stream, #state = :claimed, "
                "leaseUntil = :lease, cooldownUntil = :cooldown, updatedAt = :now, #entity = :entity, "
                "#expires = :expires"
            ),
            ConditionExpression="attribute_not_exists(PK) OR (streamId <> :stream AND cooldownUntil <= :now)",
            ExpressionAttributeNames={
                "#state": "state",
                "#entity": keys.ENTITY,
                "#expires": keys.TTL_ATTRIBUTE,
            },
            ExpressionAttributeValues=to_attributes(
                {
                    ":user": user_id,
                    ":creator": creator_id,
                    ":stream": stream_id,
                    ":claimed": AlertState.CLAIMED.value,
                    ":lease": lease_until_ms,
                    ":cooldown": cooldown_until_ms,
                    ":now": now_ms,
                    ":entity": "alert",
                    ":expires": _alert_expiry_s(cooldown_until_ms, now_ms),
                }
            ),
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
        return AlertClaim(Claim.FRESH, cooldown_until_ms)
    except ClientError as error:
        if not is_condition_failure(error):
            raise
        # With ReturnValuesOnConditionCheckFailure the error carries the item, which the stubs' ClientError
        # response does not declare.
        item = cast("Mapping[str, AttributeValueTypeDef] | None", error.response.get("Item"))
        old = from_attributes(item or {})
    if old.get("streamId") != stream_id:
        return AlertClaim(Claim.COOLDOWN, int(old.get("cooldownUntil", 0)))
    if old.get("state") == AlertState.DELIVERED:
        return AlertClaim(Claim.ALREADY_NOTIFIED, int(old["cooldownUntil"]))
    if int(old.get("leaseUntil", 0)) > now_ms:
        return AlertClaim(Claim.IN_PROGRESS, int(old["cooldownUntil"]))
    return _resume_alert(user_id, creator_id, stream_id, now_ms=now_ms, lease_until_ms=lease_until_ms)


def _resume_alert(
    user_id: str, creator_id: str, stream_id: str, *, now_ms: int, lease_until_ms: int
) -> AlertClaim:
    """Take over a lapsed claim for the same stream, keeping what the earlier attempt recorded."""
    try:
        response = client().update_item(
            TableName=name(),
            Key=to_attributes(keys.alert(user_id, creator_id)),
            UpdateExpression="SET leaseUntil = :lease, updatedAt = :now",
            ConditionExpression="streamId = :stream AND #state <> :delivered AND leaseUntil <= :now",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues=to_attributes(
                {
                    ":lease": lease_until_ms,
                    ":now": now_ms,
                    ":stream": stream_id,
                    ":delivered": AlertState.DELIVERED.value,
                }
            ),
            ReturnValues="ALL_NEW",
        )
    except ClientError as error:
        if is_condition_failure(error):
            # Someone else resumed it between our two writes.
            return AlertClaim(Claim.IN_PROGRESS, 0)
        raise
    item = from_attributes(response["Attributes"])
    outcome = Claim.EMAIL_ONLY if item["state"] == AlertState.EMAIL_PENDING else Claim.RESUMED
    return AlertClaim(outcome, int(item["cooldownUntil"]))


def alert_item(
    user_id: str, creator_id: str, stream_id: str, state: AlertState, *, cooldown_until_ms: int, now_ms: int
) -> dict[str, Any]:
    """The marker as a whole item (written with batch puts once a step is done; the claim is ours)."""
    return {
        **keys.alert(user_id, creator_id),
        keys.ENTITY: "alert",
        "userId": user_id,
        "creatorId": creator_id,
        "streamId": stream_id,
        "state": state.value,
        "leaseUntil": 0,
        "cooldownUntil": cooldown_until_ms,
        "updatedAt": now_ms,
        keys.TTL_ATTRIBUTE: _alert_expiry_s(cooldown_until_ms, now_ms),
    }


def write(items: list[dict[str, Any]]) -> int:
    """Inbox items and alert markers together, 25 a call; returns the calls made."""
    return batch.put_items(items)


def _alert_expiry_s(cooldown_until_ms: int, now_ms: int) -> int:
    return max(cooldown_until_ms, now_ms + ALERT_MEMORY_MS) // 1000
