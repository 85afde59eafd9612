"""Applies what LiveKit reports to the table: read a snapshot, decide (transitions), commit, follow up.

Webhooks and the reconciler both come through here, so a report means the same whoever brings it. A
commit that loses a race with another writer is decided again on a fresh snapshot.
"""

from collections.abc import Callable
from dataclasses import dataclass

from aws_lambda_powertools.metrics import MetricUnit

from reels_live.core import clock
from reels_live.core.config import settings
from reels_live.core.errors import StillContended
from reels_live.core.observability import logger, metrics
from reels_live.entities.live import Change, Snapshot
from reels_live.entities.participants import Session
from reels_live.entities.streams import Stream
from reels_live.live import go_live, transitions
from reels_live.store import live as live_store

ATTEMPTS = 5

Decision = Callable[[Snapshot], Change | None]


@dataclass(frozen=True)
class Applied:
    """What became of a report: the change's reason, or duplicate / unchanged / unknown_stream."""

    outcome: str
    stream: Stream | None


def apply(
    stream_id: str,
    decide: Decision,
    *,
    user_id: str | None = None,
    sid: str | None = None,
    event_id: str | None = None,
    event: str,
) -> Applied:
    """Decide on a fresh snapshot and commit; a webhook's event id is remembered in the same transaction."""
    for _ in range(ATTEMPTS):
        snap = live_store.read(stream_id, user_id=user_id, sid=sid, event_id=event_id)
        if snap is None:
            return Applied("unknown_stream", None)
        if snap.event_applied:
            return Applied("duplicate", snap.stream)
        change = decide(snap)
        if change is None:
            return Applied("unchanged", snap.stream)
        expires_at = clock.now_ms() // 1000 + settings().webhook_event_ttl_seconds
        try:
            live_store.commit(snap, change, event_id=event_id, event=event, expires_at_s=expires_at)
        except live_store.EventAlreadyApplied:
            return Applied("duplicate", snap.stream)
        except live_store.Conflict:
            continue
        logger.info(
            "stream state changed",
            extra={"stream_id": stream_id, "user_id": user_id, "reason": change.reason, "event": event},
        )
        metrics.add_metric(name=_metric_name(change.reason), unit=MetricUnit.Count, value=1)
        return Applied(change.reason, change.stream)
    raise StillContended(f"Stream {stream_id} kept changing under {event}; retry.")


def follow_up(stream: Stream) -> None:
    """Finish what a committed state asks for: send a pending go-live, close sessions a finished room left."""
    if stream.go_live_pending:
        go_live.announce(stream)
    if not stream.is_active and stream.room_finished_at is not None and stream.open_sessions > 0:
        close_open_sessions(stream.stream_id, at=stream.room_finished_at)


def close_open_sessions(stream_id: str, *, at: int) -> int:
    """Close every session still connected at `at` (the room's end); returns how many closed."""
    closed = 0
    for session in live_store.open_sessions(stream_id):
        applied = close_session(stream_id, session, at=at, event="room_end")
        closed += applied.outcome not in ("unchanged", "duplicate", "unknown_stream")
    return closed


def close_session(stream_id: str, session: Session, *, at: int, event: str) -> Applied:
    """Close one session the table has open, as its participant_left at `at` would."""

    def close(snap: Snapshot) -> Change | None:
        return transitions.disconnected(
            snap,
            sid=session.sid,
            user_id=session.user_id,
            role=session.role,
            joined_at=session.joined_at,
            left_at=at,
        )

    return apply(stream_id, close, user_id=session.user_id, sid=session.sid, event=event)


def _metric_name(reason: str) -> str:
    return "".join(part.capitalize() for part in reason.split("_"))
