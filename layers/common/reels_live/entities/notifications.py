"""Go-live alerts as stored: inbox items, what an alert says, a stream's announcement, the per-follower marker."""

from dataclasses import dataclass
from enum import StrEnum

from pydantic import ConfigDict, Field

from reels_live.entities.base import CamelModel
from reels_live.entities.people import Device
from reels_live.entities.preferences import NotificationPreferences


class NotificationKind(StrEnum):
    GO_LIVE = "go_live"


class Notification(CamelModel):
    """An in-app inbox item."""

    model_config = ConfigDict(extra="ignore")

    notification_id: str
    kind: NotificationKind
    stream_id: str
    creator_id: str
    creator_name: str | None = None
    title: str
    link: str
    created_at: int
    read_at: int | None = Field(default=None, description="When you marked it read; null while unread")


class GoLiveContent(CamelModel):
    """What a go-live alert says, fixed once per stream by the fan-out."""

    model_config = ConfigDict(extra="ignore")

    stream_id: str
    creator_id: str
    creator_name: str | None = None
    title: str
    link: str
    started_at: int


class Recipient(CamelModel):
    """Everything a chunk needs to know about one follower, read in batches."""

    user_id: str
    display_name: str | None = None
    email: str | None = None
    preferences: NotificationPreferences = Field(default_factory=NotificationPreferences)
    devices: list[Device] = []


class AnnouncementStatus(StrEnum):
    CLAIMED = "claimed"  # a fan-out owns it and has not read the stream yet
    FANNING_OUT = "fanning_out"  # content fixed, followers being paged into chunks from `cursor`
    DONE = "done"
    SKIPPED = "skipped"  # the stream was no longer live after the settle delay


class Announcement(CamelModel):
    """A stream's go-live fan-out: deduplicates go-live messages and checkpoints the paging."""

    model_config = ConfigDict(extra="ignore")

    stream_id: str
    status: AnnouncementStatus
    lease_token: str
    lease_until: int
    content: GoLiveContent | None = None
    cursor: str | None = None
    pages: int = 0
    chunks: int = 0
    recipients: int = 0
    created_at: int


class AlertState(StrEnum):
    """Where one follower's alert about one stream stands (the ALERT# marker, which is also the cooldown)."""

    CLAIMED = "claimed"  # a chunk is delivering to this user
    EMAIL_PENDING = "email_pending"  # in-app and push done, the email not yet
    DELIVERED = "delivered"


class Claim(StrEnum):
    FRESH = "fresh"  # nothing sent yet: every channel
    RESUMED = "resumed"  # an earlier attempt crashed before in-app and push were recorded: every channel
    EMAIL_ONLY = "email_only"  # an earlier attempt recorded in-app and push: the email is what is left
    ALREADY_NOTIFIED = "already_notified"  # this stream reached them (a duplicate or retried chunk)
    IN_PROGRESS = "in_progress"  # another invocation holds this user for this stream
    COOLDOWN = "cooldown"  # alerted about this creator's earlier stream within the cooldown


@dataclass(frozen=True)
class AlertClaim:
    outcome: Claim
    cooldown_until: int

    @property
    def granted(self) -> bool:
        return self.outcome in {Claim.FRESH, Claim.RESUMED, Claim.EMAIL_ONLY}
