"""LiveKit webhooks: verify exactly as LiveKit signs, then say what each event means for the stream.

LiveKit signs a webhook with an HS256 JWT in the Authorization header: the API key is its issuer, valid five
minutes, and its `sha256` claim is base64(sha256(raw body)). Any key of the secret verifies (the current
one and `previousKeys`), so a key rotation loses nothing. Delivery is best effort (one serial queue per room,
retried after a 5xx or a connection error, dropped when late), so every event is applied by a conditional
transition (see transitions) and remembered by id; the reconciler repairs what never arrives.

Kept lean for the cold path: PyJWT and `livekit.protocol`, never `livekit.api` (only DeleteRoom needs it).
"""

import base64
import hashlib
import hmac
from collections.abc import Callable

import jwt
from aws_lambda_powertools.metrics import MetricUnit
from google.protobuf import json_format
from livekit.protocol.webhook import WebhookEvent

from reels_live.core.errors import InvalidWebhookSignature, LiveKitUnavailable, MalformedWebhook
from reels_live.core.observability import logger, metrics
from reels_live.entities.live import Change, Snapshot
from reels_live.entities.streams import stream_id_of_room
from reels_live.integrations import rooms, secrets
from reels_live.live import tracking, transitions
from reels_live.store import live as live_store

# Clock skew allowed between LiveKit and us when checking the token's exp and nbf.
LEEWAY_SECONDS = 60

PARTICIPANT_EVENTS = ("participant_joined", "participant_left", "participant_connection_aborted")
EGRESS_EVENTS = ("egress_started", "egress_updated", "egress_ended")


def receive(body: bytes, authorization: str | None) -> WebhookEvent:
    """The event, once its signature and body hash verify (InvalidWebhookSignature otherwise); a verified
    body that is not a WebhookEvent raises MalformedWebhook."""
    verify(body, authorization)
    event = WebhookEvent()
    try:
        json_format.Parse(body, event, ignore_unknown_fields=True)
    except (json_format.ParseError, UnicodeDecodeError, ValueError) as error:
        raise MalformedWebhook(f"The body is not a LiveKit WebhookEvent: {error}") from error
    if not event.event or not event.id:
        raise MalformedWebhook(
            "The event has no `event` name or no `id`.", field="event" if not event.event else "id"
        )
    return event


def verify(body: bytes, authorization: str | None) -> None:
    """Check the token (known key, HS256, not expired) and that its `sha256` claim is this body's hash."""
    token = (authorization or "").strip().removeprefix("Bearer ").strip()
    if not token:
        raise InvalidWebhookSignature("Missing Authorization header.")
    try:
        issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
    except jwt.PyJWTError as error:
        raise InvalidWebhookSignature("The Authorization token is not a JWT.") from error
    secret = secrets.livekit_credentials().verification_keys.get(issuer) if isinstance(issuer, str) else None
    if secret is None:
        raise InvalidWebhookSignature("The token is signed with an unknown API key.")
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            issuer=issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iss"]},
        )
    except jwt.PyJWTError as error:
        raise InvalidWebhookSignature(f"The token does not verify: {error}") from error
    expected = base64.b64encode(hashlib.sha256(body).digest()).decode()
    claimed = claims.get("sha256")
    if not isinstance(claimed, str) or not hmac.compare_digest(claimed.encode(), expected.encode()):
        raise InvalidWebhookSignature("The body does not match the token's sha256 claim.")


def handle(event: WebhookEvent) -> str:
    """Apply one verified event; returns what became of it (for the log and the answer)."""
    room = event.room.name or event.egress_info.room_name
    stream_id = stream_id_of_room(room)
    if stream_id is None:
        logger.info("webhook for a room this app does not own", extra={"room": room, "event": event.event})
        return "not_our_room"
    if event.event == "room_started":
        outcome = _room_started(stream_id)
    else:
        decision = _decision(event)
        if decision is None:
            outcome = "ignored"
        else:
            decide, user_id, sid = decision
            applied = tracking.apply(
                stream_id, decide, user_id=user_id, sid=sid, event_id=event.id, event=event.event
            )
            if applied.stream is not None:
                tracking.follow_up(applied.stream)
            outcome = applied.outcome
    logger.info(
        "webhook handled",
        extra={"stream_id": stream_id, "event": event.event, "event_id": event.id, "outcome": outcome},
    )
    metrics.add_metric(name="WebhookHandled", unit=MetricUnit.Count, value=1)
    return outcome


def _decision(
    event: WebhookEvent,
) -> tuple[Callable[[Snapshot], Change | None], str | None, str | None] | None:
    """(decide, participant, session) for an event, or None for events that say nothing we track."""
    at = event.created_at * 1000
    if event.event in PARTICIPANT_EVENTS:
        info = event.participant
        joined_at = info.joined_at_ms or info.joined_at * 1000 or at

        def on_participant(snap: Snapshot) -> Change | None:
            role = transitions.role_of(info, snap.stream.author_id)
            if role is None:
                return None
            if event.event == "participant_joined":
                return transitions.connected(
                    snap, sid=info.sid, user_id=info.identity, role=role, joined_at=joined_at
                )
            return transitions.disconnected(
                snap,
                sid=info.sid,
                user_id=info.identity,
                role=role,
                joined_at=joined_at,
                left_at=at,
                # LiveKit sends connection_aborted for a participant that never became active.
                ever_connected=event.event == "participant_left",
            )

        return on_participant, info.identity, info.sid
    if event.event == "track_published":
        info = event.participant

        def on_publish(snap: Snapshot) -> Change | None:
            return transitions.published(snap, sid=info.sid, user_id=info.identity, at=at)

        return on_publish, info.identity, info.sid
    if event.event == "room_finished":
        return (lambda snap: transitions.room_finished(snap, at=at)), None, None
    if event.event in EGRESS_EVENTS:
        update = transitions.EgressUpdate.of(event.egress_info)
        return (lambda snap: transitions.egress(snap, update)), None, None
    # track_unpublished, ingress_*: nothing we keep depends on them.
    return None


def _room_started(stream_id: str) -> str:
    """A room for an ended stream was made again (a client whose token LiveKit keeps refreshing): delete it."""
    snap = live_store.read(stream_id)
    if snap is None:
        return "unknown_stream"
    if snap.stream.is_active:
        return "unchanged"
    try:
        rooms.delete_room(snap.stream.room_name)
    except rooms.LiveKitError as error:
        # Nothing was written; answering 503 makes LiveKit send room_started again.
        raise LiveKitUnavailable("Could not delete the room of an ended stream; retry.") from error
    metrics.add_metric(name="ResurrectedRoomDeleted", unit=MetricUnit.Count, value=1)
    return "room_deleted"
