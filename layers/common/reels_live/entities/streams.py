"""The stream as stored (one item), its price, the roles in its room, and how its room is named.

JSON and table attributes use camelCase (the design document's names); Python uses snake_case.
Times are epoch milliseconds and durations milliseconds, everywhere.
"""

from decimal import Decimal
from enum import StrEnum

from pydantic import ConfigDict, Field

from reels_live.entities.base import CamelModel
from reels_live.entities.lifecycle import (
    ACTIVE_STATUSES,
    FINAL_RECORDING_STATUSES,
    RecordingStatus,
    StreamStatus,
)

ROOM_PREFIX = "stream_"


def room_name(stream_id: str) -> str:
    """The LiveKit room of a stream."""
    return f"{ROOM_PREFIX}{stream_id}"


def stream_id_of_room(name: str) -> str | None:
    """The stream a room belongs to, or None for rooms this app did not make."""
    if not name.startswith(ROOM_PREFIX) or len(name) == len(ROOM_PREFIX):
        return None
    return name.removeprefix(ROOM_PREFIX)


class Role(StrEnum):
    BROADCASTER = "broadcaster"
    VIEWER = "viewer"


class Price(CamelModel):
    amount: Decimal = Field(description='Decimal string, e.g. "4.99"')
    token: str
    seller_address: str


class Stream(CamelModel):
    """A live stream as stored (one item) and as the domain sees it."""

    model_config = ConfigDict(extra="ignore")

    stream_id: str
    author_id: str
    title: str
    description: str | None = None
    room_name: str
    status: StreamStatus
    tags: list[str] = []
    is_sensitive: bool = False
    is_gated: bool = False
    price_token: str | None = None
    price_amount: Decimal | None = None
    seller_address: str | None = None
    record: bool = False
    recording_status: RecordingStatus = RecordingStatus.NONE
    recording_url: str | None = None
    save_as_reel: bool = False
    viewer_count: int = 0
    max_viewers: int = 0
    unique_viewers: int = 0
    created_at: int
    started_at: int | None = None
    ended_at: int | None = None
    duration_ms: int | None = None
    end_reason: str | None = None
    # Kept true by LiveKit's webhooks and the reconciler (issue 8); not part of the public view.
    version: int = 0
    room_finished_at: int | None = None
    go_live_pending: bool = False
    open_sessions: int = 0
    presence_digest: str | None = None
    egress_id: str | None = None
    recording_updated_at: int | None = None
    reel_id: str | None = None

    @property
    def price(self) -> Price | None:
        if not self.is_gated or self.price_amount is None:
            return None
        return Price(
            amount=self.price_amount, token=self.price_token or "", seller_address=self.seller_address or ""
        )

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def recording_settled(self) -> bool:
        return not self.record or self.recording_status in FINAL_RECORDING_STATUSES

    @property
    def is_settled(self) -> bool:
        """Ended, and nothing left to learn from LiveKit: the room is gone, every session closed, the
        recording final (and its reel made)."""
        return (
            not self.is_active
            and self.room_finished_at is not None
            and self.open_sessions == 0
            and self.recording_settled
        )

    def ended(self, at: int, *, reason: str, save_as_reel: bool | None = None) -> "Stream":
        """This stream moved to ended at `at` (its duration counted from `startedAt`, 0 if it never went live)."""
        duration = max(0, at - self.started_at) if self.started_at is not None else 0
        return self.model_copy(
            update={
                "status": StreamStatus.ENDED,
                "ended_at": at,
                "duration_ms": duration,
                "end_reason": reason,
                "save_as_reel": self.save_as_reel if save_as_reel is None else save_as_reel,
            }
        )
