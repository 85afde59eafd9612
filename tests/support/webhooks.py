"""LiveKit webhooks for tests: events built from livekit.protocol, encoded and signed as LiveKit does them
(protojson body; HS256 token from livekit-api's AccessToken with the body's sha256), posted to our route."""

import itertools
import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from livekit.protocol import egress as egress_pb
from livekit.protocol import models as models_pb
from livekit.protocol import webhook as webhook_pb

from local.livekit.relay import encode_webhook, sign_webhook
from local.livekit.server import DEV_API_KEY, DEV_API_SECRET
from reels_live.core import ids
from reels_live.entities.lifecycle import StreamStatus
from reels_live.entities.participants import Participant
from reels_live.entities.streams import Role, Stream, room_name
from reels_live.store import streams as stream_store
from tests.support import api, stack

Kind = models_pb.ParticipantInfo.Kind
EgressStatus = egress_pb.EgressStatus
_ids = itertools.count(1)


def seed_stream(
    author: str = "user-alice", *, created_at: int, record: bool = False, **fields: Any
) -> Stream:
    """A preparing stream as POST /streams stores it (the LiveKit room is not needed by the webhook)."""
    stream_id = ids.new_id()
    stream = Stream(
        stream_id=stream_id,
        author_id=author,
        title=fields.pop("title", "Skate session"),
        room_name=room_name(stream_id),
        status=StreamStatus.PREPARING,
        created_at=created_at,
        record=record,
        recording_status="pending" if record else "none",
        **fields,
    )
    broadcaster = Participant(
        stream_id=stream_id,
        user_id=author,
        role=Role.BROADCASTER,
        joined_at=created_at,
        last_admitted_at=created_at,
    )
    with stack.function_environment("CreateStreamFunction"):
        stream_store.put_new_stream(stream, broadcaster)
    return stream


def admit(stream: Stream, user: str, at: int) -> None:
    """What POST /streams/{id}/join records before the viewer connects."""
    with stack.function_environment("JoinStreamFunction"):
        stream_store.record_admission(stream.stream_id, user, Role.VIEWER.value, at)


def room(stream: Stream | str, sid: str = "RM_test") -> models_pb.Room:
    name = stream.room_name if isinstance(stream, Stream) else stream
    return models_pb.Room(sid=sid, name=name, empty_timeout=300, departure_timeout=20)


def participant(
    identity: str,
    sid: str,
    *,
    joined_at_ms: int,
    kind: int = Kind.STANDARD,
    hidden: bool = False,
    recorder: bool = False,
    state: int = models_pb.ParticipantInfo.State.ACTIVE,
) -> models_pb.ParticipantInfo:
    return models_pb.ParticipantInfo(
        sid=sid,
        identity=identity,
        state=state,
        joined_at=joined_at_ms // 1000,
        joined_at_ms=joined_at_ms,
        kind=kind,
        permission=models_pb.ParticipantPermission(
            can_subscribe=True, can_publish=False, hidden=hidden, recorder=recorder
        ),
    )


def egress_info(
    stream: Stream,
    status: int,
    *,
    updated_at_ms: int,
    egress_id: str = "EG_test",
    location: str | None = None,
    error: str = "",
) -> egress_pb.EgressInfo:
    info = egress_pb.EgressInfo(
        egress_id=egress_id,
        room_id="RM_test",
        room_name=stream.room_name,
        status=status,
        updated_at=updated_at_ms * 1_000_000,
        error=error,
    )
    if location:
        info.file_results.append(egress_pb.FileInfo(filename=location.rsplit("/", 1)[-1], location=location))
    return info


def event(
    name: str,
    *,
    at_ms: int,
    stream: Stream | None = None,
    participant: models_pb.ParticipantInfo | None = None,
    egress: egress_pb.EgressInfo | None = None,
    event_id: str | None = None,
    room_name: str | None = None,
) -> webhook_pb.WebhookEvent:
    """A WebhookEvent as livekit-server makes it: an id, createdAt in seconds, the room (minimal for
    track events, as the server sends them)."""
    built = webhook_pb.WebhookEvent(
        event=name, id=event_id or f"EV_{next(_ids):012d}", created_at=at_ms // 1000
    )
    if stream is not None or room_name is not None:
        built.room.CopyFrom(room(room_name or stream))
    if participant is not None:
        if name.startswith("track_"):
            # The server sends only sid and identity with track events.
            built.participant.CopyFrom(
                models_pb.ParticipantInfo(sid=participant.sid, identity=participant.identity)
            )
            built.track.CopyFrom(
                models_pb.TrackInfo(sid=f"TR_{participant.sid}", type=models_pb.TrackType.VIDEO)
            )
        else:
            built.participant.CopyFrom(participant)
    if egress is not None:
        built.egress_info.CopyFrom(egress)
    return built


def encode(built: webhook_pb.WebhookEvent) -> bytes:
    return encode_webhook(built)


def sign(body: bytes, key: str = DEV_API_KEY, secret: str = DEV_API_SECRET) -> str:
    return sign_webhook(body, key, secret)


def post(body: bytes, authorization: str | None) -> api.ApiResponse:
    """POST /livekit/webhook as LiveKit sends it (its content type; the bare token in Authorization)."""
    headers = {"content-type": "application/webhook+json"}
    if authorization is not None:
        headers["authorization"] = authorization
    return api.request("POST", "/livekit/webhook", user=None, raw_body=body, headers=headers)


def deliver(built: webhook_pb.WebhookEvent) -> api.ApiResponse:
    """Encode, sign with the dev key and post one event; the answer must be 200."""
    body = encode(built)
    response = post(body, sign(body))
    assert response.status == 200, response.body
    return response


class HandlerSink:
    """Stands in for API Gateway on loopback: LiveKit's (or the relay's) webhook POSTs are handed to the
    webhook function as HTTP API events, byte for byte, and answered with the function's status, so
    LiveKit's retries on a 5xx work end to end."""

    def __init__(self) -> None:
        self.outcomes: list[tuple[str, str, int]] = []  # (event, outcome or error code, status)
        self._changed = threading.Condition()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                response = post(body, self.headers.get("Authorization"))
                name = json.loads(body).get("event", "?") if response.status != 401 else "?"
                answer = response.body.get("outcome") or response.error_code or ""
                with sink._changed:
                    sink.outcomes.append((name, answer, response.status))
                    sink._changed.notify_all()
                self.send_response(response.status)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}/livekit/webhook"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def wait_for(self, condition: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
        """Block until `condition` holds, re-checked whenever a webhook has been handled."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not condition():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{what} not met within {timeout}s; handled: {self.outcomes}")
                self._changed.wait(min(remaining, 0.2))

    def handled(self, event: str) -> list[str]:
        with self._changed:
            return [outcome for name, outcome, _ in self.outcomes if name == event]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
