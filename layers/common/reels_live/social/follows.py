"""Follows: follow and unfollow (idempotent), and anyone's followers and following lists."""

from collections.abc import Callable

from aws_lambda_powertools.metrics import MetricUnit

from reels_live.core import clock
from reels_live.core.errors import CannotFollowSelf, InvalidRequest, UserNotFound
from reels_live.core.observability import logger, metrics
from reels_live.social.schemas import FollowState, UserPage, UserSummary
from reels_live.store import follows as store
from reels_live.store import profiles as profile_store
from reels_live.store.cursors import InvalidCursor


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
    names = profile_store.profiles([user_id for user_id, _ in page.entries]) if page.entries else {}
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
    profile = profile_store.get_profile(user_id, consistent=True)
    return profile.follower_count if profile else 0
