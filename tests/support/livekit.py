"""Sync helpers over livekit-api for assertions: what the real server holds, what a token grants."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import jwt
from livekit import api


def run_scenario[T](scenario: Callable[[], Awaitable[T]], timeout: float = 60.0) -> T:
    """One async scenario on a fresh loop, bounded: LiveKitAPI and rtc Rooms belong to the loop that made them."""

    async def bounded() -> T:
        return await asyncio.wait_for(scenario(), timeout)

    return asyncio.run(bounded())


def _call(url: str, key: str, secret: str, operation: Any) -> Any:
    async def run() -> Any:
        client = api.LiveKitAPI(url, key, secret, failover=False)
        try:
            return await operation(client)
        finally:
            await client.aclose()

    return asyncio.run(run())


def rooms(url: str, key: str, secret: str, names: list[str] | None = None) -> list[api.Room]:
    response = _call(url, key, secret, lambda c: c.room.list_rooms(api.ListRoomsRequest(names=names or [])))
    return list(response.rooms)


def delete_room(url: str, key: str, secret: str, room: str) -> None:
    _call(url, key, secret, lambda c: c.room.delete_room(api.DeleteRoomRequest(room=room)))


def participants(url: str, key: str, secret: str, room: str) -> list[api.ParticipantInfo]:
    response = _call(
        url, key, secret, lambda c: c.room.list_participants(api.ListParticipantsRequest(room=room))
    )
    return list(response.participants)


def claims(token: str) -> dict[str, Any]:
    """A LiveKit token's claims, without verifying (the server verifies; tests read the grants)."""
    return jwt.decode(token, options={"verify_signature": False})
