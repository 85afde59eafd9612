"""The notification API's bodies: the inbox page, and the stored inbox item and preferences, which are
their own API shapes (`/me/notifications`, `/me/notification-preferences`)."""

from pydantic import Field

from reels_live.entities.base import CamelModel
from reels_live.entities.notifications import Notification
from reels_live.entities.preferences import NotificationPreferences

__all__ = ["Notification", "NotificationPage", "NotificationPreferences"]


class NotificationPage(CamelModel):
    items: list[Notification]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")
