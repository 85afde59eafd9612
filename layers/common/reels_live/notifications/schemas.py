"""The inbox's response bodies (`/me/notifications`)."""

from pydantic import Field

from reels_live.entities.base import CamelModel
from reels_live.entities.notifications import Notification


class NotificationPage(CamelModel):
    items: list[Notification]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")
