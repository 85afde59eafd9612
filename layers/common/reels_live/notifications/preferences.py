"""A user's go-live alert preferences: read with defaults, replaced whole."""

from reels_live.core import clock
from reels_live.entities.preferences import NotificationPreferences
from reels_live.store import preferences as store


def preferences(user_id: str) -> NotificationPreferences:
    return store.get_preferences(user_id)


def set_preferences(user_id: str, new: NotificationPreferences) -> NotificationPreferences:
    store.put_preferences(user_id, new, now_ms=clock.now_ms())
    return new
