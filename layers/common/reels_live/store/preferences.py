"""Notification preferences: one item per user (`USER#id / PREFERENCES`), channel switches flat."""

from typing import Any

from reels_live.entities.preferences import NotificationPreferences
from reels_live.store import keys
from reels_live.store.table import (
    client,
    get,
    name,
    to_attributes,
)

# Channel switches are flat attributes so one UpdateItem can flip one of them on an item that may not exist.
_CHANNEL_ATTRIBUTES = {"email": "goLiveEmail", "push": "goLivePush", "in_app": "goLiveInApp"}


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
    item: dict[str, object] = {
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
