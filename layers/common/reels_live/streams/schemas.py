"""The stream API's request and response bodies (`/streams...`)."""

from decimal import Decimal
from typing import Annotated

from pydantic import Field, StrictBool, StringConstraints, ValidationInfo, field_validator

from reels_live.entities.base import CamelModel, RequestModel
from reels_live.entities.lifecycle import RecordingStatus, StreamStatus
from reels_live.entities.streams import Price, Role, Stream
from reels_live.entities.text import Description, Title, normalise_tags

TokenSymbol = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^\S+$")]
WalletAddress = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^\S+$")]
PriceAmount = Annotated[Decimal, Field(gt=0, max_digits=36, decimal_places=18, allow_inf_nan=False)]


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


class StreamPage(CamelModel):
    """One page of streams, newest first."""

    items: list[StreamView]
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` to get the next page; absent on the last page"
    )
