"""Stream lifecycle rules: start, read, admit and end a stream (no HTTP, no Lambda, no table keys)."""

from aws_lambda_powertools.metrics import MetricUnit

from reels_live.core import clock, ids
from reels_live.core.config import settings
from reels_live.core.errors import (
    ActiveStreamExists,
    LiveKitUnavailable,
    NotStreamOwner,
    RateLimited,
    StreamEnded,
    StreamNotFound,
    StreamRequiresPayment,
)
from reels_live.core.observability import logger, metrics
from reels_live.entities.lifecycle import RecordingStatus, StreamStatus, can_transition
from reels_live.entities.participants import Participant
from reels_live.entities.streams import Role, Stream, room_name
from reels_live.integrations import access_tokens, rooms
from reels_live.store import streams as stream_store
from reels_live.streams.schemas import Connection, CreateStreamRequest, StreamView, StreamWithConnection


def start_stream(author_id: str, request: CreateStreamRequest) -> StreamWithConnection:
    """Create the room, then the stream (preparing) with its broadcaster; answer with a publish token.

    The room comes first so a LiveKit failure leaves nothing in the table; a room left behind by a crash
    before the table write is empty and LiveKit closes it after `empty_timeout`.
    """
    active = stream_store.get_active_stream_id(author_id)
    if active:
        raise _active_stream_exists(active)
    now = clock.now_ms()
    quota = stream_store.consume_create_quota(author_id, now, settings().stream_create_limit_per_hour)
    if not quota.allowed:
        raise RateLimited(
            f"At most {settings().stream_create_limit_per_hour} streams an hour; try again later.",
            retry_after_seconds=quota.retry_after_seconds,
        )
    stream_id = ids.new_id()
    stream = Stream(
        stream_id=stream_id,
        author_id=author_id,
        room_name=room_name(stream_id),
        status=StreamStatus.PREPARING,
        created_at=now,
        **request.model_dump(exclude={"record"}),
        record=request.record,
        recording_status=RecordingStatus.PENDING if request.record else RecordingStatus.NONE,
    )
    try:
        rooms.create_room(stream)
    except rooms.LiveKitError as error:
        logger.warning("room creation failed", extra={"stream_id": stream_id, "error": str(error)})
        metrics.add_metric(name="RoomCreateFailed", unit=MetricUnit.Count, value=1)
        stream_store.refund_create_quota(author_id, quota.window_start_ms)
        raise LiveKitUnavailable(
            "The live video service is unavailable; nothing was created. Retry."
        ) from error
    broadcaster = Participant(
        stream_id=stream_id, user_id=author_id, role=Role.BROADCASTER, joined_at=now, last_admitted_at=now
    )
    try:
        stream_store.put_new_stream(stream, broadcaster)
    except stream_store.ActiveStreamTaken:
        # A concurrent create won the race; our room has no stream behind it.
        _delete_room_quietly(stream)
        raise _active_stream_exists(stream_store.get_active_stream_id(author_id)) from None
    logger.info("stream created", extra={"stream_id": stream_id, "user_id": author_id})
    metrics.add_metric(name="StreamStarted", unit=MetricUnit.Count, value=1)
    return StreamWithConnection(stream=StreamView.of(stream), connection=_connect(stream, author_id))


def get_stream(stream_id: str) -> StreamView:
    return StreamView.of(_existing(stream_id))


def join_stream(stream_id: str, user_id: str) -> StreamWithConnection:
    """Admit a user: the creator as broadcaster again, anyone else as a viewer who cannot publish."""
    stream = _existing(stream_id)
    if not stream.is_active:
        raise StreamEnded(f"Stream {stream_id} has {stream.status.value}.")
    is_author = user_id == stream.author_id
    if stream.is_gated and not is_author and not stream_store.has_entitlement(user_id, stream_id):
        raise StreamRequiresPayment("This stream is gated; buy access to join.", price=stream.price)
    role = Role.BROADCASTER if is_author else Role.VIEWER
    stream_store.record_admission(stream_id, user_id, role.value, clock.now_ms())
    metrics.add_metric(
        name="ViewerAdmitted" if role is Role.VIEWER else "BroadcasterAdmitted",
        unit=MetricUnit.Count,
        value=1,
    )
    logger.info(
        "participant admitted", extra={"stream_id": stream_id, "user_id": user_id, "role": role.value}
    )
    return StreamWithConnection(stream=StreamView.of(stream), connection=_connect(stream, user_id))


def end_stream(stream_id: str, user_id: str, *, save_as_reel: bool) -> StreamView:
    """End the creator's stream: the table first (never left live), then the room (best effort)."""
    stream = _existing(stream_id)
    if stream.author_id != user_id:
        raise NotStreamOwner("Only the stream's creator can end it.")
    # Two tries: a webhook may move preparing -> live between our read and our conditional write.
    for _ in range(2):
        if not can_transition(stream.status, StreamStatus.ENDED):
            return StreamView.of(stream)
        try:
            stream = stream_store.end_stream(
                stream, ended_at=clock.now_ms(), save_as_reel=save_as_reel, reason="creator_ended"
            )
            break
        except stream_store.StatusChanged:
            stream = _existing(stream_id, consistent=True)
    else:
        return StreamView.of(stream)
    logger.info("stream ended", extra={"stream_id": stream_id, "user_id": user_id})
    metrics.add_metric(name="StreamEnded", unit=MetricUnit.Count, value=1)
    _delete_room_quietly(stream)
    return StreamView.of(stream)


def _existing(stream_id: str, *, consistent: bool = False) -> Stream:
    stream = stream_store.get_stream(stream_id, consistent=consistent)
    if stream is None:
        raise StreamNotFound(f"No stream {stream_id}.")
    return stream


def _active_stream_exists(stream_id: str | None) -> ActiveStreamExists:
    return ActiveStreamExists(
        f"You already have an active stream ({stream_id}); end it before starting another.",
        stream_id=stream_id,
    )


def _connect(stream: Stream, user_id: str) -> Connection:
    role = Role.BROADCASTER if user_id == stream.author_id else Role.VIEWER
    issued = access_tokens.issue_token(stream, user_id, role)
    return Connection(
        url=settings().livekit_url,
        room=stream.room_name,
        token=issued.token,
        role=role,
        expires_at=issued.expires_at,
    )


def _delete_room_quietly(stream: Stream) -> None:
    """Disconnect everyone; if LiveKit is down the stream is already ended and the room times out empty."""
    try:
        rooms.delete_room(stream.room_name)
    except rooms.LiveKitError as error:
        logger.warning("room deletion failed", extra={"stream_id": stream.stream_id, "error": str(error)})
        metrics.add_metric(name="RoomDeleteFailed", unit=MetricUnit.Count, value=1)
