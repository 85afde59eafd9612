"""The records the pure webhook and reconciler rules decide on: a snapshot of items, and the change to commit."""

from dataclasses import dataclass

from reels_live.entities.participants import Participant, Session
from reels_live.entities.reels import Reel
from reels_live.entities.streams import Stream


@dataclass(frozen=True)
class Snapshot:
    """The items a change is decided on, as read (strongly consistent)."""

    stream: Stream
    participant: Participant | None = None
    session: Session | None = None
    event_applied: bool = False


@dataclass(frozen=True)
class Change:
    """The new state of the items a snapshot holds (None: left alone), plus a reel to create."""

    stream: Stream
    participant: Participant | None = None
    session: Session | None = None
    reel: Reel | None = None
    # The stream left preparing/live: the creator's active-stream lock goes in the same transaction.
    release_lock: bool = False
    # What happened, for logs and metrics (go_live, viewer_joined, ...).
    reason: str = ""
