"""Entities and the request/response schemas at the API's edge.

JSON and table attributes use camelCase (the design document's names); Python uses snake_case.
Times are epoch milliseconds and durations milliseconds, everywhere.
"""

import re
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic.alias_generators import to_camel


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


class Role(StrEnum):
    BROADCASTER = "broadcaster"
    VIEWER = "viewer"


class CamelModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True)


class RequestModel(CamelModel):
    """Request bodies reject unknown fields, so server-owned fields can never be smuggled in."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_TAG = re.compile(r"^[\w-]{1,30}$")


def _no_control_characters(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


Title = Annotated[
    str, StringConstraints(min_length=1, max_length=100), AfterValidator(_no_control_characters)
]
Description = Annotated[str, StringConstraints(max_length=2000), AfterValidator(_no_control_characters)]
TokenSymbol = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^\S+$")]
WalletAddress = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^\S+$")]
PriceAmount = Annotated[Decimal, Field(gt=0, max_digits=36, decimal_places=18, allow_inf_nan=False)]


def normalise_tags(tags: list[str]) -> list[str]:
    """Trim, drop a leading '#', lowercase and deduplicate (first occurrence wins)."""
    seen: dict[str, None] = {}
    for raw in tags:
        tag = raw.strip().removeprefix("#").lower()
        if not _TAG.match(tag):
            raise ValueError(f"tag {raw!r} must be 1-30 letters, digits, '_' or '-'")
        seen.setdefault(tag, None)
    if len(seen) > 10:
        raise ValueError("at most 10 distinct tags")
    return list(seen)


class CreateStreamRequest(RequestModel):
    """Body of `POST /streams`."""

    title: Title
    description: Description | None = None
    tags: Annotated[list[Annotated[str, StringConstraints(max_length=64)]], Field(max_length=50)] = []
    is_sensitive: StrictBool = False
    is_gated: StrictBool = False
    # validate_default: the gating rule must also run when these are absent.
    price_token: Annotated[TokenSymbol | None, Field(validate_default=True)] = None
    price_amount: Annotated[PriceAmount | None, Field(validate_default=True)] = None
    seller_address: Annotated[WalletAddress | None, Field(validate_default=True)] = None
    record: StrictBool = False

    @field_validator("tags")
    @classmethod
    def _normalise_tags(cls, tags: list[str]) -> list[str]:
        return normalise_tags(tags)

    @field_validator("price_token", "price_amount", "seller_address")
    @classmethod
    def _price_only_when_gated(cls, value: object, info: ValidationInfo) -> object:
        gated = info.data.get("is_gated", False)
        if gated and value is None:
            raise ValueError("is required when isGated is true")
        if not gated and value is not None:
            raise ValueError("must be absent when isGated is false")
        return value


class EndStreamRequest(RequestModel):
    """Body of `POST /streams/{streamId}/end` (the body itself is optional)."""

    save_as_reel: StrictBool = False


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


class Participant(CamelModel):
    """A user admitted to a stream: role, first and last admission (one item per stream and user)."""

    model_config = ConfigDict(extra="ignore")

    stream_id: str
    user_id: str
    role: Role
    joined_at: int
    last_admitted_at: int
    left_at: int | None = None
    duration_ms: int | None = None
    # From LiveKit (issue 8): the sessions (LiveKit sids) connected now, how many there were, when the first
    # connected; `durationMs` adds up every closed session and `leftAt` is when the last one closed.
    connected_sids: list[str] = []
    session_count: int = 0
    first_connected_at: int | None = None
    version: int = 0


class StreamView(CamelModel):
    """A stream as the app shows it."""

    stream_id: str
    author_id: str = Field(description="The creator's user id")
    title: str
    description: str | None
    tags: list[str]
    status: StreamStatus
    is_sensitive: bool = Field(description="The app blurs the stream until the viewer opts in")
    is_gated: bool
    price: Price | None = Field(description="Present when the stream is gated")
    viewer_count: int = Field(description="Viewers connected now")
    max_viewers: int
    unique_viewers: int
    created_at: int
    started_at: int | None
    ended_at: int | None
    duration_ms: int | None
    recording_status: RecordingStatus
    recording_url: str | None

    @classmethod
    def of(cls, stream: Stream) -> "StreamView":
        return cls.model_validate({**stream.model_dump(), "price": stream.price})


class Connection(CamelModel):
    """How a client connects to the stream's LiveKit room."""

    url: str = Field(description="LiveKit URL (wss) for the client SDK")
    room: str
    token: str = Field(description="LiveKit access token (JWT); never log it")
    role: Role
    expires_at: int = Field(description="The token's expiry; connect before it, LiveKit refreshes it after")


class StreamWithConnection(CamelModel):
    stream: StreamView
    connection: Connection


class ErrorDetail(CamelModel):
    field: str | None = None
    message: str


class ErrorBody(CamelModel):
    code: str = Field(description="Stable machine-readable code, e.g. stream_not_found")
    message: str
    field: str | None = Field(default=None, description="The request field at fault, for validation errors")
    errors: list[ErrorDetail] | None = Field(default=None, description="Every validation problem found")
    stream_id: str | None = Field(default=None, description="The conflicting stream (409)")
    price: Price | None = Field(default=None, description="What access costs (402)")
    retry_after_seconds: int | None = None


class ErrorEnvelope(BaseModel):
    error: ErrorBody


# ---------------------------------------------------------------- people, follows and notifications

# User ids come from the identity provider's `sub`; '#' is excluded so an id can never forge a table key.
UserId = Annotated[str, StringConstraints(pattern=r"^[\w.|:@-]{1,128}$")]
DisplayName = Annotated[
    str, StringConstraints(min_length=1, max_length=50), AfterValidator(_no_control_characters)
]
Bio = Annotated[str, StringConstraints(max_length=300), AfterValidator(_no_control_characters)]
ClockTime = Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]


class Profile(CamelModel):
    """A user as stored; `email` is the identity provider's verified address and never leaves its owner."""

    model_config = ConfigDict(extra="ignore")

    user_id: str
    display_name: str | None = None
    bio: str | None = None
    email: str | None = None
    follower_count: int = 0
    following_count: int = 0
    created_at: int
    updated_at: int


class ProfileView(CamelModel):
    """`GET /me`: the caller's own profile."""

    user_id: str
    display_name: str | None
    bio: str | None
    email: str | None = Field(
        description="Your verified sign-in address (only you see it); go-live emails go here"
    )
    follower_count: int
    following_count: int
    created_at: int
    updated_at: int

    @classmethod
    def of(cls, profile: Profile) -> "ProfileView":
        return cls.model_validate(profile.model_dump())


class UpdateProfileRequest(RequestModel):
    """Body of `PUT /me` (a full replacement of the editable fields; the email comes from the sign-in)."""

    display_name: DisplayName
    bio: Bio | None = None


class FollowState(CamelModel):
    """The caller's relation to a user after a follow or unfollow."""

    user_id: str
    following: bool
    follower_count: int


class UserSummary(CamelModel):
    """A person in a followers or following list (never their email)."""

    user_id: str
    display_name: str | None
    followed_at: int


class UserPage(CamelModel):
    items: list[UserSummary]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")


class Platform(StrEnum):
    IOS = "ios"
    IOS_SANDBOX = "ios_sandbox"
    ANDROID = "android"


class RegisterDeviceRequest(RequestModel):
    """Body of `POST /me/devices`: an APNs device token or an FCM registration token."""

    platform: Platform
    token: Annotated[str, StringConstraints(min_length=8, max_length=4096, pattern=r"^[\x21-\x7e]+$")]


class Device(CamelModel):
    """A registered push device as stored (inside the user's DEVICES item)."""

    model_config = ConfigDict(extra="ignore")

    device_id: str
    platform: Platform
    endpoint_arn: str
    token_hash: str
    created_at: int
    updated_at: int


class DeviceView(CamelModel):
    device_id: str = Field(description="Stable for a token: registering the same token again returns it")
    platform: Platform
    created_at: int
    updated_at: int

    @classmethod
    def of(cls, device: Device) -> "DeviceView":
        return cls.model_validate(device.model_dump())


class GoLiveChannels(RequestModel):
    """Where go-live alerts may reach the user."""

    email: StrictBool = True
    push: StrictBool = True
    in_app: StrictBool = True


class QuietHours(RequestModel):
    """Local times (in `timeZone`) between which push is dropped; may span midnight (22:00-07:00)."""

    start: ClockTime = Field(description="HH:MM, 24-hour clock")
    end: ClockTime = Field(description="HH:MM, 24-hour clock; not equal to start")
    time_zone: str = Field(min_length=1, max_length=64, description="IANA time zone, e.g. Europe/Paris")

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo

        try:
            ZoneInfo(value)
        except (ValueError, OSError, KeyError) as error:  # ZoneInfoNotFoundError is a KeyError
            raise ValueError("must be an IANA time zone such as Europe/Paris") from error
        return value

    @field_validator("end")
    @classmethod
    def _not_empty(cls, value: str, info: ValidationInfo) -> str:
        if value == info.data.get("start"):
            raise ValueError("must differ from start")
        return value


class NotificationPreferences(RequestModel):
    """`GET`/`PUT /me/notification-preferences` (PUT replaces the whole document)."""

    go_live: GoLiveChannels = Field(default_factory=GoLiveChannels)
    muted_creator_ids: Annotated[list[UserId], Field(max_length=1000)] = Field(
        default_factory=list, description="Creators whose go-live alerts you never get (any channel)"
    )
    quiet_hours: QuietHours | None = None

    @field_validator("muted_creator_ids")
    @classmethod
    def _distinct(cls, ids: list[str]) -> list[str]:
        return list(dict.fromkeys(ids))


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


class NotificationPage(CamelModel):
    items: list[Notification]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")


# Queue contracts. GoLiveQueue carries {"streamId"} from the webhook side; the chunk queue carries what the
# notification says, so delivering a chunk never re-reads the stream.


class GoLiveMessage(CamelModel):
    model_config = ConfigDict(extra="ignore")

    stream_id: str = Field(min_length=1, max_length=64)


class GoLiveContent(CamelModel):
    """What a go-live alert says, fixed once per stream by the fan-out."""

    model_config = ConfigDict(extra="ignore")

    stream_id: str
    creator_id: str
    creator_name: str | None = None
    title: str
    link: str
    started_at: int


class NotificationChunk(GoLiveContent):
    """One unit of delivery work: the alert and up to NotificationChunkSize recipients."""

    chunk_id: str
    recipient_ids: list[str]


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


class SignIn(BaseModel):
    """What the caller's token says about their email: the address only counts when the provider verified it."""

    verified_email: str | None = None
    # The token carries an address it does not vouch for (changed, pending verification): stop using ours.
    email_unverified: bool = False
    name: str | None = None


# ---------------------------------------------------------------- LiveKit's view of a stream (issue 8)


class Session(CamelModel):
    """One LiveKit connection of a user to a stream's room: its participant `sid`, joined and left times."""

    model_config = ConfigDict(extra="ignore")

    stream_id: str
    sid: str
    user_id: str
    role: Role
    connected: bool
    joined_at: int
    left_at: int | None = None
    duration_ms: int | None = None
    version: int = 0


class Reel(CamelModel):
    """A stream's recording published to the reels feed: one per stream (its id is the stream's id)."""

    model_config = ConfigDict(extra="ignore")

    reel_id: str
    source_stream_id: str
    author_id: str
    title: str
    description: str | None = None
    tags: list[str] = []
    is_sensitive: bool = False
    is_gated: bool = False
    price_token: str | None = None
    price_amount: Decimal | None = None
    seller_address: str | None = None
    video_url: str
    duration_ms: int | None = None
    created_at: int


class StreamPage(CamelModel):
    """One page of streams, newest first."""

    items: list[StreamView]
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` to get the next page; absent on the last page"
    )


class WebhookReceipt(CamelModel):
    """What the webhook did with an event (LiveKit only looks at the status)."""

    outcome: str = Field(
        description="What the event changed: go_live, viewer_joined, duplicate, ignored, ..."
    )
