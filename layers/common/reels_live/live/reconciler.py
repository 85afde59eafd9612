"""The reconciler: once a minute, what the table says about streams is checked against LiveKit.

Webhooks get lost (LiveKit drops them when a room's queue is long or an event is late, and egress events
now and then never come), so every run:

- finds the streams to check by key, never by scan: GSI2's PREPARING, LIVE and SETTLING shards (keys only),
  then reads them 100 to a BatchGetItem;
- asks LiveKit which of their rooms exist (ListRooms, 100 names a call);
- preparing and live streams: a room that is gone ends the stream. A preparing stream whose broadcaster has
  not come within PREPARING_GRACE_SECONDS ends and its room is deleted. Otherwise ListParticipants (one per
  room, a few in flight at once): when the connected sessions it shows differ from the stream's presence
  digest, the sessions are opened and closed to match, which moves the counts (and a broadcaster found there
  makes a preparing stream live);
- ended streams not settled yet: a room still there is deleted; a room gone closes what is still open; a
  recording that is not final is settled from ListEgress (a lost egress_ended still makes its reel), or
  marked failed when LiveKit knows no egress RECORDING_GRACE_SECONDS after the end;
- a go-live message still pending (outbox marker) is sent.

Every change goes through the same transitions and versioned commits as the webhooks, so a webhook arriving
mid-run cannot be undone by it.
"""

import random
from collections.abc import Callable
from dataclasses import asdict, dataclass

from aws_lambda_powertools.metrics import MetricUnit
from livekit.protocol.models import ParticipantInfo

from reels_live.core import clock
from reels_live.core.config import settings
from reels_live.core.observability import logger, metrics
from reels_live.entities.lifecycle import RecordingStatus, StreamStatus
from reels_live.entities.live import Change, Snapshot
from reels_live.entities.streams import Role, Stream
from reels_live.integrations import rooms
from reels_live.live import go_live, tracking, transitions
from reels_live.live.transitions import EgressUpdate
from reels_live.store import keys
from reels_live.store import live as live_store

# Rooms asked about (ListParticipants) between two looks at the time left.
CHUNK = 500
# Kept back at the end of an invocation: what is started is finished, the rest waits a minute.
RESERVE_MS = 10_000


@dataclass
class Report:
    """What one run found and did."""

    checked: int = 0
    ended: int = 0
    went_live: int = 0
    sessions_opened: int = 0
    sessions_closed: int = 0
    recordings_settled: int = 0
    rooms_deleted: int = 0
    announced: int = 0
    livekit_failures: int = 0
    # Left for the next run: the invocation was running out of time.
    deferred: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def reconcile(remaining_ms: Callable[[], int] = lambda: 60_000) -> Report:
    """One run over every stream GSI2 lists as preparing, live or settling, stopping RESERVE_MS before the
    invocation's end (`remaining_ms`, from the Lambda context); what is left waits for the next run."""
    now = clock.now_ms()
    report = Report()
    active_ids = _watched(keys.PREPARING, keys.LIVE)
    settling_ids = _watched(keys.SETTLING)
    streams = live_store.read_streams(active_ids + settling_ids)
    report.checked = len(streams)
    for stream in streams.values():
        if stream.go_live_pending:
            report.announced += go_live.announce(stream)
    try:
        existing = rooms.list_rooms([stream.room_name for stream in streams.values()])
    except rooms.LiveKitError as error:
        # Without a full answer a missing room is not a gone room: judge nothing this run.
        logger.error("reconciler could not list rooms", extra={"error": str(error)})
        metrics.add_metric(name="ReconcilerLiveKitUnavailable", unit=MetricUnit.Count, value=1)
        report.livekit_failures += 1
        return report
    active = [streams[stream_id] for stream_id in active_ids if stream_id in streams]
    settling = [streams[stream_id] for stream_id in settling_ids if stream_id in streams]
    # A run that runs out of time must not always leave the same streams for later.
    random.shuffle(active)
    random.shuffle(settling)
    for start in range(0, len(active), CHUNK):
        if remaining_ms() < RESERVE_MS:
            report.deferred += len(active) - start
            break
        chunk = active[start : start + CHUNK]
        present = [stream.room_name for stream in chunk if stream.room_name in existing]
        participants = rooms.list_participants(present)
        report.livekit_failures += len(present) - len(participants)
        for stream in chunk:
            if stream.room_name not in existing:
                _room_gone(stream, now, report)
            elif stream.room_name in participants:
                _check_active(stream, participants[stream.room_name], now, report)
    for index, stream in enumerate(settling):
        if remaining_ms() < RESERVE_MS:
            report.deferred += len(settling) - index
            break
        _settle(stream, room_exists=stream.room_name in existing, now=now, report=report)
    logger.info("reconciler run", extra=report.as_dict())
    for name, value in report.as_dict().items():
        metrics.add_metric(
            name="Reconciler" + name.title().replace("_", ""), unit=MetricUnit.Count, value=value
        )
    return report


def _watched(*prefixes: str) -> list[str]:
    return [
        stream_id
        for prefix in prefixes
        for shard in range(keys.STATUS_SHARDS)
        for stream_id, _ in live_store.watched_stream_ids(prefix, shard)
    ]


def _room_gone(stream: Stream, now: int, report: Report) -> None:
    applied = tracking.apply(
        stream.stream_id,
        lambda snap: transitions.room_finished(snap, at=now, reason="room_gone"),
        event="reconciler",
    )
    report.ended += applied.outcome == "stream_ended"
    if applied.stream is not None:
        _settle(applied.stream, room_exists=False, now=now, report=report)


def _check_active(
    stream: Stream, participants: list[ParticipantInfo] | None, now: int, report: Report
) -> None:
    if participants is None:
        # Gone between ListRooms and ListParticipants.
        _room_gone(stream, now, report)
        return
    tracked = _tracked(stream, participants)
    broadcaster_here = any(info.identity == stream.author_id for info in tracked.values())
    grace_ms = settings().preparing_grace_seconds * 1000
    if (
        stream.status is StreamStatus.PREPARING
        and not broadcaster_here
        and now - stream.created_at > grace_ms
    ):
        applied = tracking.apply(
            stream.stream_id,
            lambda snap: transitions.ended(snap, at=now, reason="broadcaster_never_came"),
            event="reconciler",
        )
        report.ended += applied.outcome == "stream_ended"
        report.rooms_deleted += _delete_room(stream)
        return
    if (
        transitions.presence_of(list(tracked)) != stream.presence_digest
        or len(tracked) != stream.open_sessions
    ):
        _match_sessions(stream, now, report)


def _match_sessions(stream: Stream, now: int, report: Report) -> None:
    """Open and close sessions until the table's connected sessions are the room's.

    The table is read before LiveKit is asked again, so a session that opens in between is seen in the
    room (and opened, or found open) rather than closed by mistake.
    """
    open_in_table = {session.sid: session for session in live_store.open_sessions(stream.stream_id)}
    answer = rooms.list_participants([stream.room_name])
    fresh = answer.get(stream.room_name)
    if fresh is None:
        # The call failed, or the room went in the meantime: the next run sees which.
        return
    in_room = _tracked(stream, fresh)
    for sid, session in open_in_table.items():
        if sid in in_room:
            continue
        applied = tracking.close_session(stream.stream_id, session, at=now, event="reconciler")
        report.sessions_closed += applied.outcome in ("viewer_left", "session_closed")
    for sid, info in in_room.items():
        if sid in open_in_table:
            continue
        role = transitions.role_of(info, stream.author_id)
        assert role is not None

        def open_(snap: Snapshot, info: ParticipantInfo = info, role: Role = role) -> Change | None:
            joined_at = info.joined_at_ms or info.joined_at * 1000 or now
            return transitions.connected(
                snap, sid=info.sid, user_id=info.identity, role=role, joined_at=joined_at
            )

        applied = tracking.apply(stream.stream_id, open_, user_id=info.identity, sid=sid, event="reconciler")
        report.sessions_opened += applied.outcome in ("viewer_joined", "session_opened", transitions.GO_LIVE)
        report.went_live += applied.outcome == transitions.GO_LIVE
        if applied.stream is not None and applied.stream.go_live_pending:
            report.announced += go_live.announce(applied.stream)


def _settle(stream: Stream, *, room_exists: bool, now: int, report: Report) -> None:
    if stream.room_finished_at is None:
        if room_exists:
            # The stream is over but its room lives on (DeleteRoom failed, or it was made again): delete it;
            # its room_finished, or the next run, settles the rest.
            report.rooms_deleted += _delete_room(stream)
            return
        applied = tracking.apply(
            stream.stream_id, lambda snap: transitions.room_finished(snap, at=now), event="reconciler"
        )
        if applied.stream is None:
            return
        stream = applied.stream
    report.sessions_closed += _close_left_open(stream)
    if not stream.recording_settled:
        report.recordings_settled += _settle_recording(stream, now)


def _settle_recording(stream: Stream, now: int) -> bool:
    try:
        found = rooms.list_egress(stream.room_name)
    except rooms.LiveKitError as error:
        logger.warning("could not list egress", extra={"stream_id": stream.stream_id, "error": str(error)})
        return False
    updates = [EgressUpdate.of(info) for info in found]
    ours = [update for update in updates if stream.egress_id in (None, update.egress_id)]
    if ours:
        update = max(ours, key=lambda update: update.updated_at)
    elif now - (stream.ended_at or now) > settings().recording_grace_seconds * 1000:
        update = EgressUpdate(None, RecordingStatus.FAILED, now * 1_000_000, error="LiveKit knows no egress")
    else:
        return False
    applied = tracking.apply(
        stream.stream_id, lambda snap: transitions.egress(snap, update), event="reconciler"
    )
    return applied.outcome.startswith("recording_")


def _close_left_open(stream: Stream) -> int:
    if stream.is_active or stream.room_finished_at is None or stream.open_sessions == 0:
        return 0
    return tracking.close_open_sessions(stream.stream_id, at=stream.room_finished_at)


def _tracked(stream: Stream, participants: list[ParticipantInfo]) -> dict[str, ParticipantInfo]:
    """The participants we keep sessions for (broadcaster and viewers), by sid."""
    return {
        info.sid: info
        for info in participants
        if info.state != ParticipantInfo.State.DISCONNECTED and transitions.role_of(info, stream.author_id)
    }


def _delete_room(stream: Stream) -> bool:
    try:
        rooms.delete_room(stream.room_name)
    except rooms.LiveKitError as error:
        logger.warning("room deletion failed", extra={"stream_id": stream.stream_id, "error": str(error)})
        return False
    return True
