"""The only module that talks to LiveKit's server API: rooms, participants and egress over Twirp.

`livekit.api` costs a few hundred milliseconds to import, so it is imported on first use, never at module
import. Its `LiveKitAPI` is bound to the event loop that created it, so the container keeps one loop and
one client for its whole life and runs every call on that loop.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from reels_live.core import retry
from reels_live.core.config import settings
from reels_live.entities.streams import Stream
from reels_live.integrations import secrets

if TYPE_CHECKING:
    from livekit import api
    from livekit.protocol.egress import EgressInfo
    from livekit.protocol.models import ParticipantInfo, Room


class LiveKitError(Exception):
    """LiveKit could not do what was asked, after retries where retrying made sense."""


def create_room(stream: Stream) -> None:
    """Create the stream's room (idempotent in LiveKit), with auto-egress to S3 when it is recorded."""
    from livekit import api

    config = settings()
    request = api.CreateRoomRequest(
        name=stream.room_name,
        empty_timeout=config.room_empty_timeout_seconds,
        departure_timeout=config.room_departure_timeout_seconds,
        max_participants=config.room_max_participants,
        metadata=json.dumps({"streamId": stream.stream_id}),
    )
    if stream.record:
        request.egress.CopyFrom(_recording_egress(stream))

    async def call(client: api.LiveKitAPI) -> None:
        await client.room.create_room(request)

    _run_with_retries(call, "create_room")


def delete_room(name: str) -> None:
    """Delete a room, disconnecting everyone in it; a room that is already gone counts as deleted."""
    from livekit import api

    async def call(client: api.LiveKitAPI) -> None:
        try:
            await client.room.delete_room(api.DeleteRoomRequest(room=name))
        except api.TwirpError as error:
            if error.status != 404 and error.code != "not_found":
                raise

    _run_with_retries(call, "delete_room")


# Names per ListRooms call: one request for a hundred rooms keeps the reconciler's calls per run small.
ROOMS_PER_LIST = 100


def list_rooms(names: list[str]) -> dict[str, Room]:
    """The rooms among `names` that exist, by name (ListRooms, ROOMS_PER_LIST names a call).

    Raises LiveKitError if any call fails: a room missing from a partial answer must not look gone.
    """
    from livekit import api

    batches = [names[start : start + ROOMS_PER_LIST] for start in range(0, len(names), ROOMS_PER_LIST)]

    def lister(batch: list[str]) -> Callable[[api.LiveKitAPI], Awaitable[list[Room]]]:
        async def call(client: api.LiveKitAPI) -> list[Room]:
            return list((await client.room.list_rooms(api.ListRoomsRequest(names=batch))).rooms)

        return call

    found: dict[str, Room] = {}
    for result in _run_all_with_retries([lister(batch) for batch in batches], "list_rooms"):
        if isinstance(result, LiveKitError):
            raise result
        found.update((room.name, room) for room in result)
    return found


def list_participants(rooms: list[str]) -> dict[str, list[ParticipantInfo] | None]:
    """Each room's participants (None: the room is gone); rooms whose call failed are left out."""
    from livekit import api

    def lister(room: str) -> Callable[[api.LiveKitAPI], Awaitable[list[ParticipantInfo] | None]]:
        async def call(client: api.LiveKitAPI) -> list[ParticipantInfo] | None:
            try:
                response = await client.room.list_participants(api.ListParticipantsRequest(room=room))
            except api.TwirpError as error:
                if error.status == 404 or error.code == "not_found":
                    return None
                raise
            return list(response.participants)

        return call

    results = _run_all_with_retries([lister(room) for room in rooms], "list_participants")
    return {
        room: result
        for room, result in zip(rooms, results, strict=True)
        if not isinstance(result, LiveKitError)
    }


def list_egress(room: str) -> list[EgressInfo]:
    """Every egress LiveKit knows for a room (active or not)."""
    from livekit import api

    async def call(client: api.LiveKitAPI) -> list[EgressInfo]:
        return list((await client.egress.list_egress(api.ListEgressRequest(room_name=room))).items)

    return _run_with_retries(call, "list_egress")


def _recording_egress(stream: Stream) -> api.RoomEgress:
    from livekit import api

    config = settings()
    upload = api.S3Upload(
        bucket=config.recordings_bucket,
        region=config.aws_region,
        # LiveKit assumes this role to write; no long-lived AWS keys are handed over.
        assume_role_arn=config.egress_role_arn,
        assume_role_external_id=config.egress_external_id,
    )
    output = api.EncodedFileOutput(
        file_type=api.EncodedFileType.MP4,
        filepath=f"recordings/{stream.stream_id}/{{time}}.mp4",
        s3=upload,
    )
    return api.RoomEgress(room=api.RoomCompositeEgressRequest(layout="speaker", file_outputs=[output]))


# One loop and one client per container: LiveKitAPI's aiohttp session belongs to the loop that made it.
_loop: asyncio.AbstractEventLoop | None = None
_client: api.LiveKitAPI | None = None
_client_key: str | None = None
# Replaced in tests so retries do not wait.
sleep: Callable[[float], Awaitable[None]] = asyncio.sleep


def _event_loop() -> asyncio.AbstractEventLoop:
    global _loop
    if _loop is None or _loop.is_closed():
        _loop = asyncio.new_event_loop()
    return _loop


async def _api_client() -> api.LiveKitAPI:
    """The container's client, rebuilt when the secret's active key changed (rotation) or the URL did."""
    import aiohttp
    from livekit import api

    global _client, _client_key
    keys = secrets.livekit_credentials()
    # Keyed by URL too: tools and tests point one process at different servers.
    wanted = f"{settings().livekit_url} {keys.api_key}"
    if _client is None or _client_key != wanted:
        if _client is not None:
            await _client.aclose()
        _client = api.LiveKitAPI(
            settings().livekit_url,
            keys.api_key,
            keys.api_secret,
            timeout=aiohttp.ClientTimeout(total=settings().livekit_timeout_seconds),
            # Our own retry below is the only one, so attempts and backoff are ours to count.
            failover=False,
        )
        _client_key = wanted
    return _client


def close() -> None:
    """Close the container's client and loop (tools that switch LiveKit servers; Lambda never needs it)."""
    global _client, _client_key, _loop
    if _client is not None and _loop is not None and not _loop.is_closed():
        _loop.run_until_complete(_client.aclose())
    if _loop is not None:
        _loop.close()
    _client = _client_key = _loop = None


def _is_retryable(error: BaseException) -> bool:
    import aiohttp
    from livekit import api

    if isinstance(error, api.TwirpError):
        return error.status >= 500 or error.status == 429
    return isinstance(error, aiohttp.ClientError | asyncio.TimeoutError | ConnectionError)


def _run_with_retries[T](call: Callable[[api.LiveKitAPI], Awaitable[T]], operation: str) -> T:
    """Run one LiveKit call on the container's loop, retrying transient failures with jittered backoff."""
    return _event_loop().run_until_complete(_with_retries(call, operation))


def _run_all_with_retries[T](
    calls: list[Callable[[api.LiveKitAPI], Awaitable[T]]], operation: str
) -> list[T | LiveKitError]:
    """Run many calls on the container's loop, a bounded number at a time, each with its own retries; a
    call that still fails is returned as its LiveKitError, so one bad room does not sink the others."""

    async def run_all() -> list[T | LiveKitError]:
        gate = asyncio.Semaphore(settings().reconciler_concurrency)

        async def one(call: Callable[[api.LiveKitAPI], Awaitable[T]]) -> T | LiveKitError:
            async with gate:
                try:
                    return await _with_retries(call, operation)
                except LiveKitError as error:
                    return error

        return list(await asyncio.gather(*(one(call) for call in calls)))

    return _event_loop().run_until_complete(run_all())


async def _with_retries[T](call: Callable[[api.LiveKitAPI], Awaitable[T]], operation: str) -> T:
    # Full jitter: 0..(0.2 s * 2^attempt), so retrying clients spread out.
    backoff = retry.Backoff(attempts=settings().livekit_attempts, base_seconds=0.2)

    async def attempt() -> T:
        return await call(await _api_client())

    try:
        # `sleep` is looked up now, so tests that replace it are honoured.
        return await retry.call_async(attempt, backoff=backoff, retryable=_is_retryable, sleep=sleep)
    except retry.RetriesExhausted as error:
        raise LiveKitError(f"{operation} failed after {error.attempts} attempts: {error.last}") from error
    except Exception as error:
        raise LiveKitError(f"{operation} failed: {error}") from error
