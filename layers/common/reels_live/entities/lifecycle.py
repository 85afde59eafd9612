"""The stream state machine as data: statuses, the transitions allowed, and the recording's statuses.

The store enforces every transition with a condition expression on the status it moves from.
"""

from enum import StrEnum


class StreamStatus(StrEnum):
    PREPARING = "preparing"
    LIVE = "live"
    ENDED = "ended"
    ERROR = "error"


ACTIVE_STATUSES = frozenset({StreamStatus.PREPARING, StreamStatus.LIVE})

# The state machine as data: the statuses each status may move to. The store enforces a transition with a
# condition on the status it moves from, so two writers racing cannot both apply one.
TRANSITIONS: dict[StreamStatus, frozenset[StreamStatus]] = {
    StreamStatus.PREPARING: frozenset({StreamStatus.LIVE, StreamStatus.ENDED, StreamStatus.ERROR}),
    StreamStatus.LIVE: frozenset({StreamStatus.ENDED, StreamStatus.ERROR}),
    StreamStatus.ENDED: frozenset(),
    StreamStatus.ERROR: frozenset(),
}


def can_transition(current: StreamStatus, target: StreamStatus) -> bool:
    return target in TRANSITIONS[current]


class RecordingStatus(StrEnum):
    """Where the room-composite recording stands: not requested, waiting for egress, recording, done."""

    NONE = "none"
    PENDING = "pending"
    ACTIVE = "active"
    ENDING = "ending"
    COMPLETE = "complete"
    FAILED = "failed"


FINAL_RECORDING_STATUSES = frozenset({RecordingStatus.COMPLETE, RecordingStatus.FAILED})
