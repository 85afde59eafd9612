"""How a stream follows what LiveKit reports (a webhook or the reconciler), as pure functions.

Each function takes a Snapshot (the stream and the participant and session a report is about, as read) and
returns the Change to commit, or None when the report changes nothing: a duplicate, a late event, or
something we do not track. Viewer counts only move when a session moves between connected and
disconnected, so a duplicate, late or missing event cannot make them drift:

- `viewerCount` is the number of viewers (users, not sessions) with at least one connected session; a user
  reconnecting (a new sid before the old one leaves) stays one viewer. `maxViewers` follows it up,
  `uniqueViewers` counts users whose first session opened.
- `openSessions` and `presenceDigest` (XOR of a hash of every connected sid) summarise the connected
  sessions, so the reconciler can tell from one number pair whether LiveKit agrees without reading them.

Times are epoch ms of the event (LiveKit's clock), so the same events give the same state whenever and
however often they are delivered.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, TypedDict, Unpack

from livekit.protocol.egress import EgressInfo, EgressStatus
from livekit.protocol.models import ParticipantInfo

from reels_live.entities.lifecycle import RecordingStatus, StreamStatus
from reels_live.entities.live import Change, Snapshot
from reels_live.entities.participants import Participant, Session
from reels_live.entities.reels import Reel
from reels_live.entities.streams import Role, Stream

if TYPE_CHECKING:

    class _Parts(TypedDict, total=False):
        """What a Change holds besides the stream (the reel is `_change`'s to add)."""

        participant: Participant | None
        session: Session | None
        release_lock: bool
        reason: str


GO_LIVE = "go_live"

# Later in an egress's life ranks higher; a final status is never undone by an earlier one.
_RECORDING_RANK = {
    RecordingStatus.NONE: 0,
    RecordingStatus.PENDING: 1,
    RecordingStatus.ACTIVE: 2,
    RecordingStatus.ENDING: 3,
    RecordingStatus.COMPLETE: 4,
    RecordingStatus.FAILED: 4,
}


def role_of(info: ParticipantInfo, author_id: str) -> Role | None:
    """Broadcaster, viewer, or None for participants that are never counted: egress, ingress, agents,
    SIP (any kind but a standard client), and hidden or recorder participants."""
    if info.kind != ParticipantInfo.Kind.STANDARD or info.permission.hidden or info.permission.recorder:
        return None
    return Role.BROADCASTER if info.identity == author_id else Role.VIEWER


def toggle_presence(digest: str | None, sid: str) -> str | None:
    """The presence digest with `sid` added or removed (XOR: order-free, its own inverse)."""
    value = int(digest or "0", 16) ^ int.from_bytes(hashlib.sha256(sid.encode()).digest()[:8], "big")
    return f"{value:016x}" if value else None


def presence_of(sids: list[str]) -> str | None:
    digest = None
    for sid in sids:
        digest = toggle_presence(digest, sid)
    return digest


# ---------------------------------------------------------------- sessions


def connected(snap: Snapshot, *, sid: str, user_id: str, role: Role, joined_at: int) -> Change | None:
    """A session connected (participant_joined, or the reconciler found it in the room)."""
    if snap.session is not None:
        return None
    stream = snap.stream
    finished = stream.room_finished_at
    if finished is not None:
        if joined_at >= finished:
            # A session in a room made again after ours finished: not part of this stream.
            return None
        # Reported after the room finished (late delivery): it lasted until the room's end.
        return _recorded(snap, sid=sid, user_id=user_id, role=role, joined_at=joined_at, left_at=finished)
    participant = _participant(snap, user_id, role, joined_at)
    first_session = participant.first_connected_at is None
    already_watching = bool(participant.connected_sids)
    participant = participant.model_copy(
        update={
            "connected_sids": sorted({*participant.connected_sids, sid}),
            "session_count": participant.session_count + 1,
            "first_connected_at": joined_at if first_session else participant.first_connected_at,
        }
    )
    updates: dict[str, object] = {
        "open_sessions": stream.open_sessions + 1,
        "presence_digest": toggle_presence(stream.presence_digest, sid),
    }
    reason = "session_opened"
    if role is Role.VIEWER:
        reason = "viewer_joined"
        if not already_watching:
            updates["viewer_count"] = stream.viewer_count + 1
            updates["max_viewers"] = max(stream.max_viewers, stream.viewer_count + 1)
        if first_session:
            updates["unique_viewers"] = stream.unique_viewers + 1
    stream = stream.model_copy(update=updates)
    if role is Role.BROADCASTER and stream.status is StreamStatus.PREPARING:
        stream, reason = _went_live(stream, joined_at), GO_LIVE
    session = Session(
        stream_id=stream.stream_id, sid=sid, user_id=user_id, role=role, connected=True, joined_at=joined_at
    )
    return _change(stream, participant=participant, session=session, reason=reason)


def disconnected(
    snap: Snapshot,
    *,
    sid: str,
    user_id: str,
    role: Role,
    joined_at: int,
    left_at: int,
    ever_connected: bool = True,
) -> Change | None:
    """A session ended (participant_left, connection_aborted, room end, or gone from the room).

    A left for an older sid never touches a newer session: sessions are per sid. A left whose join was
    never seen records the whole session; an aborted connection that never connected records nothing.
    """
    session = snap.session
    if session is None:
        if not ever_connected:
            return None
        finished = snap.stream.room_finished_at
        if finished is not None:
            if joined_at >= finished:
                return None
            left_at = min(left_at, finished)
        return _recorded(snap, sid=sid, user_id=user_id, role=role, joined_at=joined_at, left_at=left_at)
    if not session.connected:
        return None
    stream = snap.stream
    left_at = max(left_at, session.joined_at)
    duration = left_at - session.joined_at
    session = session.model_copy(update={"connected": False, "left_at": left_at, "duration_ms": duration})
    participant = _participant(snap, user_id, session.role, session.joined_at)
    still_connected = [other for other in participant.connected_sids if other != sid]
    participant = participant.model_copy(
        update={
            "connected_sids": still_connected,
            "duration_ms": (participant.duration_ms or 0) + duration,
            "left_at": max(left_at, participant.left_at or 0),
        }
    )
    updates: dict[str, object] = {
        "open_sessions": max(0, stream.open_sessions - 1),
        "presence_digest": toggle_presence(stream.presence_digest, sid),
    }
    if session.role is Role.VIEWER and not still_connected:
        updates["viewer_count"] = max(0, stream.viewer_count - 1)
    reason = "viewer_left" if session.role is Role.VIEWER else "session_closed"
    return _change(stream.model_copy(update=updates), participant=participant, session=session, reason=reason)


def published(snap: Snapshot, *, sid: str, user_id: str, at: int) -> Change | None:
    """A track was published: the broadcaster's first makes a preparing stream live (their session opens
    here too if its participant_joined never arrived)."""
    stream = snap.stream
    if user_id != stream.author_id or stream.status is not StreamStatus.PREPARING:
        return None
    if snap.session is None and stream.room_finished_at is None:
        return connected(snap, sid=sid, user_id=user_id, role=Role.BROADCASTER, joined_at=at)
    return _change(_went_live(stream, at), reason=GO_LIVE)


# ---------------------------------------------------------------- the room


def room_finished(snap: Snapshot, *, at: int, reason: str = "room_finished") -> Change | None:
    """The room is gone (room_finished, or missing from ListRooms): the stream ends if it had not. Sessions
    still open are closed at `at` one by one afterwards (see tracking.close_open_sessions)."""
    stream = snap.stream
    if stream.room_finished_at is not None:
        return None
    stream = stream.model_copy(update={"room_finished_at": at})
    if not stream.is_active:
        return _change(stream, reason="room_finished")
    return _change(stream.ended(at, reason=reason), release_lock=True, reason="stream_ended")


def ended(snap: Snapshot, *, at: int, reason: str) -> Change | None:
    """End an active stream whose room is still there (its broadcaster never came); the room is deleted next."""
    if not snap.stream.is_active:
        return None
    return _change(snap.stream.ended(at, reason=reason), release_lock=True, reason="stream_ended")


# ---------------------------------------------------------------- recording


@dataclass(frozen=True)
class EgressUpdate:
    """An egress's state as LiveKit reports it (egress_* webhooks, ListEgress)."""

    egress_id: str | None
    status: RecordingStatus
    updated_at: int  # the egress's own clock, ns
    location: str | None = None
    error: str | None = None

    @classmethod
    def of(cls, info: EgressInfo) -> EgressUpdate:
        results = list(info.file_results) or ([info.file] if info.HasField("file") else [])
        location = next((result.location for result in results if result.location), None)
        status = {
            EgressStatus.EGRESS_STARTING: RecordingStatus.PENDING,
            EgressStatus.EGRESS_ACTIVE: RecordingStatus.ACTIVE,
            EgressStatus.EGRESS_ENDING: RecordingStatus.ENDING,
            EgressStatus.EGRESS_COMPLETE: RecordingStatus.COMPLETE,
            # Stopped at a limit, the file up to the limit was still uploaded.
            EgressStatus.EGRESS_LIMIT_REACHED: RecordingStatus.COMPLETE
            if location
            else RecordingStatus.FAILED,
        }.get(info.status, RecordingStatus.FAILED)
        return cls(info.egress_id, status, info.updated_at, location, info.error or None)


def egress(snap: Snapshot, update: EgressUpdate) -> Change | None:
    """Recording status from an egress report, ordered by the egress's `updatedAt` and status rank (a late
    egress_updated never undoes egress_ended). On success the file becomes `recordingUrl`."""
    stream = snap.stream
    if not stream.record:
        return None
    if stream.egress_id and update.egress_id and update.egress_id != stream.egress_id:
        # One recording per stream: the room's auto-egress; anything else is not ours to report.
        return None
    current = (_RECORDING_RANK[stream.recording_status], stream.recording_updated_at or -1)
    if (_RECORDING_RANK[update.status], update.updated_at) <= current:
        return None
    updates = {
        "recording_status": update.status,
        "recording_updated_at": update.updated_at,
        "egress_id": stream.egress_id or update.egress_id,
    }
    if update.status is RecordingStatus.COMPLETE:
        updates["recording_url"] = update.location
    return _change(stream.model_copy(update=updates), reason=f"recording_{update.status.value}")


# ---------------------------------------------------------------- helpers


def _went_live(stream: Stream, at: int) -> Stream:
    # The outbox marker: the go-live message is sent after this commit and the marker cleared then.
    return stream.model_copy(update={"status": StreamStatus.LIVE, "started_at": at, "go_live_pending": True})


def _participant(snap: Snapshot, user_id: str, role: Role, at: int) -> Participant:
    if snap.participant is not None:
        return snap.participant
    # Not admitted through our API (an identity LiveKit let in some other way): tracked all the same.
    return Participant(
        stream_id=snap.stream.stream_id, user_id=user_id, role=role, joined_at=at, last_admitted_at=at
    )


def _recorded(snap: Snapshot, *, sid: str, user_id: str, role: Role, joined_at: int, left_at: int) -> Change:
    """A whole session learnt after the fact: it counts for duration and unique viewers, not for now."""
    stream = snap.stream
    left_at = max(left_at, joined_at)
    participant = _participant(snap, user_id, role, joined_at)
    first_session = participant.first_connected_at is None
    participant = participant.model_copy(
        update={
            "session_count": participant.session_count + 1,
            "first_connected_at": min(joined_at, participant.first_connected_at or joined_at),
            "duration_ms": (participant.duration_ms or 0) + left_at - joined_at,
            "left_at": max(left_at, participant.left_at or 0),
        }
    )
    if role is Role.VIEWER and first_session:
        stream = stream.model_copy(update={"unique_viewers": stream.unique_viewers + 1})
    session = Session(
        stream_id=stream.stream_id,
        sid=sid,
        user_id=user_id,
        role=role,
        connected=False,
        joined_at=joined_at,
        left_at=left_at,
        duration_ms=left_at - joined_at,
    )
    return _change(stream, participant=participant, session=session, reason="session_recorded")


def _change(stream: Stream, **parts: Unpack[_Parts]) -> Change:
    """A change, plus the reel when it completes what a reel needs (exactly once: `reelId` marks it)."""
    change = Change(stream=stream, **parts)
    if (
        stream.status is StreamStatus.ENDED
        and stream.save_as_reel
        and stream.recording_status is RecordingStatus.COMPLETE
        and stream.recording_url
        and stream.reel_id is None
    ):
        reel = Reel(
            reel_id=stream.stream_id,
            source_stream_id=stream.stream_id,
            author_id=stream.author_id,
            title=stream.title,
            description=stream.description,
            tags=stream.tags,
            is_sensitive=stream.is_sensitive,
            is_gated=stream.is_gated,
            price_token=stream.price_token,
            price_amount=stream.price_amount,
            seller_address=stream.seller_address,
            video_url=stream.recording_url,
            duration_ms=stream.duration_ms,
            created_at=stream.ended_at or stream.created_at,
        )
        change = replace(change, stream=stream.model_copy(update={"reel_id": reel.reel_id}), reel=reel)
    return change
