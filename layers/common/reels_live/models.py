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
