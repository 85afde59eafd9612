"""The in-app inbox: a user's go-live notifications, newest first, and marking one read."""

from reels_live.core import clock
from reels_live.core.errors import InvalidRequest, NotificationNotFound
from reels_live.entities.notifications import Notification
from reels_live.notifications.schemas import NotificationPage
from reels_live.store import inbox as store
from reels_live.store.cursors import InvalidCursor


def notifications(user_id: str, *, limit: int, cursor: str | None) -> NotificationPage:
    """The in-app inbox, newest first."""
    try:
        page = store.inbox(user_id, limit=limit, cursor=cursor, now_s=clock.now_ms() // 1000)
    except InvalidCursor:
        raise InvalidRequest("cursor: not a cursor this list gave out", field="cursor") from None
    return NotificationPage(items=page.items, next_cursor=page.cursor)


def mark_read(user_id: str, notification_id: str) -> Notification:
    notification = store.mark_read(user_id, notification_id, now_ms=clock.now_ms())
    if notification is None:
        raise NotificationNotFound(f"No notification {notification_id}.", field="notificationId")
    return notification
