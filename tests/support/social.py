"""Arranging social state for tests: users with verified emails, follows, devices, and live streams.

Streams are put live directly in the table (the webhook side moves them there in production).
"""

from typing import Any

from reels_live.entities.lifecycle import StreamStatus
from reels_live.entities.streams import Stream
from reels_live.store import streams as stream_store
from tests.support import api
from tests.support import aws as table

STREAM_ID = "01JDQ3Z8G7N2V4K6M8P0R2T4W6"


def sign_up(user: str, *, name: str | None = None, verified: bool = True) -> dict[str, Any]:
    """GET /me as `user` (creates the profile with the token's email, verified or not), then a name."""
    claims = {"email_verified": "true" if verified else "false"}
    response = request_with_claims("GET", "/me", user=user, claims=claims)
    assert response.status == 200, response.body
    if name:
        response = request_with_claims("PUT", "/me", user=user, body={"displayName": name}, claims=claims)
        assert response.status == 200, response.body
    return response.body


def request_with_claims(
    method: str, path: str, *, user: str, claims: dict[str, str] | None = None, **kwargs: Any
) -> api.ApiResponse:
    """An API request whose token carries extra (or replaced) claims."""
    function, event = api.http_event(method, path, user=user, **kwargs)
    if claims is not None:
        event["requestContext"]["authorizer"]["jwt"]["claims"].update(claims)
    return api.invoke(function, event)


def follow(follower: str, creator: str) -> None:
    response = api.request("PUT", f"/users/{creator}/follow", user=follower)
    assert response.status == 200, response.body


def followers_of(creator: str, followers: list[str], *, now_ms: int) -> None:
    """Many follow edges at once, through the store (the API path is covered in test_social)."""
    from reels_live.store import follows as social_store
    from tests.support import stack

    with stack.function_environment("FollowsFunction"):
        for follower in followers:
            social_store.follow(follower, creator, now_ms=now_ms)


def register_device(user: str, token: str, platform: str = "ios") -> dict[str, Any]:
    response = api.request("POST", "/me/devices", user=user, body={"platform": platform, "token": token})
    assert response.status in {200, 201}, response.body
    return response.body


def put_stream(
    author: str,
    *,
    stream_id: str = STREAM_ID,
    status: StreamStatus = StreamStatus.LIVE,
    title: str = "Morning skate",
    now_ms: int,
) -> Stream:
    """A stream item as the webhook side leaves it (live, with startedAt)."""
    stream = Stream(
        stream_id=stream_id,
        author_id=author,
        title=title,
        room_name=f"stream_{stream_id}",
        status=status,
        created_at=now_ms - 30_000,
        started_at=now_ms - 20_000 if status is not StreamStatus.PREPARING else None,
    )
    table.put(stream_store.stream_item(stream))
    return stream
