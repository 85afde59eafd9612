"""A stream's recording published to the reels feed (the reels feed is another system; this is its item)."""

from decimal import Decimal

from pydantic import ConfigDict

from reels_live.entities.base import CamelModel


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
