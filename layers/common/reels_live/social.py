"""The social surface: profiles, follows, push devices, notification preferences and the in-app inbox.

No HTTP, no Lambda, no table keys: the store does the reading and writing, `push` talks to SNS.
"""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from aws_lambda_powertools.metrics import MetricUnit

from reels_live import clock, push
from reels_live.errors import (
    CannotFollowSelf,
    Conflict,
    InvalidRequest,
    NotificationNotFound,
    PlatformNotConfigured,
    PushUnavailable,
    UserNotFound,
)
from reels_live.models import (
    Device,
    DeviceView,
    FollowState,
    Notification,
    NotificationPage,
    NotificationPreferences,
    Profile,
    ProfileView,
    RegisterDeviceRequest,
    SignIn,
    UpdateProfileRequest,
    UserPage,
    UserSummary,
)
from reels_live.observability import logger, metrics
from reels_live.store import social as store
from reels_live.store.cursors import InvalidCursor

# Devices kept per user; registering one more forgets the one updated longest ago.
MAX_DEVICES = 10
_OPTIMISTIC_ATTEMPTS = 3


# ---------------------------------------------------------------- profiles


def my_profile(user_id: str, sign_in: SignIn) -> ProfileView:
    """The caller's profile, created on first sight, with the verified email refreshed from the sign-in."""
    now = clock.now_ms()
    profile = store.get_profile(user_id, consistent=True)
    if profile is None:
        profile = store.create_profile(
            Profile(
                user_id=user_id,
                display_name=sign_in.name,
                email=sign_in.verified_email,
                created_at=now,
                updated_at=now,
            )
        )
        logger.info("profile created", extra={"user_id": user_id})
    new_email = _email_after(profile.email, sign_in)
    if new_email != profile.email:
        store.set_email(user_id, new_email, now_ms=now)
        profile = profile.model_copy(update={"email": new_email, "updated_at": now})
    return ProfileView.of(profile)


def update_my_profile(user_id: str, sign_in: SignIn, request: UpdateProfileRequest) -> ProfileView:
    profile = store.update_profile(
        user_id,
        display_name=request.display_name,
        bio=request.bio,
        email=sign_in.verified_email,
        drop_email=sign_in.email_unverified,
        now_ms=clock.now_ms(),
    )
    return ProfileView.of(profile)


def _email_after(current: str | None, sign_in: SignIn) -> str | None:
    """Only an address the identity provider verified is ever ours to mail; an unverified one revokes it."""
    if sign_in.verified_email:
        return sign_in.verified_email
    return None if sign_in.email_unverified else current


# ---------------------------------------------------------------- follows


def follow(follower_id: str, creator_id: str) -> FollowState:
    """Follow a user (idempotent: following again changes nothing)."""
    _not_self(follower_id, creator_id)
    try:
        added = store.follow(follower_id, creator_id, now_ms=clock.now_ms())
    except store.UserMissing:
        raise UserNotFound(f"No user {creator_id}.", field="userId") from None
    if added:
        metrics.add_metric(name="Followed", unit=MetricUnit.Count, value=1)
        logger.info("followed", extra={"user_id": follower_id, "creator_id": creator_id})
    return FollowState(user_id=creator_id, following=True, follower_count=_follower_count(creator_id))


def unfollow(follower_id: str, creator_id: str) -> FollowState:
    """Stop following (idempotent: unfollowing someone you do not follow changes nothing)."""
    _not_self(follower_id, creator_id)
    if store.unfollow(follower_id, creator_id, now_ms=clock.now_ms()):
        metrics.add_metric(name="Unfollowed", unit=MetricUnit.Count, value=1)
        logger.info("unfollowed", extra={"user_id": follower_id, "creator_id": creator_id})
    return FollowState(user_id=creator_id, following=False, follower_count=_follower_count(creator_id))


def followers(user_id: str, *, limit: int, cursor: str | None) -> UserPage:
    """A user's followers, newest first."""
    return _people(lambda: store.followers(user_id, limit=limit, cursor=cursor))


def following(user_id: str, *, limit: int, cursor: str | None) -> UserPage:
    """Whom a user follows (ordered by user id)."""
    return _people(lambda: store.following(user_id, limit=limit, cursor=cursor))


def _people(read: Callable[[], store.FollowPage]) -> UserPage:
    try:
        page = read()
    except InvalidCursor:
        raise InvalidRequest("cursor: not a cursor this list gave out", field="cursor") from None
    names = store.profiles([user_id for user_id, _ in page.entries]) if page.entries else {}
    return UserPage(
        items=[
            UserSummary(
                user_id=user_id,
                display_name=names[user_id].display_name if user_id in names else None,
                followed_at=followed_at,
            )
            for user_id, followed_at in page.entries
        ],
        next_cursor=page.cursor,
    )


def _not_self(follower_id: str, creator_id: str) -> None:
    if follower_id == creator_id:
        raise CannotFollowSelf("You cannot follow yourself.", field="userId")


def _follower_count(user_id: str) -> int:
    profile = store.get_profile(user_id, consistent=True)
    return profile.follower_count if profile else 0


# ---------------------------------------------------------------- devices


@dataclass(frozen=True)
class Registration:
    device: DeviceView
    created: bool


def register_device(user_id: str, request: RegisterDeviceRequest) -> Registration:
    """One SNS endpoint per token: a token seen before gets its endpoint refreshed (and moves to this user
    if it was someone else's), a new one gets an endpoint; the user keeps their MAX_DEVICES newest devices."""
    application = push.platform_application_arn(request.platform)
    if not application:
        raise PlatformNotConfigured(f"Push to {request.platform.value} is not set up here.", field="platform")
    token_hash = hashlib.sha256(f"{request.platform.value}:{request.token}".encode()).hexdigest()
    device_id = token_hash[:32]
    for _ in range(_OPTIMISTIC_ATTEMPTS):
        owner = store.get_token_owner(token_hash)
        current = store.get_devices(user_id, consistent=True)
        existing = current.devices.get(device_id)
        endpoint_arn = _endpoint_for(application, request.token, user_id, owner)
        now = clock.now_ms()
        device = Device(
            device_id=device_id,
            platform=request.platform,
            endpoint_arn=endpoint_arn,
            token_hash=token_hash,
            created_at=existing.created_at if existing else now,
            updated_at=now,
        )
        kept, evicted = _newest({**current.devices, device_id: device})
        previous = None
        if owner and owner.user_id != user_id:
            theirs = store.get_devices(owner.user_id, consistent=True)
            previous = (
                owner.user_id,
                theirs,
                {k: v for k, v in theirs.devices.items() if k != owner.device_id},
            )
        try:
            store.save_devices(
                user_id,
                current,
                kept,
                token_hash=token_hash,
                owner=store.TokenOwner(user_id, device_id, endpoint_arn),
                now_ms=now,
                previous_owner=previous,
            )
        except store.ConcurrentChange:
            continue
        for gone in evicted:
            _delete_endpoint_quietly(gone)
        logger.info(
            "device registered",
            extra={"user_id": user_id, "device_id": device_id, "platform": request.platform.value},
        )
        return Registration(DeviceView.of(device), created=existing is None)
    raise Conflict("Your devices changed while registering this one; retry.")


def remove_device(user_id: str, device_id: str) -> None:
    """Forget a device and delete its endpoint (idempotent: an unknown device is already gone)."""
    for _ in range(_OPTIMISTIC_ATTEMPTS):
        current = store.get_devices(user_id, consistent=True)
        device = current.devices.get(device_id)
        if device is None:
            return
        try:
            store.remove_device(
                user_id, current, device_id, token_hash=device.token_hash, now_ms=clock.now_ms()
            )
        except store.ConcurrentChange:
            continue
        _delete_endpoint_quietly(device)
        logger.info("device removed", extra={"user_id": user_id, "device_id": device_id})
        return
    raise Conflict("Your devices changed while removing this one; retry.")


def _endpoint_for(application: str, token: str, user_id: str, owner: store.TokenOwner | None) -> str:
    try:
        if owner and push.refresh_endpoint(owner.endpoint_arn, token, user_id):
            return owner.endpoint_arn
        return push.create_endpoint(application, token, user_id)
    except push.PushError as error:
        logger.warning("push endpoint registration failed", extra={"user_id": user_id, "error": str(error)})
        raise PushUnavailable("Push registration is unavailable; retry later.") from error


def _newest(devices: dict[str, Device]) -> tuple[dict[str, Device], list[Device]]:
    ordered = sorted(devices.values(), key=lambda device: device.updated_at, reverse=True)
    return {device.device_id: device for device in ordered[:MAX_DEVICES]}, ordered[MAX_DEVICES:]


def _delete_endpoint_quietly(device: Device) -> None:
    try:
        push.delete_endpoint(device.endpoint_arn)
    except push.PushError as error:
        # The device is gone from the table; an orphaned endpoint only costs an SNS entry.
        logger.warning("endpoint deletion failed", extra={"device_id": device.device_id, "error": str(error)})


# ---------------------------------------------------------------- preferences and inbox


def preferences(user_id: str) -> NotificationPreferences:
    return store.get_preferences(user_id)


def set_preferences(user_id: str, new: NotificationPreferences) -> NotificationPreferences:
    store.put_preferences(user_id, new, now_ms=clock.now_ms())
    return new


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
