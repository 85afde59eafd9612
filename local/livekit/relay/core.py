"""A relay in front of the real livekit-server: one LiveKit URL for API calls and client signalling, plus the
few things the real server cannot do on one machine.

Real, passed through untouched:
- every Twirp call (`/twirp/livekit.RoomService/...` and the rest) and client signalling (the `/rtc`
  WebSocket, `/rtc/validate`); media never touches the relay, clients send it to the server's UDP port;
- the server's own webhooks: the server posts them to the relay (`/webhook`), the relay forwards body and
  Authorization header byte for byte to the targets and answers the server with the target's status, so
  LiveKit's per-room queue and its retries on 5xx or connection errors work end to end.

Simulated (egress needs Chrome and GStreamer, which a test machine does not run):
- the Egress service (`/twirp/livekit.Egress/...`: StartRoomCompositeEgress, StopEgress, ListEgress), JSON and
  protobuf like Twirp, with the server's authorisation rule (a valid token with the roomRecord grant);
- auto-egress: CreateRoom's `egress` is stripped before forwarding (livekit-server without an egress worker
  fails CreateRoom when it is set) and run when the server's `room_started` for that room arrives;
- the recording: a small placeholder file (it says so) uploaded with boto3 to the request's S3 bucket, and
  signed `egress_started`/`egress_updated`/`egress_ended` webhooks encoded and signed as the server does;
- faults, set at run time from Python or the admin API (`/_relay/...`): on webhook delivery drop, duplicate,
  delay, reorder, reject (answer the sender an error so it retries); failing the next egress; cutting a
  client's signalling connection (a network blip; media keeps flowing, the SDK reconnects).

In-process: `Relay(upstream).start()` (a thread with its own event loop), or `local_livekit()` for relay and
server together. As a process:

    python -m local.livekit.relay --upstream http://127.0.0.1:7880 --port 7800 \\
        --webhook-target http://127.0.0.1:3000/livekit/webhook --api-key K --api-secret S
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import posixpath
import secrets
import signal
import string
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

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

from local.livekit.relay.protocol import TWIRP_STATUS, TwirpError, encode_webhook, sign_webhook
from local.livekit.relay.proxy import ProxyMixin
from local.livekit.relay.records import _Event
from local.livekit.relay.webhooks import WebhooksMixin
from local.livekit.server import DEV_API_KEY, DEV_API_SECRET, LiveKitServer

log = logging.getLogger("local.livekit.relay")

Status = egress_pb.EgressStatus
EGRESS_PLACEHOLDER = "reels-live local relay: placeholder recording, not a real media file"
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


class Relay(WebhooksMixin, ProxyMixin):
    """The relay: `start()`/`stop()` run it on a thread with its own loop, `open()`/`close()` on the caller's.

    Control methods (faults, targets, webhook log, egress) are safe to call from any thread."""

    def __init__(
        self,
        upstream: str | None = None,
        *,
        port: int = 0,
        webhook_targets: Sequence[str] = (),
        api_key: str = DEV_API_KEY,
        api_secret: str = DEV_API_SECRET,
        extra_keys: Mapping[str, str] | None = None,
        seed: int = 0,
        egress_start_delay: float = 0.1,
        webhook_retry: tuple[float, float, int] = DEFAULT_RETRY,
        webhook_timeout: float = 10.0,
        max_hold: float = 10.0,
    ) -> None:
        self.upstream = upstream
        self.api_key = api_key
        self.api_secret = api_secret
        # Every key whose tokens the simulated Egress API accepts (the server's keys, rotation included).
        self.keys = {**(extra_keys or {}), api_key: api_secret}
        self.egress_start_delay = egress_start_delay
        self.webhook_retry = webhook_retry
        self._port = port
        self._lock = threading.RLock()
        self._init_webhooks(webhook_targets, seed, webhook_timeout, max_hold)
        self._fail_next_egress: str | None = None
        self._egress: dict[str, _Egress] = {}
        # Auto-egress waiting for its room's room_started, by room name.
        self._pending_auto_egress: dict[str, room_pb.RoomEgress] = {}
        # Every auto-egress a CreateRoom asked for, by room name (what tests inspect).
        self._requested_auto_egress: dict[str, room_pb.RoomEgress] = {}
        # Twirp API calls seen ("RoomService/CreateRoom" -> count) and failures to inject into them.
        self._api_calls: Counter[str] = Counter()
        self._api_faults: dict[str, list[int]] = {}
        # Rooms the server reported started and not yet finished: name -> sid.
        self._rooms: dict[str, str] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._init_proxy()
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self._port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    @property
    def webhook_url(self) -> str:
        """Where livekit-server must post its webhooks (its config's webhook.urls)."""
        return f"{self.http_url}/webhook"

    async def open(self) -> None:
        """Bind 127.0.0.1 and serve on the running loop."""
        self._loop = asyncio.get_running_loop()
        # auto_decompress off: bodies pass through exactly as the upstream encoded them.
        self._session = aiohttp.ClientSession(
            auto_decompress=False, timeout=aiohttp.ClientTimeout(total=None)
        )
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self._port)
        await site.start()
        self._port = int(self._runner.addresses[0][1])

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for socket in list(self._sockets):
            await socket.close(code=aiohttp.WSCloseCode.GOING_AWAY)
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    def start(self, timeout: float = 10.0) -> Self:
        """Serve on a daemon thread with its own event loop; returns once the port is bound."""
        ready = threading.Event()
        failure: list[BaseException] = []
        loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.open())
            except BaseException as error:
                failure.append(error)
                loop.close()
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self.close())
            loop.close()

        self._thread = threading.Thread(target=run, name="livekit-relay", daemon=True)
        self._thread.start()
        if not ready.wait(timeout):
            raise RuntimeError("the relay did not start")
        if failure:
            raise failure[0]
        return self

    def stop(self, timeout: float = 10.0) -> None:
        thread, self._thread = self._thread, None
        if thread is None or self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        thread.join(timeout)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _spawn(self, coroutine: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # ------------------------------------------------------------------ control (any thread)

    def fail_api(self, method: str, *, times: int = 1, status: int = 503) -> None:
        """Answer the next `times` calls to a Twirp method ("RoomService/CreateRoom") with a Twirp error of
        `status` instead of passing them on: LiveKit being down or refusing, for the product's retries."""
        with self._lock:
            self._api_faults.setdefault(method, []).extend([status] * times)

    def api_calls(self, method: str) -> int:
        """How many calls to a Twirp method ("RoomService/CreateRoom") reached the relay."""
        with self._lock:
            return self._api_calls[method]

    def reset_api(self) -> None:
        """Forget API call counts, pending API faults and requested auto-egress (between tests)."""
        with self._lock:
            self._api_calls.clear()
            self._api_faults.clear()
            self._requested_auto_egress.clear()

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

    # ------------------------------------------------------------------ routing

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        try:
            if path.startswith("/_relay/"):
                return await self._admin(request)
            if path == "/webhook" and request.method == "POST":
                return await self._server_webhook(request)
            if path.startswith("/twirp/livekit.") and (failure := self._count_api_call(path)) is not None:
                return failure
            if path.startswith("/twirp/livekit.Egress/"):
                return await self._egress_api(request)
            if path == "/twirp/livekit.RoomService/CreateRoom" and request.method == "POST":
                return await self._create_room(request)
            if request.headers.get("Upgrade", "").lower() == "websocket":
                return await self._proxy_websocket(request)
            return await self._proxy_http(request)
        except TwirpError as error:
            return error.response()

    def _count_api_call(self, path: str) -> web.Response | None:
        """Count a Twirp call; answer it with an injected failure if one is pending for its method."""
        method = path.removeprefix("/twirp/livekit.")
        with self._lock:
            self._api_calls[method] += 1
            pending = self._api_faults.get(method)
            status = pending.pop(0) if pending else None
        if status is None:
            return None
        code = next((name for name, value in TWIRP_STATUS.items() if value == status), "unavailable")
        return web.json_response(
            {"code": code, "msg": f"injected by the local relay ({status})"}, status=status
        )

    # ------------------------------------------------------------------ webhooks

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

    # ------------------------------------------------------------------ rooms with auto-egress

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
                    None, self._upload_all, egress, ended_at
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

    def _upload_all(self, egress: _Egress, ended_at: int) -> list[egress_pb.FileInfo]:
        return [self._upload(egress, output, ended_at) for output in _file_outputs(egress.request)]

    def _upload(
        self, egress: _Egress, output: egress_pb.EncodedFileOutput, ended_at: int
    ) -> egress_pb.FileInfo:
        """Put the placeholder where egress would put the recording; LiveKit reports the https location."""
        import boto3
        from botocore.config import Config

        if not output.HasField("s3"):
            raise ValueError("the local relay simulates S3 uploads only")
        s3 = output.s3
        info = egress.info
        key = storage_path(output, info.room_name, info.room_id, datetime.now(UTC))
        content = (
            f"{EGRESS_PLACEHOLDER}\negress_id={info.egress_id}\nroom_name={info.room_name}\n"
            f"room_id={info.room_id}\nstarted_at={info.started_at}\nended_at={ended_at}\n"
        ).encode()
        options: dict[str, Any] = {}
        if s3.region:
            options["region_name"] = s3.region
        if s3.endpoint:
            options["endpoint_url"] = s3.endpoint
        if s3.access_key and s3.secret:
            options.update(aws_access_key_id=s3.access_key, aws_secret_access_key=s3.secret)
            if s3.session_token:
                options["aws_session_token"] = s3.session_token
        if s3.force_path_style:
            options["config"] = Config(s3={"addressing_style": "path"})
        # assume_role_arn is not used: locally the environment's credentials write the bucket.
        client = boto3.session.Session().client("s3", **options)
        extra: dict[str, Any] = {
            "ContentType": "audio/ogg" if output.file_type == egress_pb.EncodedFileType.OGG else "video/mp4",
            "ContentDisposition": s3.content_disposition or "inline",
            "Metadata": {**dict(s3.metadata), "placeholder": "true", "generator": "reels-live-local-relay"},
        }
        if s3.tagging:
            extra["Tagging"] = s3.tagging
        client.put_object(Bucket=s3.bucket, Key=key, Body=content, **extra)
        return egress_pb.FileInfo(
            filename=key,
            started_at=info.started_at,
            ended_at=ended_at,
            duration=max(ended_at - info.started_at, 0),
            size=len(content),
            location=f"https://{s3.bucket}.s3.amazonaws.com/{key}",
        )

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

    # ------------------------------------------------------------------ admin API

    async def _admin(self, request: web.Request) -> web.Response:
        route = request.path.removeprefix("/_relay").rstrip("/")
        method = request.method
        payload: dict[str, Any] = {}
        if method in ("POST", "PUT") and request.can_read_body:
            try:
                payload = await request.json()
            except ValueError:
                return web.json_response({"error": "body must be JSON"}, status=400)
        query = request.query
        if route == "/health":
            return web.json_response({"ok": True, "upstream": self.upstream})
        if route == "/webhooks" and method == "GET":
            records = self.webhooks(query.get("event"), query.get("room"), query.get("action"))  # type: ignore[arg-type]
            return web.json_response({"webhooks": [r.as_dict() for r in records]})
        if route == "/webhooks" and method == "DELETE":
            self.clear_webhooks()
            return web.json_response({"ok": True})
        if route == "/faults" and method == "GET":
            return web.json_response({"faults": [f.as_dict() for f in self.faults()]})
        if route == "/faults" and method == "POST":
            try:
                fault = self.add_fault(**payload)
            except (TypeError, ValueError) as error:
                return web.json_response({"error": str(error)}, status=400)
            return web.json_response(fault.as_dict(), status=201)
        if route == "/faults" and method == "DELETE":
            self.clear_faults()
            return web.json_response({"ok": True})
        if route.startswith("/faults/") and method == "DELETE":
            self.clear_faults(int(route.removeprefix("/faults/")))
            return web.json_response({"ok": True})
        if route == "/seed" and method == "POST":
            self.reseed(int(payload.get("seed", 0)))
            return web.json_response({"ok": True})
        if route == "/targets" and method == "GET":
            return web.json_response({"urls": self.webhook_targets})
        if route == "/targets" and method == "PUT":
            self.webhook_targets = [str(url) for url in payload.get("urls", [])]
            return web.json_response({"urls": self.webhook_targets})
        if route == "/signalling/sever" and method == "POST":
            return web.json_response({"severed": self._cut_signalling(payload.get("identity"))})
        if route == "/egress" and method == "GET":
            items = [json_format.MessageToDict(i) for i in self.egress_list(query.get("room"))]
            return web.json_response({"egress": items})
        if route == "/egress/fail-next" and method == "POST":
            self.fail_next_egress(**({"error": str(payload["error"])} if "error" in payload else {}))
            return web.json_response({"ok": True})
        return web.json_response({"error": f"no admin route {method} {request.path}"}, status=404)


def _is_json(request: web.Request) -> bool:
    return request.headers.get("Content-Type", "").split(";")[0].strip().lower() == "application/json"


def _copy[M: Message](message: M) -> M:
    duplicate = type(message)()
    duplicate.CopyFrom(message)
    return duplicate


def _redact(s3: egress_pb.S3Upload) -> None:
    """What LiveKit does to credentials in the EgressInfo it hands out (webhooks, API answers)."""
    for name, placeholder in (
        ("access_key", "{access_key}"),
        ("secret", "{secret}"),
        ("session_token", "{session_token}"),
        ("assume_role_external_id", "{external_id}"),
    ):
        if getattr(s3, name):
            setattr(s3, name, placeholder)


def _file_outputs(request: egress_pb.RoomCompositeEgressRequest) -> list[egress_pb.EncodedFileOutput]:
    outputs = list(request.file_outputs)
    if request.HasField("file"):
        outputs.append(request.file)
    return outputs


def storage_path(output: egress_pb.EncodedFileOutput, room_name: str, room_id: str, now: datetime) -> str:
    """The object key egress writes: `filepath` with {room_name}, {room_id}, {time}, {utc} replaced, a
    generated name when it is empty or ends in /, and the file type's extension."""
    extension = {egress_pb.EncodedFileType.OGG: ".ogg", egress_pb.EncodedFileType.MP3: ".mp3"}.get(
        output.file_type, ".mp4"
    )
    stamp = now.strftime("%Y-%m-%dT%H%M%S")
    replacements = {
        "{room_name}": room_name,
        "{room_id}": room_id,
        "{time}": stamp,
        "{utc}": now.strftime("%Y%m%d%H%M%S") + f"{now.microsecond // 1000:03d}",
    }
    path = output.filepath
    trailing_slash = path.endswith("/")
    path = posixpath.normpath(path) if path else ""
    while path.startswith("../"):
        path = path[3:]
    path = "" if path in (".", "..") else path + ("/" if trailing_slash and path else "")
    for placeholder, value in replacements.items():
        path = path.replace(placeholder, value)
    if not path or path.endswith("/"):
        return f"{path}{room_name}-{stamp}{extension}"
    if not path.endswith(extension):
        stem, dot, suffix = path.rpartition(".")
        if dot and "/" not in suffix and f".{suffix}" in (".mp4", ".ogg", ".mp3", ".ts", ".webm"):
            path = stem
        path += extension
    return path


# ---------------------------------------------------------------------- relay and server together


@dataclass
class LocalLiveKit:
    """The real server behind the relay; `url` (the relay's) is the one LiveKit URL to hand out."""

    server: LiveKitServer
    relay: Relay

    @property
    def url(self) -> str:
        return self.relay.url

    @property
    def http_url(self) -> str:
        return self.relay.http_url

    @property
    def api_key(self) -> str:
        return self.server.api_key

    @property
    def api_secret(self) -> str:
        return self.server.api_secret


@contextlib.contextmanager
def local_livekit(
    *,
    webhook_targets: Sequence[str] = (),
    api_key: str = DEV_API_KEY,
    api_secret: str = DEV_API_SECRET,
    extra_keys: Mapping[str, str] | None = None,
    seed: int = 0,
    server_options: Mapping[str, Any] | None = None,
) -> Iterator[LocalLiveKit]:
    """Start the relay, then the server posting its webhooks to the relay; stop both on exit."""
    relay = Relay(
        webhook_targets=webhook_targets,
        api_key=api_key,
        api_secret=api_secret,
        extra_keys=extra_keys,
        seed=seed,
    ).start()
    try:
        server = LiveKitServer(
            api_key=api_key,
            api_secret=api_secret,
            extra_keys=extra_keys,
            webhook_urls=[relay.webhook_url],
            **dict(server_options or {}),
        ).start()
        try:
            relay.upstream = server.http_url
            yield LocalLiveKit(server, relay)
        finally:
            # Server first: it drains its webhook queue into a relay that is still there.
            server.stop()
    finally:
        relay.stop()


# ---------------------------------------------------------------------- CLI


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m local.livekit.relay",
        description="Relay in front of livekit-server: passes API calls, signalling and webhooks through, "
        "simulates egress (placeholder recordings to S3) and injects webhook faults (admin API: /_relay/).",
        epilog="With --upstream, that server's webhook.urls must include http://127.0.0.1:PORT/webhook "
        "(this relay): auto-egress starts on the server's room_started.",
    )
    parser.add_argument("--upstream", help="livekit-server's HTTP URL, e.g. http://127.0.0.1:7880")
    parser.add_argument(
        "--start-server", action="store_true", help="also start livekit-server (local/livekit/livekit.yaml)"
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument(
        "--webhook-target", action="append", default=[], help="URL receiving webhooks (repeatable)"
    )
    parser.add_argument("--api-key", default=DEV_API_KEY)
    parser.add_argument("--api-secret", default=DEV_API_SECRET)
    parser.add_argument(
        "--extra-key",
        action="append",
        default=[],
        metavar="KEY=SECRET",
        help="another accepted key (rotation)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for probabilistic faults")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    if not args.upstream and not args.start_server:
        parser.error("give --upstream or --start-server")
    if any("=" not in pair for pair in args.extra_key):
        parser.error("--extra-key takes KEY=SECRET")
    args.extra_keys = dict(pair.split("=", 1) for pair in args.extra_key)
    return args


async def _main(args: argparse.Namespace) -> None:
    relay = Relay(
        args.upstream,
        port=args.port,
        webhook_targets=args.webhook_target,
        api_key=args.api_key,
        api_secret=args.api_secret,
        extra_keys=args.extra_keys,
        seed=args.seed,
    )
    await relay.open()
    server = None
    try:
        if args.start_server:
            server = LiveKitServer(
                api_key=args.api_key,
                api_secret=args.api_secret,
                extra_keys=args.extra_keys,
                webhook_urls=[relay.webhook_url],
            )
            await asyncio.to_thread(server.start)
            relay.upstream = server.http_url
            log.info("livekit-server %s (log: %s)", server.http_url, server.log_path)
        log.info(
            "relay %s -> %s; server webhooks in at %s, out to %s",
            relay.url,
            relay.upstream,
            relay.webhook_url,
            relay.webhook_targets or "nobody",
        )
        print(f"LIVEKIT_URL={relay.url}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        if server is not None:
            await asyncio.to_thread(server.stop)
        await relay.close()


def main(argv: Sequence[str] | None = None) -> None:
    args = _parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(_main(args))
