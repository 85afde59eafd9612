"""The caller's own corner: profile, notification preferences and the in-app inbox (`/me...`).

One function for these six routes: they read and write only the caller's own items, need the same table
permissions and nothing else, so one cold start serves them all.
"""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from reels_live.api.caller import caller_id, caller_sign_in
from reels_live.api.resolver import documented, http_api
from reels_live.core.observability import logger, metrics, tracer
from reels_live.notifications import inbox, preferences
from reels_live.notifications.schemas import Notification, NotificationPage, NotificationPreferences
from reels_live.social import profiles
from reels_live.social.schemas import ProfileView, UpdateProfileRequest

app = http_api()

Limit = Annotated[int, Query(ge=1, le=100, description="Page size")]
Cursor = Annotated[
    str | None, Query(min_length=1, max_length=2048, description="`nextCursor` of the previous page")
]
NotificationIdPath = Annotated[str, Path(pattern=r"^[0-9A-Za-z_-]{1,64}$", description="Notification id")]


@app.get(
    "/me",
    summary="Your profile (created on first call; the email is your verified sign-in address)",
    operation_id="getMe",
    responses=documented((200, ProfileView, "Your profile"), 401),
    tags=["me"],
)
@tracer.capture_method
def get_me() -> ProfileView:
    return profiles.my_profile(caller_id(app), caller_sign_in(app))


@app.put(
    "/me",
    summary="Update your profile",
    operation_id="updateMe",
    responses=documented((200, ProfileView, "Your profile"), 401),
    tags=["me"],
)
@tracer.capture_method
def put_me(request: UpdateProfileRequest) -> ProfileView:
    return profiles.update_my_profile(caller_id(app), caller_sign_in(app), request)


@app.get(
    "/me/notification-preferences",
    summary="Your go-live alert preferences",
    operation_id="getNotificationPreferences",
    responses=documented(
        (200, NotificationPreferences, "Your preferences (defaults until you set them)"), 401
    ),
    tags=["me"],
)
@tracer.capture_method
def get_preferences() -> NotificationPreferences:
    return preferences.preferences(caller_id(app))


@app.put(
    "/me/notification-preferences",
    summary="Replace your go-live alert preferences",
    operation_id="putNotificationPreferences",
    responses=documented((200, NotificationPreferences, "Your preferences"), 401),
    tags=["me"],
)
@tracer.capture_method
def put_preferences(request: NotificationPreferences) -> NotificationPreferences:
    return preferences.set_preferences(caller_id(app), request)


@app.get(
    "/me/notifications",
    summary="Your in-app notifications, newest first",
    operation_id="listNotifications",
    responses=documented((200, NotificationPage, "A page of notifications"), 401),
    tags=["me"],
)
@tracer.capture_method
def list_notifications(limit: Limit = 20, cursor: Cursor = None) -> NotificationPage:
    return inbox.notifications(caller_id(app), limit=limit, cursor=cursor)


@app.post(
    "/me/notifications/<notificationId>/read",
    summary="Mark a notification read (repeating it keeps the first time)",
    operation_id="markNotificationRead",
    responses=documented((200, Notification, "The notification, read"), 401, 404),
    tags=["me"],
)
@tracer.capture_method
def mark_read(notificationId: NotificationIdPath) -> Notification:
    return inbox.mark_read(caller_id(app), notificationId)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
