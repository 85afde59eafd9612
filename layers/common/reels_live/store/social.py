"""Profiles, follow edges, notification preferences, push devices and the in-app inbox."""

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from reels_live.models import Device, Notification, NotificationPreferences, Profile
from reels_live.store import batch, cursors, keys
from reels_live.store.table import (
    cancellation_codes,
    client,
    from_attributes,
    get,
    is_condition_failure,
    name,
    to_attributes,
)

# Channel switches are flat attributes so one UpdateItem can flip one of them on an item that may not exist.
_CHANNEL_ATTRIBUTES = {"email": "goLiveEmail", "push": "goLivePush", "in_app": "goLiveInApp"}


class UserMissing(Exception):
    """The user to follow has no profile (unknown to this app)."""


class ConcurrentChange(Exception):
    """An optimistic write lost to another writer more times than it retried."""


# ---------------------------------------------------------------- profiles


def get_profile(user_id: str, *, consistent: bool = False) -> Profile | None:
    item = get(keys.profile(user_id), consistent=consistent)
    return Profile.model_validate(item) if item else None


def profile_item(profile: Profile) -> dict[str, Any]:
    return {
        **profile.model_dump(by_alias=True, exclude_none=True),
        **keys.profile(profile.user_id),
        keys.ENTITY: "profile",
    }


def create_profile(profile: Profile) -> Profile:
    """Store a new profile; if another request created it first, that one wins and is returned."""
    try:
        client().put_item(
            TableName=name(),
            Item=to_attributes(profile_item(profile)),
            ConditionExpression="attribute_not_exists(PK)",
        )
    except ClientError as error:
        if not is_condition_failure(error):
            raise
        existing = get_profile(profile.user_id, consistent=True)
        assert existing is not None
        return existing
    return profile


def update_profile(
    user_id: str, *, display_name: str, bio: str | None, email: str | None, drop_email: bool, now_ms: int
) -> Profile:
    """Set the editable fields (creating the profile if needed) and refresh the verified email."""
    sets = [
        "displayName = :name",
        "userId = :user",
        "updatedAt = :now",
        "createdAt = if_not_exists(createdAt, :now)",
        "followerCount = if_not_exists(followerCount, :zero)",
        "followingCount = if_not_exists(followingCount, :zero)",
        "#entity = :entity",
    ]
    removes = []
    values: dict[str, Any] = {
        ":name": display_name,
        ":user": user_id,
        ":now": now_ms,
        ":zero": 0,
        ":entity": "profile",
    }
    if bio is None:
        removes.append("bio")
    else:
        sets.append("bio = :bio")
        values[":bio"] = bio
    email_sets, email_removes, email_values = _email_update(email, drop_email)
    expression = "SET " + ", ".join(sets + email_sets)
    if removes + email_removes:
        expression += " REMOVE " + ", ".join(removes + email_removes)
    response = client().update_item(
        TableName=name(),
        Key=to_attributes(keys.profile(user_id)),
        UpdateExpression=expression,
        ExpressionAttributeNames={"#entity": keys.ENTITY},
        ExpressionAttributeValues=to_attributes({**values, **email_values}),
        ReturnValues="ALL_NEW",
    )
    return Profile.model_validate(from_attributes(response["Attributes"]))


def set_email(user_id: str, email: str | None, *, now_ms: int) -> None:
    """Store (or, with None, forget) the verified address on an existing profile."""
    sets, removes, values = _email_update(email, email is None)
    expression = "SET " + ", ".join([*sets, "updatedAt = :now"])
    if removes:
        expression += " REMOVE " + ", ".join(removes)
    try:
        client().update_item(
            TableName=name(),
            Key=to_attributes(keys.profile(user_id)),
            UpdateExpression=expression,
            ConditionExpression="attribute_exists(PK)",
            ExpressionAttributeValues=to_attributes({**values, ":now": now_ms}),
        )
    except ClientError as error:
        if not is_condition_failure(error):
            raise


def profiles(user_ids: list[str]) -> dict[str, Profile]:
    """Several profiles at once (BatchGetItem); unknown users are absent from the answer."""
    items = batch.get_items([keys.profile(user_id) for user_id in dict.fromkeys(user_ids)])
    return {item["userId"]: Profile.model_validate(item) for item in items}


def _email_update(email: str | None, drop: bool) -> tuple[list[str], list[str], dict[str, Any]]:
    if email is not None:
        return ["email = :email"], [], {":email": email}
    return [], (["email"] if drop else []), {}


# ---------------------------------------------------------------- follows


def follow_item(follower_id: str, creator_id: str, *, now_ms: int) -> dict[str, Any]:
    """The follow edge: in the follower's partition, and among the creator's followers on GSI1."""
    return {
        **keys.follow(follower_id, creator_id),
        **keys.followers_index(creator_id, now_ms, follower_id),
        keys.ENTITY: "follow",
        "followerId": follower_id,
        "creatorId": creator_id,
        "followedAt": now_ms,
    }


def follow(follower_id: str, creator_id: str, *, now_ms: int) -> bool:
    """Add the edge and both counts in one transaction; False when already following (nothing changes)."""
    try:
        client().transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": name(),
                        "Item": to_attributes(follow_item(follower_id, creator_id, now_ms=now_ms)),
                        "ConditionExpression": "attribute_not_exists(PK)",
                    }
                },
                _count(follower_id, "followingCount", +1, must_exist=False, now_ms=now_ms),
                _count(creator_id, "followerCount", +1, must_exist=True, now_ms=now_ms),
            ]
        )
    except ClientError as error:
        codes = cancellation_codes(error)
        if len(codes) == 3 and codes[2] == "ConditionalCheckFailed":
            raise UserMissing from error
        if codes[:1] == ["ConditionalCheckFailed"]:
            return False
        raise
    return True


def unfollow(follower_id: str, creator_id: str, *, now_ms: int) -> bool:
    """Remove the edge and both counts in one transaction; False when not following (nothing changes)."""
    try:
        client().transact_write_items(
            TransactItems=[
                {
                    "Delete": {
                        "TableName": name(),
                        "Key": to_attributes(keys.follow(follower_id, creator_id)),
                        "ConditionExpression": "attribute_exists(PK)",
                    }
                },
                _count(follower_id, "followingCount", -1, must_exist=True, now_ms=now_ms),
                _count(creator_id, "followerCount", -1, must_exist=True, now_ms=now_ms),
            ]
        )
    except ClientError as error:
        if cancellation_codes(error)[:1] == ["ConditionalCheckFailed"]:
            return False
        raise
    return True


def is_following(follower_id: str, creator_id: str) -> bool:
    return get(keys.follow(follower_id, creator_id)) is not None


@dataclass(frozen=True)
class FollowPage:
    entries: list[tuple[str, int]]  # (user id, followed at)
    cursor: str | None


def followers(creator_id: str, *, limit: int, cursor: str | None) -> FollowPage:
    """A creator's followers, newest first (GSI1)."""
    items, next_cursor = followers_query(
        creator_id, cursor=cursor, limit=limit, projection="followerId, followedAt", newest_first=True
    )
    return FollowPage([(item["followerId"], int(item["followedAt"])) for item in items], next_cursor)


def followers_query(
    creator_id: str, *, cursor: str | None, limit: int, projection: str, newest_first: bool
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of a creator's follow edges from GSI1 (only `projection`), and the cursor after it."""
    partition = keys.followers_partition(creator_id)
    start = cursors.decode(
        cursor,
        pinned={keys.GSI1PK: partition},
        prefixes={keys.GSI1SK: "", keys.PK: keys.USER_PREFIX, keys.SK: keys.FOLLOWS_PREFIX},
    )
    request: dict[str, Any] = {
        "TableName": name(),
        "IndexName": keys.GSI1,
        "KeyConditionExpression": "GSI1PK = :partition",
        "ExpressionAttributeValues": to_attributes({":partition": partition}),
        "ProjectionExpression": projection,
        "ScanIndexForward": not newest_first,
        "Limit": limit,
    }
    if start:
        request["ExclusiveStartKey"] = to_attributes(start)
    response = client().query(**request)
    return [from_attributes(item) for item in response["Items"]], _next_cursor(response)


def following(follower_id: str, *, limit: int, cursor: str | None) -> FollowPage:
    """Who a user follows, ordered by the followed user's id (the edge's sort key)."""
    partition = keys.user_partition(follower_id)
    start = cursors.decode(cursor, pinned={keys.PK: partition}, prefixes={keys.SK: keys.FOLLOWS_PREFIX})
    request: dict[str, Any] = {
        "TableName": name(),
        "KeyConditionExpression": "PK = :partition AND begins_with(SK, :prefix)",
        "ExpressionAttributeValues": to_attributes({":partition": partition, ":prefix": keys.FOLLOWS_PREFIX}),
        "ProjectionExpression": "creatorId, followedAt",
        "Limit": limit,
    }
    if start:
        request["ExclusiveStartKey"] = to_attributes(start)
    response = client().query(**request)
    entries = [
        (item["creatorId"], int(item["followedAt"])) for item in map(from_attributes, response["Items"])
    ]
    return FollowPage(entries, _next_cursor(response))


def _count(user_id: str, attribute: str, delta: int, *, must_exist: bool, now_ms: int) -> dict[str, Any]:
    update: dict[str, Any] = {
        "TableName": name(),
        "Key": to_attributes(keys.profile(user_id)),
        # if_not_exists on the identity fields: a follower with no profile yet gets a minimal one.
        "UpdateExpression": (
            "ADD #count :delta SET userId = :user, createdAt = if_not_exists(createdAt, :now), "
            "updatedAt = if_not_exists(updatedAt, :now), #entity = :entity"
        ),
        "ExpressionAttributeNames": {"#count": attribute, "#entity": keys.ENTITY},
        "ExpressionAttributeValues": to_attributes(
            {":delta": delta, ":user": user_id, ":now": now_ms, ":entity": "profile"}
        ),
    }
    if must_exist:
        update["ConditionExpression"] = "attribute_exists(PK)"
    return {"Update": update}


def _next_cursor(response: dict[str, Any]) -> str | None:
    last = response.get("LastEvaluatedKey")
    return cursors.encode(from_attributes(last)) if last else None


# ---------------------------------------------------------------- preferences


def preferences_from_item(item: dict[str, Any] | None) -> NotificationPreferences:
    """Stored preferences (defaults for whatever was never set)."""
    if not item:
        return NotificationPreferences()
    channels = {
        field: item[attribute] for field, attribute in _CHANNEL_ATTRIBUTES.items() if attribute in item
    }
    return NotificationPreferences.model_validate(
        {
            "go_live": channels,
            "muted_creator_ids": list(item.get("mutedCreatorIds") or []),
            "quiet_hours": item.get("quietHours"),
        }
    )


def get_preferences(user_id: str) -> NotificationPreferences:
    return preferences_from_item(get(keys.preferences(user_id)))


def put_preferences(user_id: str, preferences: NotificationPreferences, *, now_ms: int) -> None:
    item: dict[str, Any] = {
        **keys.preferences(user_id),
        keys.ENTITY: "preferences",
        "userId": user_id,
        "updatedAt": now_ms,
        "mutedCreatorIds": preferences.muted_creator_ids,
        "quietHours": preferences.quiet_hours.model_dump(by_alias=True) if preferences.quiet_hours else None,
    }
    for field, attribute in _CHANNEL_ATTRIBUTES.items():
        item[attribute] = getattr(preferences.go_live, field)
    client().put_item(TableName=name(), Item=to_attributes(item))


def switch_off_go_live_email(user_id: str, *, now_ms: int) -> None:
    """The one-click unsubscribe: go-live email off, everything else as it was (an upsert)."""
    client().update_item(
        TableName=name(),
        Key=to_attributes(keys.preferences(user_id)),
        UpdateExpression=(
            "SET #email = :off, userId = :user, updatedAt = :now, emailUnsubscribedAt = :now, #entity = :entity"
        ),
        ExpressionAttributeNames={"#email": _CHANNEL_ATTRIBUTES["email"], "#entity": keys.ENTITY},
        ExpressionAttributeValues=to_attributes(
            {":off": False, ":user": user_id, ":now": now_ms, ":entity": "preferences"}
        ),
    )


# ---------------------------------------------------------------- devices


@dataclass(frozen=True)
class TokenOwner:
    user_id: str
    device_id: str
    endpoint_arn: str


@dataclass(frozen=True)
class DeviceSet:
    """A user's DEVICES item and its version, for optimistic read-modify-write."""

    devices: dict[str, Device]
    version: int


def devices_from_item(item: dict[str, Any] | None) -> dict[str, Device]:
    return {
        device_id: Device.model_validate(value)
        for device_id, value in ((item or {}).get("devices") or {}).items()
    }


def get_devices(user_id: str, *, consistent: bool = False) -> DeviceSet:
    item = get(keys.devices(user_id), consistent=consistent)
    return DeviceSet(devices_from_item(item), int(item["version"]) if item else 0)


def get_token_owner(token_hash: str) -> TokenOwner | None:
    item = get(keys.push_token(token_hash), consistent=True)
    if not item:
        return None
    return TokenOwner(item["userId"], item["deviceId"], item["endpointArn"])


def save_devices(
    user_id: str,
    current: DeviceSet,
    devices: dict[str, Device],
    *,
    token_hash: str,
    owner: TokenOwner,
    now_ms: int,
    previous_owner: tuple[str, DeviceSet, dict[str, Device]] | None = None,
) -> None:
    """Write a user's devices and the token's owner together; raises ConcurrentChange if either moved.

    `previous_owner` (user, their set as read, their devices without this token) moves a token that
    changed hands (a phone signed into another account) in the same transaction.
    """
    items = [
        _devices_put(user_id, current, devices, now_ms),
        {
            "Put": {
                "TableName": name(),
                "Item": to_attributes(
                    {
                        **keys.push_token(token_hash),
                        keys.ENTITY: "pushToken",
                        "userId": owner.user_id,
                        "deviceId": owner.device_id,
                        "endpointArn": owner.endpoint_arn,
                        "updatedAt": now_ms,
                    }
                ),
            }
        },
    ]
    if previous_owner:
        other, other_set, other_devices = previous_owner
        items.append(_devices_put(other, other_set, other_devices, now_ms))
    try:
        client().transact_write_items(TransactItems=items)
    except ClientError as error:
        if "ConditionalCheckFailed" in cancellation_codes(error):
            raise ConcurrentChange from error
        raise


def remove_device(
    user_id: str, current: DeviceSet, device_id: str, *, token_hash: str | None, now_ms: int
) -> None:
    """Drop one device from the user's set and forget its token (if the token still points here)."""
    remaining = {key: value for key, value in current.devices.items() if key != device_id}
    items: list[dict[str, Any]] = [_devices_put(user_id, current, remaining, now_ms)]
    if token_hash:
        items.append(
            {
                "Delete": {
                    "TableName": name(),
                    "Key": to_attributes(keys.push_token(token_hash)),
                    "ConditionExpression": "attribute_not_exists(PK) OR (userId = :user AND deviceId = :device)",
                    "ExpressionAttributeValues": to_attributes({":user": user_id, ":device": device_id}),
                }
            }
        )
    try:
        client().transact_write_items(TransactItems=items)
    except ClientError as error:
        codes = cancellation_codes(error)
        if codes[:1] == ["ConditionalCheckFailed"]:
            raise ConcurrentChange from error
        if "ConditionalCheckFailed" in codes:
            # The token moved to another user meanwhile: drop it from this set alone.
            client().transact_write_items(TransactItems=items[:1])
            return
        raise


def devices_item(user_id: str, devices: dict[str, Device], *, version: int, now_ms: int) -> dict[str, Any]:
    return {
        **keys.devices(user_id),
        keys.ENTITY: "devices",
        "userId": user_id,
        "version": version,
        "updatedAt": now_ms,
        "devices": {
            device_id: device.model_dump(by_alias=True, mode="json") for device_id, device in devices.items()
        },
    }


def _devices_put(user_id: str, current: DeviceSet, devices: dict[str, Device], now_ms: int) -> dict[str, Any]:
    item = devices_item(user_id, devices, version=current.version + 1, now_ms=now_ms)
    condition = "attribute_not_exists(PK)" if current.version == 0 else "version = :version"
    put: dict[str, Any] = {"TableName": name(), "Item": to_attributes(item), "ConditionExpression": condition}
    if current.version:
        put["ExpressionAttributeValues"] = to_attributes({":version": current.version})
    return {"Put": put}


# ---------------------------------------------------------------- inbox


@dataclass(frozen=True)
class NotificationPageData:
    items: list[Notification]
    cursor: str | None


def inbox(user_id: str, *, limit: int, cursor: str | None, now_s: int) -> NotificationPageData:
    """The user's in-app notifications, newest first; expired ones (TTL not yet applied) are left out."""
    partition = keys.user_partition(user_id)
    start = cursors.decode(cursor, pinned={keys.PK: partition}, prefixes={keys.SK: keys.INBOX_PREFIX})
    request: dict[str, Any] = {
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
    return NotificationPageData(items, _next_cursor(response))


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
