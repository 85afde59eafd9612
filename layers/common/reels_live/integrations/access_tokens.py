"""LiveKit access tokens for a stream's room, signed here with the API secret (no call to LiveKit)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from reels_live.core import clock
from reels_live.core.config import settings
from reels_live.entities.streams import Role, Stream
from reels_live.integrations import secrets


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: int


def issue_token(stream: Stream, user_id: str, role: Role) -> IssuedToken:
    """A room token: broadcasters publish; viewers subscribe and send data but never publish."""
    from livekit import api

    config = settings()
    keys = secrets.livekit_credentials()
    is_broadcaster = role is Role.BROADCASTER
    ttl = config.broadcaster_token_ttl_seconds if is_broadcaster else config.viewer_token_ttl_seconds
    grants = api.VideoGrants(
        room_join=True,
        room=stream.room_name,
        # Explicit: LiveKit's default for can_publish is True.
        can_publish=is_broadcaster,
        can_subscribe=True,
        can_publish_data=True,
        can_update_own_metadata=False,
    )
    token = (
        api.AccessToken(keys.api_key, keys.api_secret)
        .with_identity(user_id)
        .with_ttl(timedelta(seconds=ttl))
        .with_grants(grants)
        .with_attributes({"role": role.value})
        .to_jwt()
    )
    return IssuedToken(token=token, expires_at=clock.now_ms() + ttl * 1000)
