"""Tokens from our API, used by real WebRTC clients (the livekit SDK) against the real livekit-server."""

import asyncio
import time

import jwt
import pytest
from livekit import rtc

from local.livekit import clients
from local.livekit.relay import LocalLiveKit
from tests.support import api
from tests.support import livekit as lk

pytestmark = pytest.mark.livekit

PUBLISH_REFUSAL_TIMEOUT = 2.0  # an accepted publish takes tens of milliseconds


def published_tracks(livekit: LocalLiveKit, room: str, identity: str) -> int:
    found = [
        p
        for p in lk.participants(livekit.url, livekit.api_key, livekit.api_secret, room)
        if p.identity == identity
    ]
    return len(found[0].tracks) if found else 0


def test_creator_publishes_video_with_the_token_from_create(livekit):
    connection = api.create_stream()["connection"]

    async def scenario() -> None:
        room = await clients.connect(connection["url"], connection["token"])
        try:
            publication = await clients.publish_synthetic_video(room)
            assert publication.sid
            await clients.wait_for(
                lambda: asyncio.to_thread(published_tracks, livekit, connection["room"], "user-alice")
            )
        finally:
            await clients.disconnect(room)

    lk.run_scenario(scenario)


def test_viewer_token_from_join_cannot_publish(livekit):
    stream_id = api.create_stream()["stream"]["streamId"]
    connection = api.join_stream(stream_id, "user-bob")

    async def scenario() -> None:
        room = await clients.connect(connection["url"], connection["token"])
        try:
            assert room.local_participant.permissions.can_publish is False
            assert room.local_participant.permissions.can_subscribe is True
            with pytest.raises(clients.PublishRefused):
                await clients.publish_synthetic_video(room, timeout=PUBLISH_REFUSAL_TIMEOUT)
        finally:
            await clients.disconnect(room)

    lk.run_scenario(scenario)
    # The server's own view: the viewer never got a track.
    assert published_tracks(livekit, connection["room"], "user-bob") == 0


def test_a_token_only_opens_its_own_room(livekit):
    alice_stream = api.create_stream(user="user-alice")["stream"]["streamId"]
    carol_room = api.create_stream(user="user-carol")["connection"]["room"]
    connection = api.join_stream(alice_stream, "user-bob")

    async def scenario() -> str:
        # The room is the token's, whatever the client wants: Bob cannot reach Carol's room with it.
        room = await clients.connect(connection["url"], connection["token"])
        try:
            return room.name
        finally:
            await clients.disconnect(room)

    assert lk.run_scenario(scenario) == connection["room"] != carol_room
    assert lk.participants(livekit.url, livekit.api_key, livekit.api_secret, carol_room) == []


def test_an_expired_viewer_token_cannot_connect(livekit):
    stream_id = api.create_stream()["stream"]["streamId"]
    claims = lk.claims(api.join_stream(stream_id, "user-bob")["token"])
    # Our token with its expiry moved into the past, signed with the same key as our API signs.
    expired = jwt.encode(
        {**claims, "nbf": int(time.time()) - 120, "exp": int(time.time()) - 60},
        livekit.api_secret,
        algorithm="HS256",
    )

    async def scenario() -> None:
        with pytest.raises(rtc.ConnectError):
            await clients.connect(livekit.url, expired, timeout=5)

    lk.run_scenario(scenario)


def test_ending_the_stream_disconnects_connected_viewers(livekit):
    stream_id = api.create_stream()["stream"]["streamId"]
    connection = api.join_stream(stream_id, "user-bob")

    async def scenario() -> None:
        room = await clients.connect(connection["url"], connection["token"])
        disconnected = asyncio.ensure_future(clients.wait_for_event(room, "disconnected", timeout=15))
        # The handler runs its own event loop, so it runs on a thread while this loop keeps the client alive.
        ended = await asyncio.to_thread(api.request, "POST", f"/streams/{stream_id}/end")
        assert ended.status == 200
        await disconnected
        assert not room.isconnected()

    lk.run_scenario(scenario)
    assert lk.rooms(livekit.url, livekit.api_key, livekit.api_secret, [f"stream_{stream_id}"]) == []
