"""Simulated egress (the real one needs Chrome and GStreamer): the relay answers the Egress service
(`/twirp/livekit.Egress/...`: StartRoomCompositeEgress, StopEgress, ListEgress) in JSON or protobuf like
Twirp, with the server's authorisation rule; strips CreateRoom's auto-egress before forwarding (the server
without an egress worker fails CreateRoom when it is set) and starts it on the room's `room_started`; runs
each egress through its states, uploading the placeholder recording (`recording`) and sending signed
egress_started/updated/ended webhooks through the webhook part, with LiveKit's retries."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import string
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import jwt
from aiohttp import web
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from livekit import api
from livekit.protocol import egress as egress_pb
from livekit.protocol import models as models_pb
from livekit.protocol import room as room_pb
from livekit.protocol import webhook as webhook_pb

from local.livekit.relay.protocol import TwirpError, encode_webhook, sign_webhook
from local.livekit.relay.recording import _file_outputs, _redact, _upload_all
from local.livekit.relay.records import _Event

# One logger name for the whole relay, whichever module logs (local.stack quiets it by this name).
log = logging.getLogger("local.livekit.relay")

Status = egress_pb.EgressStatus
# What LiveKit's webhook client (hashicorp retryablehttp) does: 4 retries, backoff 1 s doubling to 30 s.
DEFAULT_RETRY = (1.0, 30.0, 4)
EGRESS_METHODS = {
    "StartRoomCompositeEgress",
    "StopEgress",
    "ListEgress",
    "StartWebEgress",
    "StartParticipantEgress",
    "StartTrackCompositeEgress",
    "StartTrackEgress",
    "StartEgress",
    "UpdateLayout",
    "UpdateStream",
}


@dataclass
class _Egress:
    info: egress_pb.EgressInfo
    request: egress_pb.RoomCompositeEgressRequest
    fail: str | None
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    webhooks: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)


def _guid(prefix: str) -> str:
    alphabet = string.ascii_letters + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(12))


def _now_ns() -> int:
    return time.time_ns()


class EgressMixin:
    """The part of `Relay` that simulates egress. Control methods are safe to call from any thread."""

    # What this part uses from the rest of Relay.
    api_key: str
    api_secret: str
    _lock: threading.RLock
    _session: aiohttp.ClientSession | None
    _spawn: Callable[[Any], asyncio.Task[Any]]
    _upstream: Callable[..., str]
    _proxy_http: Callable[..., Awaitable[web.Response]]
    _ingest: Callable[[_Event, bytes, str, str], Awaitable[int]]

    def _init_egress(
        self,
        extra_keys: Mapping[str, str] | None,
        egress_start_delay: float,
        webhook_retry: tuple[float, float, int],
    ) -> None:
        # Every key whose tokens the simulated Egress API accepts (the server's keys, rotation included).
        self.keys = {**(extra_keys or {}), self.api_key: self.api_secret}
        self.egress_start_delay = egress_start_delay
        self.webhook_retry = webhook_retry
        self._fail_next_egress: str | None = None
        self._egress: dict[str, _Egress] = {}
        # Auto-egress waiting for its room's room_started, by room name.
        self._pending_auto_egress: dict[str, room_pb.RoomEgress] = {}
        # Every auto-egress a CreateRoom asked for, by room name (what tests inspect).
        self._requested_auto_egress: dict[str, room_pb.RoomEgress] = {}
        # Rooms the server reported started and not yet finished: name -> sid.
        self._rooms: dict[str, str] = {}

    def auto_egress(self, room: str) -> room_pb.RoomEgress | None:
        """The auto-egress CreateRoom asked for this room, as received (before it was stripped)."""
        with self._lock:
            requested = self._requested_auto_egress.get(room)
            return _copy(requested) if requested is not None else None

    def fail_next_egress(self, error: str = "simulated egress failure (injected by the local relay)") -> None:
        """The next egress to start ends EGRESS_FAILED with `error` and uploads nothing."""
        with self._lock:
            self._fail_next_egress = error

    def egress_list(self, room: str | None = None) -> list[egress_pb.EgressInfo]:
        with self._lock:
            return [_copy(e.info) for e in self._egress.values() if room in (None, e.info.room_name)]

    # ------------------------------------------------------------------ rooms with auto-egress

    def _observe(self, body: bytes, event: _Event) -> None:
        """The relay's own view of rooms, for auto-egress; faults only touch what targets receive."""
        if event.name not in ("room_started", "room_finished") or event.room is None:
            return
        sid = (json.loads(body).get("room") or {}).get("sid", "")
        if event.name == "room_started":
            self._rooms[event.room] = sid
            if (auto := self._pending_auto_egress.pop(event.room, None)) is not None:
                request = egress_pb.RoomCompositeEgressRequest()
                request.CopyFrom(auto.room)
                request.room_name = event.room
                self._start_egress(request, sid)
        else:
            self._rooms.pop(event.room, None)
            for egress in list(self._egress.values()):
                if egress.info.room_name == event.room and egress.info.room_id in ("", sid):
                    self._stop_egress(egress)

    async def _create_room(self, request: web.Request) -> web.Response:
        body = await request.read()
        json_body = _is_json(request)
        create = room_pb.CreateRoomRequest()
        try:
            if json_body:
                json_format.Parse(body or b"{}", create, ignore_unknown_fields=True)
            else:
                create.ParseFromString(body)
        except (json_format.ParseError, DecodeError):
            # Not ours to judge: the server answers malformed requests itself.
            return await self._proxy_http(request, body)
        if not create.HasField("egress"):
            return await self._proxy_http(request, body)
        auto = room_pb.RoomEgress()
        auto.CopyFrom(create.egress)
        create.ClearField("egress")
        with self._lock:
            self._requested_auto_egress[create.name] = _copy(auto)
        if auto.HasField("participant") or auto.HasField("tracks"):
            log.warning("only auto room-composite egress is simulated; participant/track egress is ignored")
        known_before = self._rooms.get(create.name)
        # Registered before forwarding: the server's room_started can arrive before its CreateRoom answer.
        if auto.HasField("room"):
            self._pending_auto_egress[create.name] = auto
        stripped = (
            json_format.MessageToJson(create, preserving_proto_field_name=True).encode()
            if json_body
            else create.SerializeToString()
        )
        response = await self._proxy_http(request, stripped)
        room = models_pb.Room()
        if response.status == 200 and response.body:
            with contextlib.suppress(json_format.ParseError, DecodeError):
                if json_body:
                    json_format.Parse(bytes(response.body), room, ignore_unknown_fields=True)  # type: ignore[arg-type]
                else:
                    room.ParseFromString(bytes(response.body))  # type: ignore[arg-type]
        # Like the server, only a room this call created gets the auto-egress.
        if response.status != 200 or (known_before is not None and known_before == room.sid):
            self._pending_auto_egress.pop(create.name, None)
        return response

    # ------------------------------------------------------------------ simulated Egress API

    async def _egress_api(self, request: web.Request) -> web.Response:
        method = request.path.removeprefix("/twirp/livekit.Egress/")
        if request.method != "POST":
            raise TwirpError("bad_route", f"unsupported method {request.method!r} (only POST is allowed)")
        if method not in EGRESS_METHODS:
            raise TwirpError("bad_route", f"no handler for path {request.path!r}")
        content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type not in ("application/json", "application/protobuf"):
            raise TwirpError("bad_route", f"unexpected Content-Type: {request.headers.get('Content-Type')!r}")
        self._authorize(request)
        body = await request.read()
        handlers: dict[str, tuple[type[Message], Callable[[Any], Any]]] = {
            "StartRoomCompositeEgress": (egress_pb.RoomCompositeEgressRequest, self._start_room_composite),
            "StopEgress": (egress_pb.StopEgressRequest, self._stop_egress_request),
            "ListEgress": (egress_pb.ListEgressRequest, self._list_egress),
        }
        if method not in handlers:
            raise TwirpError("unimplemented", f"{method} is not simulated by the local relay")
        message_type, handler = handlers[method]
        message = message_type()
        try:
            if content_type == "application/json":
                json_format.Parse(body or b"{}", message, ignore_unknown_fields=True)
            else:
                message.ParseFromString(body)
        except (json_format.ParseError, DecodeError) as error:
            raise TwirpError("malformed", f"the request could not be decoded: {error}") from error
        reply: Message = await handler(message)
        if content_type == "application/json":
            # Twirp's defaults: proto field names, unpopulated fields included.
            text = json_format.MessageToJson(
                reply,
                preserving_proto_field_name=True,
                always_print_fields_with_no_presence=True,
                indent=None,
            )
            return web.Response(body=text.encode(), content_type="application/json")
        return web.Response(body=reply.SerializeToString(), content_type="application/protobuf")

    def _authorize(self, request: web.Request) -> None:
        """The server's rule: a token signed by a known key, carrying the roomRecord grant."""
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            raise TwirpError("unauthenticated", "permissions denied")
        token = header.removeprefix("Bearer ")
        try:
            issuer = jwt.decode(token, options={"verify_signature": False}).get("iss", "")
        except jwt.PyJWTError as error:
            raise TwirpError("unauthenticated", "invalid authorization token") from error
        if (secret := self.keys.get(issuer)) is None:
            raise TwirpError("unauthenticated", f"invalid API key: {issuer}")
        try:
            claims = api.TokenVerifier(issuer, secret).verify(token)
        except jwt.PyJWTError as error:
            raise TwirpError("unauthenticated", f"invalid token: {error}") from error
        if not (claims.video and claims.video.room_record):
            raise TwirpError("unauthenticated", "permissions denied")

    async def _start_room_composite(
        self, request: egress_pb.RoomCompositeEgressRequest
    ) -> egress_pb.EgressInfo:
        if not request.room_name:
            raise TwirpError("invalid_argument", "room_name is required")
        if not _file_outputs(request):
            raise TwirpError("invalid_argument", "the local relay simulates file outputs (S3) only")
        sid = await self._room_sid(request.room_name)
        if sid is None:
            raise TwirpError("not_found", "requested room does not exist")
        return _copy(self._start_egress(request, sid).info)

    async def _room_sid(self, name: str) -> str | None:
        """Ask the server (not our webhook view, which needs webhooks configured) whether the room exists."""
        assert self._session is not None
        token = api.AccessToken(self.api_key, self.api_secret).with_grants(api.VideoGrants(room_list=True))
        async with self._session.post(
            self._upstream("/twirp/livekit.RoomService/ListRooms"),
            data=room_pb.ListRoomsRequest(names=[name]).SerializeToString(),
            headers={"Authorization": f"Bearer {token.to_jwt()}", "Content-Type": "application/protobuf"},
        ) as response:
            if response.status != 200:
                raise TwirpError("unavailable", f"livekit-server ListRooms answered {response.status}")
            rooms = room_pb.ListRoomsResponse.FromString(await response.read()).rooms
        return rooms[0].sid if rooms else None

    async def _stop_egress_request(self, request: egress_pb.StopEgressRequest) -> egress_pb.EgressInfo:
        egress = self._egress.get(request.egress_id)
        if egress is None:
            raise TwirpError("not_found", "egress does not exist")
        if not self._stop_egress(egress):
            status = Status.Name(egress.info.status)
            raise TwirpError("failed_precondition", f"egress with status {status} cannot be stopped")
        return _copy(egress.info)

    async def _list_egress(self, request: egress_pb.ListEgressRequest) -> egress_pb.ListEgressResponse:
        if request.egress_id and request.egress_id not in self._egress:
            raise TwirpError("not_found", "egress does not exist")
        items = [
            e.info
            for e in self._egress.values()
            if request.egress_id in ("", e.info.egress_id)
            and request.room_name in ("", e.info.room_name)
            and (not request.active or e.info.status in (Status.EGRESS_STARTING, Status.EGRESS_ACTIVE))
        ]
        with self._lock:
            return egress_pb.ListEgressResponse(items=[_copy(i) for i in items])

    # ------------------------------------------------------------------ simulated egress

    def _start_egress(self, request: egress_pb.RoomCompositeEgressRequest, room_id: str) -> _Egress:
        with self._lock:
            fail, self._fail_next_egress = self._fail_next_egress, None
            info = egress_pb.EgressInfo(
                egress_id=_guid("EG_"),
                room_id=room_id,
                room_name=request.room_name,
                source_type=egress_pb.EgressSourceType.EGRESS_SOURCE_TYPE_WEB,
                status=Status.EGRESS_STARTING,
                updated_at=_now_ns(),
            )
            info.room_composite.CopyFrom(request)
            for output in _file_outputs(info.room_composite):
                _redact(output.s3)
            egress = _Egress(info=info, request=request, fail=fail)
            self._egress[info.egress_id] = egress
        self._spawn(self._send_egress_webhooks(egress))
        self._spawn(self._run_egress(egress))
        return egress

    def _stop_egress(self, egress: _Egress) -> bool:
        """Ask a running egress to end; False when it is not running (or already asked)."""
        with self._lock:
            if egress.stopping.is_set() or egress.info.status not in (
                Status.EGRESS_STARTING,
                Status.EGRESS_ACTIVE,
            ):
                return False
            egress.stopping.set()
            if egress.info.status == Status.EGRESS_ACTIVE:
                egress.info.status = Status.EGRESS_ENDING
                egress.info.updated_at = _now_ns()
            return True

    async def _run_egress(self, egress: _Egress) -> None:
        info = egress.info
        self._emit(egress, "egress_started")
        try:
            await asyncio.wait_for(egress.stopping.wait(), self.egress_start_delay)
            # Stopped before the recording started: nothing to upload.
            with self._lock:
                info.status = Status.EGRESS_ABORTED
                info.error = "egress stopped before the recording started"
                info.updated_at = info.ended_at = _now_ns()
            self._emit(egress, "egress_ended", last=True)
            return
        except TimeoutError:
            pass
        with self._lock:
            info.status = Status.EGRESS_ACTIVE
            info.started_at = info.updated_at = _now_ns()
        self._emit(egress, "egress_updated")
        await egress.stopping.wait()
        self._emit(egress, "egress_updated")  # EGRESS_ENDING, set by _stop_egress
        ended_at = _now_ns()
        error = egress.fail
        results: list[egress_pb.FileInfo] = []
        if error is None:
            try:
                results = await asyncio.get_running_loop().run_in_executor(
                    None, _upload_all, egress.info, egress.request, ended_at
                )
            except Exception as upload_error:
                error = f"upload failed: {upload_error}"
        with self._lock:
            info.ended_at = info.updated_at = _now_ns()
            if error is None:
                info.status = Status.EGRESS_COMPLETE
                info.file_results.extend(results)
                if len(results) == 1:
                    # The deprecated single `file` result, which egress still fills in.
                    info.file.CopyFrom(results[0])
            else:
                info.status = Status.EGRESS_FAILED
                info.error = error
        self._emit(egress, "egress_ended", last=True)

    def _emit(self, egress: _Egress, name: str, *, last: bool = False) -> None:
        """Queue a signed egress webhook; each egress has its own queue, like LiveKit's per-egress key."""
        with self._lock:
            event = webhook_pb.WebhookEvent(
                event=name, id=_guid("EV_"), created_at=int(time.time()), egress_info=_copy(egress.info)
            )
        egress.webhooks.put_nowait(encode_webhook(event))
        if last:
            egress.webhooks.put_nowait(None)

    async def _send_egress_webhooks(self, egress: _Egress) -> None:
        wait_min, wait_max, retries = self.webhook_retry
        while (body := await egress.webhooks.get()) is not None:
            authorization = sign_webhook(body, self.api_key, self.api_secret)
            event = _Event.parse(body)
            for attempt in range(retries + 1):
                status = await self._ingest(event, body, authorization, "relay")
                if status < 500 and status != 429:
                    break
                if attempt < retries:
                    await asyncio.sleep(min(wait_min * 2**attempt, wait_max))


def _is_json(request: web.Request) -> bool:
    return request.headers.get("Content-Type", "").split(";")[0].strip().lower() == "application/json"


def _copy[M: Message](message: M) -> M:
    duplicate = type(message)()
    duplicate.CopyFrom(message)
    return duplicate
